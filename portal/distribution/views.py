"""Pages of the scheduler job catalogue and of the scheduler's parameters."""

from flask import Blueprint, render_template, url_for

from portal.auth.guards import permission_required
from portal.auth.roles import Permission
from portal.core.web import form_page
from portal.distribution import jobs as catalogue
from portal.distribution import parameters, services
from portal.distribution.catalogue_forms import JobForm, NewJobForm, ParametersForm

bp = Blueprint("distribution", __name__, url_prefix="/scheduler-jobs")


@bp.get("/")
@permission_required(Permission.READ_SETUP)
def jobs():
    """The scheduler jobs: what each distributes, in which direction, and to offline or not."""
    return render_template("distribution/jobs.html", jobs=services.list_jobs())


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SCHEDULES)
def create_job():
    """Make a download job from the distributable tables."""
    form = NewJobForm()
    return form_page(
        form,
        lambda: catalogue.create_job(form.to_data()),
        lambda job: (f"Scheduler job {job.job_number} created.", url_for(".jobs")),
        "distribution/jobs_form.html",
        job=None,
    )


@bp.route("/<job_number>/edit", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SCHEDULES)
def edit_job(job_number: str):
    """Change a job's name, tables and exclusion from offline databases."""
    job = catalogue.get_job(job_number)
    form = JobForm(data=JobForm.initial(job))
    return form_page(
        form,
        lambda: catalogue.update_job(job, form.to_data()),
        lambda job: (f"Scheduler job {job.job_number} saved.", url_for(".jobs")),
        "distribution/jobs_form.html",
        job=job,
    )


@bp.get("/parameters")
@permission_required(Permission.READ_SETUP)
def parameters_page():
    """The scheduler's parameters; those who change schedules may save them."""
    form = ParametersForm.build(parameters.values())
    return render_template(
        "distribution/parameters.html", form=form, parameters=parameters.PARAMETERS
    )


@bp.post("/parameters")
@permission_required(Permission.CHANGE_SCHEDULES)
def save_parameters():
    """Store the parameters; workers take them on their next task."""
    form = ParametersForm.build(parameters.values())
    return form_page(
        form,
        lambda: parameters.update(form.to_data()),
        lambda _: ("Scheduler parameters saved.", url_for(".parameters_page")),
        "distribution/parameters.html",
        parameters=parameters.PARAMETERS,
    )
