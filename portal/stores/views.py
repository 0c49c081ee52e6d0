"""HTML pages (being written)."""

from flask import Blueprint

bp = Blueprint("stores", __name__, url_prefix="/stores")


@bp.get("/")
def index():
    """Placeholder."""
    return "stores"
