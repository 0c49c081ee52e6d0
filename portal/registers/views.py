"""HTML pages (being written)."""

from flask import Blueprint

bp = Blueprint("registers", __name__, url_prefix="/registers")


@bp.get("/")
def index():
    """Placeholder."""
    return "registers"
