"""Pages of the one-time password links: inviting a user, a forgotten password, choosing one.

They are routes of the `auth` blueprint (endpoints `auth.user_invite`, `auth.password_forgot`,
`auth.password_invite`, `auth.password_reset`).
"""

import smtplib

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user

from portal.audit import services as audit
from portal.auth import password_links, services
from portal.auth.forms import ForgotPasswordForm, InviteForm, SetPasswordForm
from portal.auth.guards import permission_required
from portal.auth.roles import Permission
from portal.auth.views import bp
from portal.core.extensions import db, limiter
from portal.core.mail import mail_configured
from portal.core.security import sign_in_key
from portal.core.web import submit

INVITE_LIMIT = "30 per hour"
RESET_EMAIL_LIMIT = "5 per hour"
RESET_ADDRESS_LIMIT = "20 per hour"
SAME_ANSWER = (
    "If an active account has that address, a link to choose a new password is on its way; "
    "it is valid for 2 hours."
)


@bp.route("/users/invite", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_USERS)
@limiter.limit(
    INVITE_LIMIT,
    key_func=lambda: f"invite|{current_user.get_id()}",
    methods=["POST"],
    error_message="Too many invitations in an hour; wait a while.",
)
def user_invite():
    """Invite a user by email: they choose their own password through a one-time link."""
    form = InviteForm()
    values = form.email.data, form.role.data, form.name.data
    invited = submit(form, lambda: password_links.invite_user(*values))
    if not invited:
        return render_template("auth/invite_form.html", form=form)
    user, link = invited
    mailed = False
    if mail_configured():
        try:
            mailed = password_links.mail_invitation(user, link)
        except (OSError, smtplib.SMTPException) as error:
            current_app.logger.exception("Could not mail the invitation to %s", user.email)
            flash(f"The mail server refused the invitation ({error}).", "warning")
    else:
        password_links.mail_invitation(user, link)  # written to the log
    if mailed:
        flash(f"Invitation mailed to {user.email}; the link is valid for 72 hours.", "success")
        return redirect(url_for("auth.users"))
    response = make_response(render_template("auth/invite_link.html", user=user, link=link))
    # The link lets whoever holds it choose the password: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(
    RESET_EMAIL_LIMIT,
    key_func=lambda: f"reset|{sign_in_key()}",
    methods=["POST"],
    error_message="Too many reset requests for this address; wait an hour.",
)
@limiter.limit(
    RESET_ADDRESS_LIMIT,
    key_func=lambda: f"reset|{get_remote_address()}",
    methods=["POST"],
    error_message="Too many reset requests from your network address; wait an hour.",
)
def password_forgot():
    """Ask for a reset link; the answer is the same whether or not the address has an account."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        audit.set_actor(f"password reset from {get_remote_address()}", "web")
        password_links.mail_reset_link(form.email.data)
        db.session.commit()
        flash(SAME_ANSWER, "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/password_forgot.html", form=form)


@bp.route("/password/invite", methods=["GET", "POST"])
def password_invite():
    """Choose a first password through an invitation link."""
    return _choose_password(password_links.INVITE)


@bp.route("/password/reset", methods=["GET", "POST"])
def password_reset():
    """Choose a new password through a reset link."""
    return _choose_password(password_links.RESET)


def _choose_password(purpose: str):
    token = request.args.get("token", "")
    user = password_links.user_for_link(token, purpose)
    audit.set_actor(user.email, "web")
    form = SetPasswordForm()
    chosen = submit(
        form,
        lambda: password_links.set_password(
            token, purpose, form.password.data, form.confirm.data or ""
        ),
    )
    if chosen:
        flash("Your password is set. Sign in with it.", "success")
        return redirect(url_for("auth.login"))
    page = render_template(
        "auth/password_set.html",
        form=form,
        user=user,
        purpose=purpose,
        min_password=services.MIN_PASSWORD_LENGTH,
    )
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response
