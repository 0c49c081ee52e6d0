"""Pages that act on download sessions after the fact: cancel, retry, full data sync.

Each destructive or wide action shows a confirmation first, saying how many sessions or
databases it reaches; the selection travels in the query string (`session`, `database`).
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from kombu.exceptions import OperationalError

from portal.auth.guards import permission_required
from portal.auth.roles import Permission, can
from portal.core.web import attempt
from portal.distribution import lifecycle, runs, sessions, tasks
from portal.setup.channels import services as channels

bp = Blueprint("lifecycle", __name__, url_prefix="/distribution")

# A selection is a page or two of a list; more is not something a person ticks.
MAX_SELECTION = 500


def selected(name: str) -> list[int]:
    """The ids ticked or passed for `name`, from the form or the query string; 400 if bad."""
    values = request.values.getlist(name)
    ids = []
    for value in values:
        if not value.isdigit() or not 0 < int(value) < 2**31:
            abort(400, f"'{name}' must be ids.")
        ids.append(int(value))
    if len(ids) > MAX_SELECTION:
        abort(400, f"Select at most {MAX_SELECTION} at once.")
    return sorted(set(ids))


def back_to(default: str) -> str:
    """The local page to return to: `next` if given, else `default`."""
    target = request.values.get("next") or ""
    if target.startswith("/") and not target.startswith("//"):
        return target
    return default


@bp.route("/sessions/<int:session_id>/cancel", methods=["GET", "POST"])
@permission_required(Permission.RETRY_BUILDS)
def cancel_session(session_id: int):
    """Confirm, then cancel one pending session (and the incrementals built on it)."""
    session = sessions.get_session(session_id)
    back = back_to(url_for("schedules.run_detail", run_id=session.run_id))
    if request.method == "GET":
        return _confirm(
            f"Cancel download session {session.id}?",
            f"Package {session.id} (job {session.job_number}) of {session.channel_database.name} "
            "will not be offered any more, nor the incremental packages built on it; the "
            "database's next package of that job is a full one.",
            "Cancel the session",
            back,
        )
    if attempt(lambda: lifecycle.cancel_session(session)):
        flash(f"Session {session_id} canceled.", "success")
    return redirect(back)


@bp.route("/runs/<int:run_id>/cancel", methods=["GET", "POST"])
@permission_required(Permission.RETRY_BUILDS)
def cancel_run(run_id: int):
    """Confirm, then cancel a run and its sessions not yet applied."""
    run = runs.get_run(run_id)
    back = back_to(url_for("schedules.run_detail", run_id=run.id))
    if request.method == "GET":
        pending = lifecycle.pending_of_run(run.id)
        return _confirm(
            f"Cancel run {run.id}?",
            f"{pending} download session(s) not yet applied will be canceled"
            + (", and the run will not start." if run.status == "waiting" else ".")
            + " Their databases get a full package of those jobs on the next run.",
            "Cancel the run",
            back,
        )
    canceled = []
    if attempt(lambda: canceled.extend(lifecycle.cancel_run(run))):
        flash(f"Run {run_id} canceled: {len(canceled)} session(s).", "success")
    return redirect(back)


@bp.route("/channel-databases/cancel-sessions", methods=["GET", "POST"])
@permission_required(Permission.RETRY_BUILDS)
def cancel_databases():
    """Confirm, then cancel every pending session of the selected databases."""
    ids = selected("database")
    databases = [channels.get_database(database_id) for database_id in ids]
    back = back_to(url_for("core.worklist"))
    if not databases:
        flash("Select at least one channel database.", "warning")
        return redirect(back)
    if request.method == "GET":
        pending = sum(lifecycle.pending_of_database(database.id) for database in databases)
        return _confirm(
            f"Cancel the pending sessions of {len(databases)} database(s)?",
            f"{pending} download session(s) not yet applied will be canceled, for "
            + ", ".join(database.name for database in databases[:20])
            + (" and more" if len(databases) > 20 else "")
            + ". Use it for a register being replaced; each database gets full packages on "
            "the next runs.",
            "Cancel the sessions",
            back,
            database=ids,
        )
    canceled = []

    def cancel_all():
        for database in databases:
            canceled.extend(lifecycle.cancel_database(database.id, database.name))

    if attempt(cancel_all):
        flash(f"{len(canceled)} session(s) canceled.", "success")
    return redirect(back)


@bp.route("/full-sync", methods=["GET", "POST"])
@permission_required(Permission.RUN_DISTRIBUTION)
def full_sync():
    """Confirm with the number of databases, then request a full data sync for each."""
    ids = selected("database")
    back = back_to(url_for("core.worklist"))
    if not ids:
        flash("Select at least one channel database.", "warning")
        return redirect(back)
    targets = sessions.full_sync_targets(ids)
    if request.method == "GET":
        runs_count = sum(len(found) for found in targets.values())
        skipped = len(ids) - len(targets)
        return _confirm(
            f"Request a full data sync for {len(targets)} database(s)?",
            f"This hits {len(targets)} channel database(s): every enabled schedule that reaches "
            f"them builds a full package of its jobs for each ({runs_count} run(s)). "
            + (
                f"{skipped} selected database(s) receive nothing from any schedule and are left "
                "out. "
                if skipped
                else ""
            )
            + "Full packages are large; the other databases are not touched.",
            f"Request full data sync for {len(targets)} database(s)",
            back,
            database=ids,
            danger=False,
        )
    requested = []
    if not attempt(lambda: requested.extend(sessions.request_full_sync(ids))):
        return redirect(back)
    waiting = [run.id for run in requested if not tasks.dispatch_run(run.id)]
    databases = len({run.channel_database_id for run in requested})
    if waiting:
        flash(
            f"Full data sync requested for {databases} database(s) ({len(requested)} run(s)); "
            "the task queue is unreachable, so they start once it is back.",
            "warning",
        )
    else:
        flash(
            f"Full data sync requested for {databases} database(s) ({len(requested)} run(s)).",
            "success",
        )
    return redirect(back)


@bp.post("/sessions/selection")
@permission_required(Permission.READ_SETUP)
def selection():
    """Act on sessions ticked in a list: retry them, or confirm cancelling or a full sync."""
    ids = selected("session")
    action = request.form.get("action")
    back = back_to(url_for("core.worklist"))
    if not ids:
        flash("Select at least one download session.", "warning")
        return redirect(back)
    if action == "full_sync":
        databases = sessions.databases_of(ids)
        return redirect(url_for(".full_sync", database=databases, next=back))
    if action == "cancel":
        return redirect(url_for(".cancel_sessions", session=ids, next=back))
    if action != "retry":
        abort(400, "Choose retry, cancel or full_sync.")
    if not can(current_user.role, Permission.RETRY_BUILDS):
        abort(403)
    retried = []
    if attempt(lambda: retried.append(sessions.retry_selected(ids))):
        to_build, count = retried[0]
        enqueue(to_build, f"{count} session(s) retried")
    return redirect(back)


@bp.route("/sessions/cancel", methods=["GET", "POST"])
@permission_required(Permission.RETRY_BUILDS)
def cancel_sessions():
    """Confirm, then cancel a selection of sessions."""
    ids = selected("session")
    back = back_to(url_for("core.worklist"))
    if not ids:
        flash("Select at least one download session.", "warning")
        return redirect(back)
    if request.method == "GET":
        return _confirm(
            f"Cancel {len(ids)} download session(s)?",
            "The selected sessions not yet applied will not be offered any more, nor the "
            "incremental packages built on them; their databases get a full package of those "
            "jobs on the next run.",
            f"Cancel {len(ids)} session(s)",
            back,
            session=ids,
        )
    canceled = []
    if attempt(lambda: canceled.extend(lifecycle.cancel_selected(ids))):
        flash(f"{len(canceled)} session(s) canceled.", "success")
    return redirect(back)


def enqueue(session_ids: list[int], what: str) -> None:
    """Hand builds to the workers, and say so (or that the queue is down)."""
    if not session_ids:
        flash(f"{what}; the devices are offered their packages again.", "success")
        return
    try:
        tasks.enqueue_builds(session_ids, retry=False)
    except OperationalError:
        flash(
            f"{what}, but the task queue is unreachable: packages are built once it is back.",
            "warning",
        )
    else:
        flash(f"{what}; workers build the packages again.", "success")


def _confirm(title: str, text: str, button: str, back: str, danger: bool = True, **hidden):
    return render_template(
        "distribution/confirm.html",
        title=title,
        text=text,
        button=button,
        back=back,
        hidden=hidden,
        danger=danger,
    )
