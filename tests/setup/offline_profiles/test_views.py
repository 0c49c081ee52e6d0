"""The HTML pages of offline profiles and the offline scope editor."""

import re

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.masterdata.jobs import STANDARD_JOBS
from portal.setup.models import OfflineProfile
from tests.factories import ProfileFactory, RegisterFactory, StoreFactory

pytestmark = pytest.mark.usefixtures("app_ctx")

TAX = {"name": "Sales tax", "direction": "download", "tables": ["tax_code", "tax_rate"]}
PRODUCTS = {"name": "Products", "direction": "download", "tables": ["product"]}
SALES = {"name": "Sales", "direction": "upload", "tables": ["sales_transaction"]}


def profile_named(name: str) -> OfflineProfile | None:
    """The profile as the database holds it now, past this session's cache."""
    db.session.expire_all()
    return db.session.scalar(sa.select(OfflineProfile).filter_by(name=name))


def stored_scopes(name: str) -> list[tuple[str, str, list[str]]]:
    """A profile's stored scopes in order, as (name, direction, tables)."""
    return [(s.name, s.direction, s.tables) for s in profile_named(name).scopes]


def scope_form(rows: list[dict], action: str = "save") -> dict:
    """The scope editor's form data for these rows and the pressed button."""
    data = {"action": action}
    for index, row in enumerate(rows):
        data[f"scopes-{index}-name"] = row["name"]
        data[f"scopes-{index}-direction"] = row["direction"]
        data[f"scopes-{index}-tables"] = row["tables"]
    return data


def editor_rows(page: str) -> list[tuple[str, list[str]]]:
    """The scope names and checked tables the editor shows, in order."""
    rows = []
    for index, name in re.findall(r'id="scopes-(\d+)-name"[^>]*value="([^"]*)"', page):
        box = (
            rf'id="scopes-{index}-tables-(\w+)"\s+name="scopes-{index}-tables" value="\w+" checked'
        )
        rows.append((name, re.findall(box, page)))
    return rows


SETTINGS = {
    "name": "Standard offline",
    "offline_timeout_s": "15",
    "reconnect_interval_min": "10",
    "health_check_interval_min": "3",
    "pause_sync": "y",
    "advanced_offline_switching": "y",
}


def test_profile_list_counts_stores_and_registers(client, login):
    profile = ProfileFactory(name="Standard offline")
    store = StoreFactory(offline_profile=profile.name)
    StoreFactory(offline_profile=profile.name)
    RegisterFactory(store=store.store_number, offline_profile=profile.name)
    ProfileFactory(name="Paused")
    login("auditor")

    page = client.get("/offline-profiles/").text
    row = next(row for row in page.split("<tr>") if "Standard offline</a>" in row)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td.*?</td>", row)]

    assert cells == ["Standard offline", "20", "5", "Running", str(len(STANDARD_JOBS)), "2", "1"]
    searched = client.get("/offline-profiles/?q=paus").text
    assert "Paused</a>" in searched and "Standard offline</a>" not in searched


def test_profile_page_shows_settings_scopes_and_use(client, login):
    profile = ProfileFactory(name="Standard offline", pause_sync=True, scopes=[TAX, PRODUCTS])
    store = StoreFactory(offline_profile=profile.name)
    RegisterFactory(store=store.store_number, support_offline=True)
    login("scheduler")

    page = client.get("/offline-profiles/Standard offline").text

    assert "20 seconds" in page and "5 minutes" in page
    assert "Offline synchronization is paused" in page
    assert page.index(">Sales tax<") < page.index(">Products<")
    assert ">tax_rate<" in page
    uses = re.search(r"follow it \(own or through their store\)</dt>\s*<dd[^>]*>(\d+)", page)
    assert uses.group(1) == "1"
    assert "Edit scopes" not in page


def test_create_profile_gets_the_default_scopes(client, login):
    login("hq")
    form = client.get("/offline-profiles/new").text
    assert 'name="offline_timeout_s" type="number" value="30"' in form
    assert "switches to its offline database and continues the sale" in form

    response = client.post("/offline-profiles/new", data=SETTINGS)

    assert response.headers["Location"] == "/offline-profiles/Standard%20offline"
    profile = profile_named("Standard offline")
    assert (profile.offline_timeout_s, profile.reconnect_interval_min) == (15, 10)
    assert profile.pause_sync and profile.advanced_offline_switching
    assert not profile.allow_manual_switch_before_sign_in
    assert [s.name for s in profile.scopes] == [job.name for job in STANDARD_JOBS]


def test_create_profile_with_a_setting_out_of_range_saves_nothing(client, login):
    login("hq")
    response = client.post("/offline-profiles/new", data={**SETTINGS, "offline_timeout_s": "0"})
    assert response.status_code == 200
    assert "Offline timeout (seconds) is out of range." in response.text
    assert "Between 1 and 600." in response.text
    assert profile_named("Standard offline") is None


def test_create_profile_with_a_taken_name_is_refused(client, login):
    ProfileFactory(name="Standard offline")
    login("hq")
    response = client.post("/offline-profiles/new", data=SETTINGS)
    assert "already exists" in response.text
    assert db.session.scalar(sa.select(sa.func.count(OfflineProfile.id))) == 1


def test_edit_profile_settings_keeps_its_scopes(client, login):
    ProfileFactory(name="Old", scopes=[TAX])
    login("admin")
    assert 'value="20"' in client.get("/offline-profiles/Old/edit").text

    response = client.post("/offline-profiles/Old/edit", data=SETTINGS)

    assert response.headers["Location"] == "/offline-profiles/Standard%20offline"
    assert profile_named("Old") is None
    profile = profile_named("Standard offline")
    assert (profile.offline_timeout_s, profile.health_check_interval_min) == (15, 3)
    assert stored_scopes("Standard offline") == [("Sales tax", "download", TAX["tables"])]


def test_the_auditors_thresholds_are_set_and_shown_on_the_profile(client, login):
    ProfileFactory(name="Standard offline")
    login("hq")
    thresholds = {"max_offline_minutes": "240", "max_offline_total": "500.50"}

    response = client.post("/offline-profiles/Standard offline/edit", data=SETTINGS | thresholds)

    assert response.status_code == 302
    profile = profile_named("Standard offline")
    assert (profile.max_offline_minutes, str(profile.max_offline_total)) == (240, "500.5000")
    page = client.get("/offline-profiles/Standard offline").text
    assert "240 minutes" in page and "500.50" in page
    refused = client.post(
        "/offline-profiles/Standard offline/edit", data=SETTINGS | {"max_offline_minutes": "0"}
    )
    assert refused.status_code == 200
    assert "Max offline minutes is out of range." in refused.text
    assert profile_named("Standard offline").max_offline_minutes == 240


def test_edit_profile_with_an_empty_setting_saves_nothing(client, login):
    ProfileFactory(name="Standard offline")
    login("hq")
    response = client.post(
        "/offline-profiles/Standard offline/edit", data={**SETTINGS, "reconnect_interval_min": ""}
    )
    assert "must be a whole number" in response.text
    profile = profile_named("Standard offline")
    assert (profile.offline_timeout_s, profile.pause_sync) == (20, False)


def test_delete_profile_after_confirmation(client, login):
    ProfileFactory(name="Unused")
    login("hq")
    assert (
        "Delete offline profile &#39;Unused&#39;?"
        in client.get("/offline-profiles/Unused/delete").text
    )
    assert profile_named("Unused") is not None

    response = client.post("/offline-profiles/Unused/delete")

    assert response.headers["Location"] == "/offline-profiles/"
    assert profile_named("Unused") is None


def test_delete_of_a_profile_in_use_is_refused(client, login):
    StoreFactory(offline_profile=ProfileFactory(name="Standard offline").name)
    login("hq")
    response = client.post("/offline-profiles/Standard offline/delete")
    assert "is used by 0 register(s) and 1 store(s)" in response.text
    assert profile_named("Standard offline") is not None


def test_scope_editor_shows_the_scopes_in_order(client, login):
    ProfileFactory(name="P", scopes=[TAX, PRODUCTS])
    login("hq")
    page = client.get("/offline-profiles/P/scopes").text
    assert editor_rows(page) == [("Sales tax", ["tax_code", "tax_rate"]), ("Products", ["product"])]
    assert "Job 1080 Sales tax" in page
    assert '<option selected value="download">Download</option>' in page


def test_scopes_are_reordered_and_saved(client, login):
    ProfileFactory(name="P", scopes=[TAX, PRODUCTS, SALES])
    login("hq")

    moved = client.post(
        "/offline-profiles/P/scopes", data=scope_form([TAX, PRODUCTS, SALES], "up-2")
    )
    assert [name for name, _ in editor_rows(moved.text)] == ["Sales tax", "Sales", "Products"]
    assert "not saved yet" in moved.text
    assert [s[0] for s in stored_scopes("P")] == ["Sales tax", "Products", "Sales"]

    moved = client.post(
        "/offline-profiles/P/scopes", data=scope_form([TAX, SALES, PRODUCTS], "down-0")
    )
    assert [name for name, _ in editor_rows(moved.text)] == ["Sales", "Sales tax", "Products"]

    saved = client.post("/offline-profiles/P/scopes", data=scope_form([SALES, TAX, PRODUCTS]))
    assert saved.headers["Location"] == "/offline-profiles/P"
    assert stored_scopes("P") == [
        ("Sales", "upload", ["sales_transaction"]),
        ("Sales tax", "download", ["tax_code", "tax_rate"]),
        ("Products", "download", ["product"]),
    ]


def test_moves_past_either_end_change_nothing(client, login):
    ProfileFactory(name="P", scopes=[TAX, PRODUCTS])
    login("hq")
    for action in ("up-0", "down-1", "remove-7", "sideways-0"):
        page = client.post("/offline-profiles/P/scopes", data=scope_form([TAX, PRODUCTS], action))
        assert [name for name, _ in editor_rows(page.text)] == ["Sales tax", "Products"]


def test_scope_is_added_then_saved(client, login):
    ProfileFactory(name="P", scopes=[TAX])
    login("hq")

    added = client.post("/offline-profiles/P/scopes", data=scope_form([TAX], "add"))
    assert editor_rows(added.text) == [("Sales tax", ["tax_code", "tax_rate"]), ("", [])]
    assert stored_scopes("P") == [("Sales tax", "download", TAX["tables"])]

    new = {"name": "Sales", "direction": "upload", "tables": ["sales_transaction"]}
    client.post("/offline-profiles/P/scopes", data=scope_form([TAX, new]))
    assert stored_scopes("P")[1] == ("Sales", "upload", ["sales_transaction"])


def test_scope_is_removed_then_saved(client, login):
    ProfileFactory(name="P", scopes=[TAX, PRODUCTS])
    login("hq")

    removed = client.post(
        "/offline-profiles/P/scopes", data=scope_form([TAX, PRODUCTS], "remove-0")
    )
    assert editor_rows(removed.text) == [("Products", ["product"])]
    assert len(stored_scopes("P")) == 2

    client.post("/offline-profiles/P/scopes", data=scope_form([PRODUCTS]))
    assert stored_scopes("P") == [("Products", "download", ["product"])]


def test_default_scopes_can_be_restored(client, login):
    ProfileFactory(name="P", scopes=[TAX])
    login("hq")
    page = client.post("/offline-profiles/P/scopes", data=scope_form([TAX], "defaults")).text
    assert [name for name, _ in editor_rows(page)] == [job.name for job in STANDARD_JOBS]
    assert len(stored_scopes("P")) == 1


@pytest.mark.parametrize(
    "bad, message, field_error",
    [
        ({**PRODUCTS, "direction": "sideways"}, "unknown direction", "One of download"),
        ({**PRODUCTS, "tables": []}, "lists no tables", "At least one table."),
        ({**PRODUCTS, "tables": ["passwords"]}, "unknown tables", "Only tables of the scheduler"),
        ({**PRODUCTS, "name": "Sales tax"}, "must be unique", None),
    ],
)
def test_invalid_scopes_are_shown_and_nothing_is_saved(client, login, bad, message, field_error):
    ProfileFactory(name="P", scopes=[TAX, PRODUCTS])
    login("hq")

    response = client.post("/offline-profiles/P/scopes", data=scope_form([TAX, bad]))

    assert response.status_code == 200
    assert message in response.text
    if field_error:
        # The message sits on the second row, the one at fault.
        second_row = response.text.split('id="scopes-1-title"')[1]
        assert field_error in second_row
    assert stored_scopes("P") == [
        ("Sales tax", "download", TAX["tables"]),
        ("Products", "download", ["product"]),
    ]


@pytest.mark.parametrize("role", ["auditor", "scheduler"])
def test_readers_cannot_change_profiles(client, login, role):
    ProfileFactory(name="P", scopes=[TAX])
    login(role)
    assert client.get("/offline-profiles/").status_code == 200
    assert client.get("/offline-profiles/P").status_code == 200
    for url in ("/offline-profiles/new", "/offline-profiles/P/edit", "/offline-profiles/P/scopes"):
        assert client.get(url).status_code == 403
    assert client.post("/offline-profiles/new", data=SETTINGS).status_code == 403
    assert client.post("/offline-profiles/P/edit", data=SETTINGS).status_code == 403
    assert client.post("/offline-profiles/P/scopes", data=scope_form([PRODUCTS])).status_code == 403
    assert client.post("/offline-profiles/P/delete").status_code == 403
    assert stored_scopes("P") == [("Sales tax", "download", TAX["tables"])]
    assert profile_named("Standard offline") is None
