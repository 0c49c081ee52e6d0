"""Pages for distribution schedules, their runs and the download sessions the runs build."""

from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy.orm import selectinload

from portal.auth.guards import permission_required
from portal.auth.roles import Permission
from portal.core.errors import DomainError
from portal.core.extensions import db
from portal.core.web import attempt, form_page, id_arg, paginate, submit
from portal.distribution import lifecycle, runs, services, sessions, tasks, upload_requests
from portal.distribution.forms import (
    FullPackageForm,
    NewScheduleForm,
    RunForm,
    ScheduleForm,
    SessionFilterForm,
)
from portal.distribution.labels import run_status_label, session_status_label
from portal.distribution.lifecycle_views import enqueue
from portal.distribution.models import (
    RUN_FINISHED,
    DistributionRun,
    DistributionSchedule,
    DownloadSession,
)
from portal.setup.channels import services as channels
from portal.setup.models import ChannelDatabase

bp = Blueprint("schedules", __name__, url_prefix="/distribution")
bp.add_app_template_global(session_status_label)
bp.add_app_template_global(run_status_label)


@bp.get("/schedules/")
@permission_required(Permission.READ_SETUP)
def index():
    """Schedules by code with their jobs, groups, recurrence and last run."""
    q = request.args.get("q", "").strip()
    stmt = services.schedules_query(q).options(
        selectinload(DistributionSchedule.jobs), selectinload(DistributionSchedule.groups)
    )
    page = paginate(stmt)
    return render_template(
        "distribution/schedules.html", page=page, last_runs=_last_runs(page.items)
    )


@bp.route("/schedules/new", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SCHEDULES)
def create():
    """Create a distribution schedule."""
    form = NewScheduleForm()
    return form_page(
        form,
        lambda: services.create_schedule(form.to_data()),
        lambda schedule: (f"Distribution schedule {schedule.code} created.", _at(schedule)),
        "distribution/schedules_form.html",
        schedule=None,
    )


@bp.get("/schedules/<code>")
@permission_required(Permission.READ_SETUP)
def detail(code: str):
    """A schedule's settings, "Run now", and its run history."""
    schedule = services.get_schedule(code)
    page = paginate(runs.runs_query(schedule_code=schedule.code))
    return render_template(
        "distribution/schedules_detail.html",
        schedule=schedule,
        page=page,
        form=RunForm(),
        next_local=_next_run_on_its_clock(schedule),
    )


@bp.route("/schedules/<code>/edit", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SCHEDULES)
def edit(code: str):
    """Change a schedule's jobs, groups, recurrence and flags; its code stays."""
    schedule = services.get_schedule(code)
    form = ScheduleForm(data=ScheduleForm.initial(schedule))
    return form_page(
        form,
        lambda: services.update_schedule(schedule, form.to_data()),
        lambda schedule: (f"Distribution schedule {schedule.code} saved.", _at(schedule)),
        "distribution/schedules_form.html",
        schedule=schedule,
    )


@bp.route("/schedules/<code>/delete", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SCHEDULES)
def delete(code: str):
    """Confirm, then delete a schedule that has never run."""
    schedule = services.get_schedule(code)
    if request.method == "GET":
        history = runs.runs_query(schedule_code=code).subquery()
        run_count = db.session.scalar(sa.select(sa.func.count()).select_from(history))
        return render_template(
            "distribution/schedules_delete.html", schedule=schedule, run_count=run_count
        )
    if not attempt(lambda: services.delete_schedule(schedule)):
        return redirect(url_for(".detail", code=code))
    flash(f"Distribution schedule {code} deleted.", "success")
    return redirect(url_for(".index"))


@bp.post("/schedules/<code>/run")
@permission_required(Permission.RUN_DISTRIBUTION)
def run_now(code: str):
    """Run a schedule now: record the run, then hand it to the workers."""
    schedule = services.get_schedule(code)
    form = RunForm()
    if not form.validate_on_submit():
        flash("The request could not be accepted; reload the page and try again.", "danger")
        return redirect(url_for(".detail", code=code))
    try:
        run = runs.request_run(schedule, form.full.data)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(url_for(".detail", code=code))
    db.session.commit()
    return _start(run)


@bp.route("/channel-databases/<int:database_id>/full-package", methods=["GET", "POST"])
@permission_required(Permission.RUN_DISTRIBUTION)
def full_package(database_id: int):
    """Force a full package for one channel database through a schedule that reaches it."""
    database = channels.get_database(database_id)
    choices = sessions.schedules_reaching(database)
    form = FullPackageForm()
    form.schedule.choices = [(s.code, f"{s.code} {s.name}") for s in choices]
    run = submit(
        form, lambda: runs.request_run(services.get_schedule(form.schedule.data), True, database.id)
    )
    if run:
        return _start(run)
    return render_template(
        "distribution/runs_full_package.html", form=form, database=database, choices=choices
    )


@bp.get("/runs/<int:run_id>")
@permission_required(Permission.READ_SETUP)
def run_detail(run_id: int):
    """A run: status, live progress, the stores not uploaded yet, its download sessions."""
    run = runs.get_run(run_id)
    filters = SessionFilterForm(request.args)
    page = paginate(_with_links(sessions.sessions_query(run_id=run.id, **filters.filters())))
    return render_template(
        "distribution/runs_detail.html",
        run=run,
        page=page,
        filters=filters,
        percent=runs.progress(run),
        finished=run.status in RUN_FINISHED,
        failed_count=lifecycle.failed_of_run(run.id),
        pending_count=lifecycle.pending_of_run(run.id),
        uploads=upload_requests.run_uploads(run) if upload_requests.has_upload_job(run) else None,
    )


@bp.get("/runs/<int:run_id>/progress")
@permission_required(Permission.READ_SETUP)
def run_progress(run_id: int):
    """A run's progress as JSON, for the run page to follow it live."""
    run = runs.get_run(run_id)
    response = jsonify(
        {
            "id": run.id,
            "status": run.status,
            "status_label": run_status_label(run.status),
            "finished": run.status in RUN_FINISHED,
            "sessions_total": run.sessions_total,
            "sessions_done": run.sessions_done,
            "sessions_failed": run.sessions_failed,
            "sessions_no_data": run.sessions_no_data,
            "rows_written": run.rows_written,
            "percent": runs.progress(run),
            "message": run.message,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/sessions/")
@permission_required(Permission.READ_SETUP)
def sessions_index():
    """Download sessions of every run, newest first, by status, store, job or database."""
    filters = SessionFilterForm(request.args)
    database_id = id_arg("database")
    database = db.session.get(ChannelDatabase, database_id) if database_id else None
    stmt = sessions.sessions_query(
        channel_database_id=database_id,
        run_id=id_arg("run"),
        **filters.filters(),
    )
    return render_template(
        "distribution/sessions.html",
        page=paginate(_with_links(stmt)),
        filters=filters,
        database=database,
    )


@bp.post("/sessions/<int:session_id>/retry")
@permission_required(Permission.RETRY_BUILDS)
def retry(session_id: int):
    """Try a failed or canceled session again: build its package, or offer it again."""
    session = sessions.get_session(session_id)
    back = request.form.get("next") or url_for(".run_detail", run_id=session.run_id)
    if not back.startswith("/") or back.startswith("//"):
        back = url_for(".run_detail", run_id=session.run_id)
    to_build: list[int] = []
    if attempt(lambda: to_build.extend(sessions.retry_session(session))):
        enqueue(to_build, f"Session {session_id} is requested again")
    return redirect(back)


@bp.post("/runs/<int:run_id>/retry")
@permission_required(Permission.RETRY_BUILDS)
def retry_run(run_id: int):
    """Try every failed session of a run again."""
    run = runs.get_run(run_id)
    failed = lifecycle.failed_of_run(run.id)
    to_build: list[int] = []
    if attempt(lambda: to_build.extend(sessions.retry_failed(run))):
        enqueue(to_build, f"{failed} session(s) are requested again")
    return redirect(url_for(".run_detail", run_id=run_id))


def _start(run: DistributionRun):
    """Hand a committed run to the workers and show it."""
    if tasks.dispatch_run(run.id):
        flash(f"Run {run.id} of schedule {run.schedule.code} requested.", "success")
    else:
        flash(
            f"Run {run.id} is waiting: the task queue is unreachable. It starts once it is back.",
            "warning",
        )
    return redirect(url_for(".run_detail", run_id=run.id))


def _next_run_on_its_clock(schedule: DistributionSchedule) -> datetime | None:
    # A cron expression is read in its time zone: its next run is checked there at a glance.
    if schedule.cron and schedule.next_run_at:
        return schedule.next_run_at.astimezone(ZoneInfo(schedule.time_zone))
    return None


def _last_runs(schedules: list[DistributionSchedule]) -> dict[int, DistributionRun]:
    # One query for the whole page instead of one per schedule.
    ids = [schedule.id for schedule in schedules]
    if not ids:
        return {}
    latest = (
        sa.select(sa.func.max(DistributionRun.id))
        .where(DistributionRun.schedule_id.in_(ids))
        .group_by(DistributionRun.schedule_id)
    )
    found = db.session.scalars(sa.select(DistributionRun).where(DistributionRun.id.in_(latest)))
    return {run.schedule_id: run for run in found}


def _with_links(stmt: sa.Select) -> sa.Select:
    """Load what a session row shows in a few queries instead of one per row."""
    return stmt.options(
        selectinload(DownloadSession.channel_database),
        selectinload(DownloadSession.package),
    )


def _at(schedule: DistributionSchedule) -> str:
    return url_for(".detail", code=schedule.code)
