"""Helpers shared by the HTML views: error pages, list pagination and committing changes."""

from flask import current_app, flash, render_template, request
from werkzeug.exceptions import HTTPException

from portal.core.errors import DomainError

# `db` is imported inside the functions: portal.extensions imports this module (via core.api).


def render_error(error: HTTPException):
    """An HTML error page in the portal's layout."""
    return render_template("error.html", error=error), error.code


def paginate(stmt):
    """A page of `stmt` for list pages, from the `page` query argument."""
    from portal.extensions import db

    return db.paginate(
        stmt,
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PER_PAGE"],
        error_out=False,
    )


def show_form_error(form, error) -> None:
    """Roll back a refused change and show the service's message on the form's fields."""
    from portal.extensions import db

    db.session.rollback()
    for name, message in error.fields.items():
        field = getattr(form, name.split(".")[0], None)
        if field is not None:
            field.errors = [*field.errors, message]
    flash(error.message, "danger")


def submit(form, change):
    """The committed result of `change` for a valid posted form, or None (refusals on the form)."""
    from portal.extensions import db

    if not form.validate_on_submit():
        return None
    try:
        result = change()
    except DomainError as error:
        show_form_error(form, error)
        return None
    db.session.commit()
    return result


def attempt(change) -> bool:
    """Commit `change`, or roll it back and flash why it was refused; whether it was made."""
    from portal.extensions import db

    try:
        change()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return False
    db.session.commit()
    return True
