"""HTML pages (being written)."""

from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
def index():
    """Placeholder."""
    return "audit"
