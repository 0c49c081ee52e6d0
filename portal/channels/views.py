"""HTML pages (being written)."""

from flask import Blueprint

bp = Blueprint("channels", __name__)


@bp.get("/channel-databases/")
def databases():
    """Placeholder."""
    return "databases"


@bp.get("/channel-data-groups/")
def groups():
    """Placeholder."""
    return "groups"
