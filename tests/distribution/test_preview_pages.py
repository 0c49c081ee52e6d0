"""The scope-size preview at `GET /api/v1/offline-profiles/<name>/preview` and on the page."""

from urllib.parse import quote

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.distribution import preview as previews
from portal.setup.hooks import bulk_offline_preview
from tests.distribution.preview_setup import PROFILE, profile, seed_chain, store
from tests.factories import RegisterFactory

URL = f"/api/v1/offline-profiles/{quote(PROFILE)}/preview"


@pytest.fixture
def chain(tax_data):
    """Two stores of one offline profile, and a schedule of every job (see preview_setup)."""
    seed_chain()


def test_api_answers_rows_and_bytes_per_table(client, chain, token_for):
    answer = client.get(f"{URL}?store=HOUSTON", headers=token_for("auditor"))

    assert answer.status_code == 200, answer.text
    body = answer.json
    expected = previews.profile_preview(profile(), store("HOUSTON"))
    assert (body["profile"], body["store"], body["paused"]) == (PROFILE, "HOUSTON", False)
    assert {t["table"]: t["rows"] for t in body["tables"]} == {
        t.table: t.rows for t in expected.tables
    }
    product = next(t for t in body["tables"] if t["table"] == "product")
    assert (product["job"], product["rows"], product["estimate"]) == ("1040", 2, "columns")
    assert body["rows_total"] == expected.rows_total
    assert body["bytes_total"] == sum(t["bytes"] for t in body["tables"]) > 0
    assert body["estimate"] == "columns"


def test_api_store_number_is_read_as_stores_are(client, chain, token_for):
    answer = client.get(f"{URL}?store=houston", headers=token_for("hq"))

    assert answer.status_code == 200 and answer.json["store"] == "HOUSTON"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/api/v1/offline-profiles/Nobody/preview?store=HOUSTON", "Offline profile 'Nobody'"),
        (f"{URL}?store=NOWHERE", "Store 'NOWHERE' does not exist."),
    ],
)
def test_api_unknown_profile_or_store_is_404(client, chain, token_for, url, message):
    answer = client.get(url, headers=token_for("hq"))

    assert answer.status_code == 404
    assert answer.json["error"]["code"] == "not_found"
    assert message in answer.json["error"]["message"]


def test_api_without_store_is_422_naming_it(client, chain, token_for):
    answer = client.get(URL, headers=token_for("hq"))

    assert answer.status_code == 422
    assert answer.json["error"]["code"] == "validation_failed"
    assert "store" in answer.json["error"]["fields"]


def test_api_needs_a_token(client, chain):
    assert client.get(f"{URL}?store=HOUSTON").status_code == 401


def test_page_shows_the_first_store_using_the_profile(client, chain, login):
    login("auditor")

    page = client.get(f"/offline-profiles/{quote(PROFILE)}")

    assert page.status_code == 200
    assert "What an offline database receives" in page.text
    assert "Store <strong>HOUSTON</strong>" in page.text
    assert '<option value="OUTLET">' in page.text
    assert '<td class="mono">product</td><td>1040</td>' in page.text


def test_page_shows_the_chosen_store(client, chain, login):
    login("hq")

    page = client.get(f"/offline-profiles/{quote(PROFILE)}?store=outlet")

    assert "Store <strong>OUTLET</strong>" in page.text
    outlet = previews.profile_preview(profile(), store("OUTLET"))
    assert f"{outlet.rows_total:,} rows" in page.text


def test_page_says_when_the_store_does_not_exist(client, chain, login):
    login("hq")

    page = client.get(f"/offline-profiles/{quote(PROFILE)}?store=NOWHERE")

    assert page.status_code == 200
    assert "Store &#39;NOWHERE&#39; does not exist." in page.text


def test_bulk_confirmation_hook_gives_the_selection_preview(chain):
    ids = [RegisterFactory(register_number=f"H-{n}", store="HOUSTON").id for n in (1, 2)]

    values = bulk_offline_preview.values(ids)

    selection = values["offline_preview"]
    houston = previews.profile_preview(profile(), store("HOUSTON"))
    assert (selection.databases, selection.rows_total) == (2, 2 * houston.rows_total)
    assert selection.summary.startswith("Enabling offline for 2 registers: 2 offline databases,")


def test_api_says_the_rows_are_counted(client, chain, token_for):
    body = client.get(f"{URL}?store=HOUSTON", headers=token_for("auditor")).json

    assert {t["rows_estimate"] for t in body["tables"]} == {"exact"}
    assert body["rows_estimate"] == "exact"


@pytest.fixture
def large_tables(app, monkeypatch):
    """On PostgreSQL, every analyzed table counts as too large to count: rows are estimated."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("The planner's estimates are PostgreSQL's")
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    previews.forget_counts()
    monkeypatch.setattr(previews, "EXACT_UP_TO", 0)


def test_large_scopes_are_the_planners_estimates_said_so(client, chain, large_tables, token_for):
    body = client.get(f"{URL}?store=HOUSTON", headers=token_for("auditor")).json

    product = next(t for t in body["tables"] if t["table"] == "product")
    assert product["rows_estimate"] == "planner" and product["rows"] >= 0
    assert body["rows_estimate"] == "planner"
    # Setup sent whole is small and never estimated.
    register = next(t for t in body["tables"] if t["table"] == "register")
    assert register["rows_estimate"] == "exact"


def test_page_marks_estimated_rows(client, chain, large_tables, login):
    login("hq")
    page = client.get(f"/offline-profiles/{quote(PROFILE)}?store=HOUSTON").text

    assert "≈" in page and "estimated from the database's statistics" in page


def test_a_count_still_current_stays_exact(chain, large_tables, monkeypatch):
    monkeypatch.setattr(previews, "EXACT_UP_TO", float("inf"))
    counted = previews.profile_preview(profile(), store("HOUSTON"))
    db.session.commit()
    monkeypatch.setattr(previews, "EXACT_UP_TO", 0)

    again = previews.profile_preview(profile(), store("HOUSTON"))

    rows = {t.table: (t.rows, t.rows_estimate) for t in again.tables}
    assert rows["product"] == (2, "exact")
    assert {t.table: t.rows for t in counted.tables} == {t.table: t.rows for t in again.tables}
