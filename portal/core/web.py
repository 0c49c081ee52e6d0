"""Helpers shared by the HTML views: error pages and list pagination."""

from flask import current_app, flash, render_template, request
from werkzeug.exceptions import HTTPException


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
