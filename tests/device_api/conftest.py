"""Setup shared by the device API tests: stores with tax data, devices and their tokens."""

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.device_api import credentials
from portal.distribution.models import RUN_WAITING, DistributionRun, DownloadSession
from portal.setup.models import ChannelDatabase
from tests.distribution.conftest import build_run, stores_group, task_queue, tax_data  # noqa: F401

API = "/api/v1/device"


@pytest.fixture(autouse=True)
def _own_queue(task_queue):  # noqa: F811
    """Activations queue runs: onto a broker of the test's own, which no worker reads."""
    return task_queue


def database_named(name: str) -> ChannelDatabase:
    """The channel database with this name."""
    return db.session.scalar(sa.select(ChannelDatabase).filter_by(name=name))


def issue_code(name: str) -> str:
    """A fresh activation code for the named database, committed."""
    _, code = credentials.issue_activation_code(database_named(name))
    db.session.commit()
    return code


def bearer(secret: str) -> dict[str, str]:
    """Authorization headers carrying a device token."""
    return {"Authorization": f"Bearer {secret}"}


def activate(client, name: str, ref=None) -> tuple[dict[str, str], dict]:
    """Activate the named database through the API; its headers and the answer's body."""
    code = issue_code(name)
    response = client.post(
        f"{API}/activate", json={"database": ref or name, "activation_code": code}
    )
    assert response.status_code == 201, response.text
    return bearer(response.json["device_token"]), response.json


def device_of(client, name: str) -> dict[str, str]:
    """Headers of an activated device of the named database, its first full packages built."""
    headers, _ = activate(client, name)
    for run_id in sorted(_waiting_runs(name)):
        build_run(run_id)
    return headers


def _waiting_runs(name: str) -> set[int]:
    database = database_named(name)
    return set(
        db.session.scalars(
            sa.select(DistributionRun.id).where(
                DistributionRun.channel_database_id == database.id,
                DistributionRun.status == RUN_WAITING,
            )
        )
    )


def sessions_of(name: str) -> list[DownloadSession]:
    """The named database's download sessions by id, as committed."""
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(DownloadSession)
            .where(DownloadSession.channel_database_id == database_named(name).id)
            .order_by(DownloadSession.id)
        )
    )


def legacy_no_data_session(after: DownloadSession) -> DownloadSession:
    """A no_data session as runs kept them before they only counted them."""
    session = DownloadSession(
        run_id=after.run_id,
        channel_database_id=after.channel_database_id,
        job_number="1000",
        status="no_data",
        message="Nothing changed for this database.",
    )
    db.session.add(session)
    db.session.commit()
    return session
