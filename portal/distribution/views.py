"""HTML page of the scheduler job catalogue (read-only)."""

from flask import Blueprint, render_template

from portal.auth.guards import permission_required
from portal.auth.roles import Permission
from portal.distribution import services

bp = Blueprint("distribution", __name__, url_prefix="/scheduler-jobs")


@bp.get("/")
@permission_required(Permission.READ_SETUP)
def jobs():
    """The scheduler jobs: what each distributes, in which direction, and to offline or not."""
    return render_template("distribution/jobs.html", jobs=services.list_jobs())
