"""Offline profile and scope rules."""

import pytest

from portal.core.errors import Conflict, ValidationFailed
from portal.core.extensions import db
from portal.masterdata.jobs import STANDARD_JOBS
from portal.setup.offline_profiles import services as profiles
from tests.factories import ProfileFactory, RegisterFactory

pytestmark = pytest.mark.usefixtures("app_ctx")


def test_new_profile_gets_default_scopes_mirroring_the_jobs():
    profile = ProfileFactory()
    tax = next(scope for scope in profile.scopes if scope.name == "Sales tax")
    job_1080 = next(job for job in STANDARD_JOBS if job.job_number == "1080")
    assert tax.tables == list(job_1080.tables)
    assert [s.name for s in profile.scopes] == [job.name for job in STANDARD_JOBS]


def test_scopes_are_replaced_in_the_given_order():
    profile = ProfileFactory()
    scopes = [
        {"name": "Sales tax", "direction": "download", "tables": ["tax_code", "tax_rate"]},
        {"name": "Products", "direction": "download", "tables": ["product"]},
    ]
    profiles.update_profile(profile, {"scopes": scopes})
    db.session.commit()
    db.session.expire_all()
    assert [(s.name, s.position, s.tables) for s in profile.scopes] == [
        ("Sales tax", 0, ["tax_code", "tax_rate"]),
        ("Products", 1, ["product"]),
    ]


@pytest.mark.parametrize(
    "scope, field",
    [
        ({"name": "X", "direction": "sideways", "tables": ["product"]}, "scopes.0.direction"),
        ({"name": "X", "direction": "download", "tables": []}, "scopes.0.tables"),
        ({"name": "X", "direction": "download", "tables": ["passwords"]}, "scopes.0.tables"),
        ({"name": "", "direction": "download", "tables": ["product"]}, "scopes.0.name"),
    ],
)
def test_bad_scopes_are_refused(scope, field):
    with pytest.raises(ValidationFailed) as error:
        profiles.create_profile({"name": "P", "scopes": [scope]})
    assert field in error.value.fields


@pytest.mark.parametrize(
    "scope, field, reason",
    [
        (
            {"name": "X", "direction": "bidirectional", "tables": ["currency"]},
            "scopes.0.direction",
            "Download for master data, upload for the sales",
        ),
        (
            {"name": "X", "direction": "upload", "tables": ["sales_transaction", "product"]},
            "scopes.0.tables",
            "A register uploads only its sales",
        ),
        (
            {"name": "X", "direction": "upload", "tables": ["payment_line"]},
            "scopes.0.tables",
            "add sales_transaction",
        ),
        (
            {"name": "X", "direction": "download", "tables": ["product", "sales_line"]},
            "scopes.0.tables",
            "belong in an upload scope",
        ),
    ],
    ids=["both-ways", "uploads-master-data", "lines-without-sales", "downloads-sales"],
)
def test_scopes_no_register_would_follow_are_refused_with_the_reason(scope, field, reason):
    with pytest.raises(ValidationFailed) as error:
        profiles.create_profile({"name": "P", "scopes": [scope]})
    assert reason in error.value.fields[field]


def test_an_upload_scope_of_the_sales_is_kept():
    sales = {"name": "Sales", "direction": "upload", "tables": ["sales_transaction"]}
    profile = profiles.create_profile({"name": "P", "scopes": [sales]})
    assert [(s.direction, s.tables) for s in profile.scopes] == [("upload", ["sales_transaction"])]


@pytest.mark.parametrize(
    "field, value", [("offline_timeout_s", 0), ("reconnect_interval_min", 100000)]
)
def test_settings_out_of_range_are_refused(field, value):
    with pytest.raises(ValidationFailed, match="out of range"):
        profiles.create_profile({"name": "P", field: value})


def test_profile_in_use_cannot_be_deleted():
    register = RegisterFactory()
    with pytest.raises(Conflict, match="used by 0 register"):
        profiles.delete_profile(register.store.offline_profile)
