"""Helpers shared by the HTML views: error pages and list pagination."""

from flask import current_app, render_template, request
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
