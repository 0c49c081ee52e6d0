"""Signing in and out, user administration, and API tokens."""

from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from portal.audit import services as audit
from portal.auth import services
from portal.auth.forms import ConfirmForm, LoginForm, TokenForm, UserCreateForm, UserEditForm
from portal.auth.guards import inject_permissions, permission_required
from portal.auth.models import ApiToken, User
from portal.auth.roles import Permission
from portal.core.extensions import db, limiter, login_manager
from portal.core.security import FAILED_SIGN_IN_LIMIT, sign_in_failed, sign_in_key
from portal.core.web import paginate, submit

bp = Blueprint("auth", __name__)
bp.app_context_processor(inject_permissions)

login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
# Cookies carry the browser's sign-in, not the user's id, so a sign-in can be ended for good.
login_manager.id_attribute = "get_sign_in_id"


@login_manager.user_loader
def load_user(sign_in_id: str):
    """The signed-in user of a browser, while its sign-in lasts."""
    return services.user_for_sign_in(sign_in_id)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    FAILED_SIGN_IN_LIMIT,
    key_func=sign_in_key,
    methods=["POST"],
    deduct_when=sign_in_failed,
    error_message="Too many failed sign-ins for this email; wait 15 minutes and try again.",
)
@limiter.limit(
    lambda: current_app.config["SIGN_IN_ADDRESS_LIMIT"],
    key_func=get_remote_address,
    methods=["POST"],
    deduct_when=sign_in_failed,
    error_message=(
        "Too many failed sign-ins from your network address, whatever the email; "
        "wait a few minutes and try again."
    ),
)
def login():
    """Sign in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            flash("Wrong email or password, or the account is deactivated.", "danger")
        else:
            services.start_sign_in(user)
            db.session.commit()
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout():
    """Sign this browser out; its cookies stop working, copies of them too."""
    if current_user.is_authenticated:
        services.end_sign_in(current_user.sign_in_token)
        db.session.commit()
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link borrow our sign-in page.
    # Browsers read "//host", "/\host" and paths with tabs or newlines as other sites.
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("core.home")


def signed_in(view):
    """Guard a page any signed-in user may use; their changes are recorded under their email."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        audit.set_actor(current_user.email, "web")
        return view(*args, **kwargs)

    return wrapper


@bp.get("/account/")
@signed_in
def account():
    """The signed-in user's own account: who they are, and signing out everywhere."""
    me = _me()
    return render_template("auth/account.html", user=me, sign_ins=services.sign_in_count(me))


@bp.route("/account/sign-out-everywhere", methods=["GET", "POST"])
@signed_in
def account_sign_out_everywhere():
    """Sign the signed-in user out of every browser, this one too, after a confirmation."""
    return _sign_out_everywhere(_me(), url_for("auth.account"))


@bp.get("/users/")
@permission_required(Permission.MANAGE_USERS)
def users():
    """Every user with role, status and last sign-in; searchable."""
    page = paginate(services.users_query(request.args.get("q")))
    return render_template("auth/users.html", page=page)


@bp.route("/users/new", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_USERS)
def user_new():
    """Create a user with a role and a first password."""
    form = UserCreateForm()
    values = form.email.data, form.role.data, form.password.data, form.name.data
    if user := submit(form, lambda: services.create_user(*values)):
        flash(f"User {user.email} created.", "success")
        return redirect(url_for("auth.users"))
    return _user_page(form, None)


@bp.route("/users/<int:user_id>/", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_USERS)
def user_edit(user_id: int):
    """Change a user's name, role, active flag or password, and see their API tokens."""
    user = services.get_user_by_id(user_id)
    form = UserEditForm(obj=user)
    data = {"name": form.name.data, "role": form.role.data, "active": form.active.data}
    if form.password.data:
        data["password"] = form.password.data
    if submit(form, lambda: services.update_user(user, data, acting=_me())):
        flash(f"User {user.email} saved.", "success")
        return redirect(url_for("auth.users"))
    return _user_page(form, user)


@bp.route("/users/<int:user_id>/sign-out-everywhere", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_USERS)
def user_sign_out_everywhere(user_id: int):
    """Sign a user out of every browser, after a confirmation."""
    user = services.get_user_by_id(user_id)
    return _sign_out_everywhere(user, url_for("auth.user_edit", user_id=user_id))


@bp.route("/users/<int:user_id>/tokens/<int:token_id>/revoke", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_USERS)
def user_token_revoke(user_id: int, token_id: int):
    """Revoke one of a user's API tokens, after a confirmation."""
    token = services.get_token(token_id, owner=services.get_user_by_id(user_id))
    return _revoke(token, url_for("auth.user_edit", user_id=user_id))


@bp.get("/tokens/")
@signed_in
def tokens():
    """The signed-in user's API tokens."""
    return render_template("auth/tokens.html", tokens=services.tokens_of(_me()))


@bp.route("/tokens/new", methods=["GET", "POST"])
@signed_in
def token_new():
    """Issue an API token; its secret is shown on the answer to this request only."""
    form = TokenForm()
    if created := submit(form, lambda: services.create_token(_me(), form.name.data)):
        token, secret = created
        page = render_template("auth/token_created.html", token=token, secret=secret)
        response = make_response(page)
        # The secret must not survive in a browser or proxy cache.
        response.headers["Cache-Control"] = "no-store"
        return response
    return render_template("auth/token_form.html", form=form)


@bp.route("/tokens/<int:token_id>/revoke", methods=["GET", "POST"])
@signed_in
def token_revoke(token_id: int):
    """Revoke one of the signed-in user's API tokens, after a confirmation."""
    return _revoke(services.get_token(token_id, owner=_me()), url_for("auth.tokens"))


def _user_page(form, user):
    tokens = services.tokens_of(user) if user else []
    return render_template(
        "auth/user_form.html",
        form=form,
        user=user,
        tokens=tokens,
        sign_ins=services.sign_in_count(user) if user else 0,
        min_password=services.MIN_PASSWORD_LENGTH,
    )


def _sign_out_everywhere(user: User, back: str):
    form = ConfirmForm()
    if form.validate_on_submit():
        services.sign_out_everywhere(user)
        db.session.commit()
        if user.id == current_user.id:
            logout_user()
            flash("You are signed out everywhere, in this browser too.", "info")
            return redirect(url_for("auth.login"))
        flash(f"{user.email} is signed out everywhere.", "success")
        return redirect(back)
    sign_ins = services.sign_in_count(user)
    page = "auth/sign_out_everywhere.html"
    return render_template(page, user=user, sign_ins=sign_ins, form=form, back=back)


def _revoke(token: ApiToken, back: str):
    form = ConfirmForm()
    if form.validate_on_submit():
        services.revoke_token(token)
        db.session.commit()
        flash(f"Token {token.name} ({token.prefix}…) is revoked.", "success")
        return redirect(back)
    return render_template("auth/token_revoke.html", token=token, form=form, back=back)


def _me():
    # The user row itself, not Flask-Login's proxy, so the ORM can relate objects to it.
    return services.get_user_by_id(current_user.id)
