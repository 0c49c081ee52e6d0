"""Every master data field that names another row by code takes only codes of live rows, on the
page, through the API and in a CSV import, and the refusal says what to choose from."""

import csv
import html
import io

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.masterdata.entities import ENTITIES, Field, Reference

pytestmark = pytest.mark.usefixtures("app_ctx")

REFERENCES = [
    pytest.param(entity, reference, id=f"{entity.name}.{reference.field}")
    for entity in ENTITIES.values()
    for reference in entity.references
]
# Short enough for every field that names a row (currency codes have three letters).
MISSING = "ZZZ"
# Values for the fields whose format is checked, so only the reference can be wrong.
SAMPLES = {"country": "US", "email": "a@example.com", "code": "ABC"}


def sample(field: Field) -> str:
    """A valid text value of a field, as a form or CSV cell holds it."""
    if field.name in SAMPLES:
        return SAMPLES[field.name]
    return {"int": "1", "decimal": "1", "date": "2026-01-01", "bool": "false", "object": "{}"}.get(
        field.kind, "K1"
    )


def row_naming_nothing(entity, reference: Reference) -> dict[str, str]:
    """A row whose every field is valid, but whose reference names nothing."""
    values = {field.name: sample(field) for field in entity.fields}
    values[reference.field] = MISSING
    return values


def nothing_saved(entity) -> bool:
    return db.session.scalar(sa.select(sa.func.count()).select_from(entity.model)) == 0


def test_every_field_naming_another_table_is_declared():
    # Fields ending like the tables they name; a new one must get its reference (or be added
    # here on purpose).
    named = {
        (entity.name, field.name)
        for entity in ENTITIES.values()
        for field in entity.fields
        if field.name.endswith(("_number", "_code", "_group", "_profile", "currency", "tax_codes"))
        or field.name in {"category", "unit", "staff_id"}
    }
    declared = {(e.name, r.field) for e in ENTITIES.values() for r in e.references}
    own_keys = {(e.name, name) for e in ENTITIES.values() for name in e.key if len(e.key) == 1}
    not_references = {("customer_address", "postal_code")}
    assert named - declared - own_keys - not_references == set()


@pytest.mark.parametrize(("entity", "reference"), REFERENCES)
def test_the_api_refuses_a_row_naming_nothing(client, token_for, entity, reference):
    row = row_naming_nothing(entity, reference)

    response = client.post(
        f"/api/v1/masterdata/{entity.name}", json={"rows": [row]}, headers=token_for("hq")
    )

    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert fields[f"rows.0.{reference.field}"] == reference.message(MISSING)
    assert nothing_saved(entity)


@pytest.mark.parametrize(("entity", "reference"), REFERENCES)
def test_the_page_refuses_a_row_naming_nothing(client, login, entity, reference):
    login("hq")

    response = client.post(
        f"/masterdata/{entity.name}/new", data=row_naming_nothing(entity, reference)
    )

    assert response.status_code == 200
    assert reference.message(MISSING) in html.unescape(response.get_data(as_text=True))
    assert nothing_saved(entity)


@pytest.mark.parametrize(("entity", "reference"), REFERENCES)
def test_a_csv_import_refuses_a_row_naming_nothing(client, login, entity, reference):
    row = row_naming_nothing(entity, reference)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(row)
    writer.writerow(row.values())
    login("hq")

    response = client.post(
        f"/masterdata/{entity.name}/import",
        data={"file": (io.BytesIO(text.getvalue().encode()), "rows.csv")},
        content_type="multipart/form-data",
    )

    page = html.unescape(response.get_data(as_text=True))
    assert "Nothing was imported" in page
    assert f"line 2.{reference.field}" in page
    assert reference.message(MISSING) in page
    assert nothing_saved(entity)
