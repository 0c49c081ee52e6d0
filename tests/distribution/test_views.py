"""The read-only page of the scheduler job catalogue."""

import re

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.distribution import services as distribution
from portal.distribution.models import SchedulerJob
from portal.masterdata.jobs import JOB_CATALOGUE

pytestmark = pytest.mark.usefixtures("app_ctx")


def test_empty_catalogue_says_how_to_load_the_standard_jobs(client, login):
    login("hq")
    page = client.get("/scheduler-jobs/").text
    assert "flask --app app portal seed-demo" in page
    assert "<table" not in page


@pytest.mark.parametrize("role", ["admin", "hq", "scheduler", "auditor"])
def test_every_role_reads_the_job_catalogue(client, login, role):
    distribution.ensure_standard_jobs()
    db.session.commit()
    login(role)

    page = client.get("/scheduler-jobs/").text

    numbers = re.findall(r'<td class="mono">([^<]+)</td>', page)
    assert numbers == sorted(job.job_number for job in JOB_CATALOGUE)
    row = next(row for row in page.split("<tr>") if ">1080<" in row)
    assert "Sales tax" in row and "Download" in row
    assert all(f">{table}<" in row for table in ("tax_code", "tax_rate", "item_tax_group"))
    assert "seed-demo" not in page


def test_jobs_excluded_from_offline_are_marked(client, login):
    distribution.ensure_standard_jobs()
    job = db.session.scalar(sa.select(SchedulerJob).filter_by(job_number="1010"))
    job.exclude_from_offline = True
    db.session.commit()
    login("auditor")

    page = client.get("/scheduler-jobs/").text

    rows = {
        number: row
        for row in page.split("<tr>")
        for number in ("1010", "1020")
        if f">{number}<" in row
    }
    assert ">Yes</span>" in rows["1010"]
    assert ">Yes</span>" not in rows["1020"] and "<td>No</td>" in rows["1020"]


def test_job_catalogue_needs_sign_in(client):
    response = client.get("/scheduler-jobs/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
