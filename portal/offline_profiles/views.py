"""HTML pages (being written)."""

from flask import Blueprint

bp = Blueprint("offline_profiles", __name__, url_prefix="/offline-profiles")


@bp.get("/")
def index():
    """Placeholder."""
    return "offline_profiles"
