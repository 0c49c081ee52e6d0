"""Requests are held to the OpenAPI document: a body it calls required is required, an optional
one is not, and a query parameter an operation does not define is refused."""

import sqlalchemy as sa

from portal.core.extensions import db
from portal.distribution import services as distribution
from portal.distribution.models import DistributionRun
from portal.setup.models import Register
from tests.factories import RegisterFactory


def test_a_patch_without_a_body_is_refused_and_changes_nothing(app, client, token_for):
    with app.app_context():
        number = RegisterFactory(support_offline=False).register_number
        db.session.commit()
    headers = token_for("hq")

    missing = client.patch(f"/api/v1/registers/{number}", headers=headers)
    empty = client.patch(f"/api/v1/registers/{number}", json={}, headers=headers)

    assert missing.status_code == 422, missing.text
    assert missing.json["error"] == {
        "code": "validation_failed",
        "message": "A JSON body is required.",
        "fields": {"json": "A JSON body is required."},
    }
    # An empty object is a body: it changes nothing, as the document's partial schema says.
    assert empty.status_code == 200 and empty.json["register_number"] == number
    with app.app_context():
        register = db.session.scalar(sa.select(Register).filter_by(register_number=number))
        assert register is not None and not register.support_offline


def test_a_post_without_its_required_body_is_refused(client, token_for):
    response = client.post("/api/v1/channel-data-groups", headers=token_for("hq"))

    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"json": "A JSON body is required."}


def test_a_run_without_a_body_is_an_incremental_run_for_every_target(app, client, token_for):
    with app.app_context():
        group = RegisterFactory().store.channel_data_group.name
        distribution.ensure_standard_jobs()
        distribution.create_schedule({"code": "TAX", "jobs": ["1080"], "groups": [group]})
        db.session.commit()

    response = client.post(
        "/api/v1/distribution-schedules/TAX/runs", headers=token_for("scheduler")
    )

    assert response.status_code == 202, response.text
    with app.app_context():
        run = db.session.scalar(sa.select(DistributionRun))
        assert run.id == response.json["id"] and not run.full_sync


def test_a_query_parameter_the_list_does_not_take_is_refused_by_name(app, client, token_for):
    with app.app_context():
        RegisterFactory()
        db.session.commit()
    headers = token_for("auditor")

    misspelt = client.get("/api/v1/registers?stor=HOUSTON&limit=5", headers=headers)
    listed = client.get("/api/v1/registers?limit=5", headers=headers)

    assert misspelt.status_code == 422
    assert misspelt.json["error"]["fields"] == {"stor": "Unknown field."}
    assert listed.status_code == 200 and len(listed.json["items"]) == 1


def test_a_boolean_takes_true_or_false_not_a_number_or_a_word(app, client, token_for):
    with app.app_context():
        number = RegisterFactory(support_offline=False).register_number
        db.session.commit()
    headers = token_for("hq")

    refused = [
        client.patch(
            f"/api/v1/registers/{number}", json={"support_offline": value}, headers=headers
        )
        for value in (1, 1.0, "true", "yes")
    ]

    for response in refused:
        assert response.status_code == 422, response.text
        assert response.json["error"]["fields"] == {"support_offline": "Not a valid boolean."}
    with app.app_context():
        register = db.session.scalar(sa.select(Register).filter_by(register_number=number))
        assert not register.support_offline and register.offline_database is None
