"""HTML pages (being written)."""

from flask import Blueprint

bp = Blueprint("distribution", __name__, url_prefix="/scheduler-jobs")


@bp.get("/")
def jobs():
    """Placeholder."""
    return "distribution"
