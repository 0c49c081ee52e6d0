"""HQ staff set a store up for offline selling, from an empty portal, in a real browser."""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from portal.core.extensions import db
from portal.masterdata import services as masterdata
from portal.masterdata.jobs import STANDARD_JOBS
from portal.setup.models import CHANNEL, OFFLINE
from portal.setup.offline_profiles import services as offline_profiles
from portal.setup.registers import services as registers
from portal.setup.stores import services as stores
from tests.browser.helpers import assert_accessible, horizontal_overflow
from tests.factories import GroupFactory, ProfileFactory, StoreFactory

pytestmark = pytest.mark.browser

GROUP = "Texas stores"
PROFILE = "Texas offline"
STORE = "AUSTIN"
REGISTER = "AUSTIN-1"
DEFAULT_SCOPES = [job.name for job in STANDARD_JOBS]
TAX_TABLES = ("tax_code", "tax_rate", "sales_tax_group", "item_tax_group")


def test_hq_sets_up_a_store_with_an_offline_register(page, signed_in, shot, app):
    with app.app_context():
        # The master data the new store names: a store may only name rows that exist.
        masterdata.bulk_upsert("currency", [{"code": "USD", "name": "US dollar"}])
        masterdata.bulk_upsert("sales_tax_group", [{"code": "TX", "name": "Texas"}])
        db.session.commit()
    signed_in("hq")
    shot(page, "01-signed-in")

    _create_group(page)
    shot(page, "02-group-created")

    _create_profile(page)
    shot(page, "03-profile-created")

    _edit_scopes(page, shot)
    shot(page, "04-scopes-saved")

    _create_store_with_the_keyboard(page, shot)
    shot(page, "05-store-created")

    _add_register(page)
    shot(page, "06-register-created")

    assert_accessible(page)
    page.get_by_role("button", name="Turn Support offline on").click()
    expect(page.get_by_role("alert"), "register page: no confirmation").to_contain_text(
        f"offline database {REGISTER} is active in channel data group {GROUP}"
    )
    _expect_offline_database(page, active=True)
    shot(page, "07-support-offline-on")
    assert_accessible(page)

    _check_group_lists_both_databases(page, shot)

    page.get_by_role("button", name="Turn Support offline off").click()
    expect(page.get_by_role("alert"), "register page: no confirmation").to_contain_text(
        f"offline database {REGISTER} is deactivated and kept"
    )
    _expect_offline_database(page, active=False)
    shot(page, "09-support-offline-off")

    with app.app_context():
        register = registers.get_register(REGISTER)
        assert not register.support_offline
        database = register.offline_database
        assert database is not None, f"{REGISTER} lost its offline database"
        assert (database.name, database.kind, database.active) == (REGISTER, OFFLINE, False)
        assert database.channel_data_group.name == GROUP

        store = stores.get_store(STORE)
        assert (store.currency, store.tax_group, store.time_zone) == (
            "USD",
            "TX",
            "America/Chicago",
        )
        assert store.channel_data_group.name == GROUP
        assert store.offline_profile.name == PROFILE
        assert register.effective_offline_profile.name == PROFILE
        assert store.channel_database.kind == CHANNEL
        assert store.channel_database.channel_data_group.name == GROUP

        profile = offline_profiles.get_profile(PROFILE)
        assert (profile.offline_timeout_s, profile.reconnect_interval_min) == (20, 3)
        assert [scope.name for scope in profile.scopes] == _edited_scopes()
        db.session.remove()


def test_support_offline_on_a_tablet(page, signed_in, shot, app_ctx):
    group = GroupFactory(name=GROUP).name
    profile = ProfileFactory(name=PROFILE).name
    StoreFactory(store_number="DALLAS", channel_data_group=group, offline_profile=profile)
    signed_in("hq")
    page.set_viewport_size({"width": 768, "height": 1024})

    page.goto("/stores/DALLAS")
    _expect_heading(page, re.compile(r"^DALLAS"), "store page")
    assert horizontal_overflow(page) == 0, "the store page scrolls sideways at 768 px"
    page.get_by_role("link", name="Add register").click()
    _expect_heading(page, "New register", "register form")
    page.get_by_label("Register number").fill("DALLAS-1")
    page.get_by_role("button", name="Create register").click()
    _expect_heading(page, "Register DALLAS-1", "register page")

    page.get_by_role("button", name="Turn Support offline on").click()
    offline = _offline_database_section(page)
    expect(_term(offline, "Name"), "register page: offline database").to_have_text("DALLAS-1")
    expect(_term(offline, "Active"), "register page: offline database").to_have_text("Active")
    shot(page, "tablet-register")
    overflow = horizontal_overflow(page)
    assert overflow == 0, f"the register page scrolls {overflow} px sideways at 768 px"

    db.session.expire_all()
    database = registers.get_register("DALLAS-1").offline_database
    assert database is not None and database.active
    assert database.channel_data_group.name == GROUP


def _create_group(page: Page) -> None:
    """Channel data groups > New; submitted with Enter in the name field."""
    _open_from_menu(page, "Channel data groups")
    page.get_by_role("link", name="New channel data group").click()
    _expect_heading(page, "New channel data group", "new channel data group form")
    page.get_by_label("Description").fill("Store and offline databases of the Texas stores")
    name = page.get_by_label("Name", exact=True)
    name.fill(GROUP)
    name.press("Enter")
    _expect_heading(page, GROUP, "channel data group page after Enter on the new group form")
    expect(page.get_by_role("alert"), "channel data group page").to_contain_text(
        f"Channel data group '{GROUP}' created."
    )


def _create_profile(page: Page) -> None:
    """Offline profiles > New, then check the settings and default scopes on its page."""
    _open_from_menu(page, "Offline profiles")
    page.get_by_role("link", name="New offline profile").click()
    _expect_heading(page, "New offline profile", "new offline profile form")
    page.get_by_label("Name", exact=True).fill(PROFILE)
    page.get_by_label("Offline switch time-out (seconds)").fill("20")
    page.get_by_label("Reconnection attempt interval (minutes)").fill("3")
    page.get_by_role("button", name="Create profile").click()

    _expect_heading(page, PROFILE, "offline profile page")
    where = "offline profile page"
    expect(_term(page, "Offline switch time-out"), where).to_have_text("20 seconds")
    expect(_term(page, "Reconnection attempt interval"), where).to_have_text("3 minutes")
    assert _scope_names(page) == DEFAULT_SCOPES, f"{where}: not the default scopes"
    tax = _scope_row(page, "Sales tax")
    for table in TAX_TABLES:
        expect(tax, f"{where}: scope Sales tax lacks {table}").to_contain_text(table)


def _edit_scopes(page: Page, shot) -> None:
    """Remove the Customers scope, move Sales tax up one place, save."""
    page.get_by_role("link", name="Edit scopes").click()
    where = "offline scope editor"
    _expect_heading(page, f"Offline scopes of {PROFILE}", where)
    assert_accessible(page)

    customers = DEFAULT_SCOPES.index("Customers") + 1
    page.get_by_role("button", name=f"Remove scope {customers}", exact=True).click()
    expect(page.get_by_text("These scopes are not saved yet."), where).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"Customers$")), where).to_have_count(0)

    tax = [name for name in DEFAULT_SCOPES if name != "Customers"].index("Sales tax") + 1
    expect(page.get_by_role("heading", name=f"Scope {tax}: Sales tax"), where).to_be_visible()
    page.get_by_role("button", name=f"Move scope {tax} up", exact=True).click()
    expect(page.get_by_role("heading", name=f"Scope {tax - 1}: Sales tax"), where).to_be_visible()
    shot(page, "04-scope-editor")
    assert_accessible(page)
    page.get_by_role("button", name="Save scopes").click()

    _expect_heading(page, PROFILE, "offline profile page after saving scopes")
    expect(page.get_by_role("alert"), "offline profile page").to_contain_text(
        f"Offline scopes of '{PROFILE}' saved."
    )
    assert _scope_names(page) == _edited_scopes(), "offline profile page: wrong scope order"


def _create_store_with_the_keyboard(page: Page, shot) -> None:
    """Stores > New, walked with Tab in the order the fields show, submitted with Enter."""
    _open_from_menu(page, "Stores")
    page.get_by_role("link", name="New store").click()
    where = "new store form"
    _expect_heading(page, "New store", where)
    assert_accessible(page)

    # Each field in the order it is reached with Tab, and what to enter (None: leave it).
    fields = [
        ("Store number", "textbox", STORE),
        ("Name", "textbox", "Austin Congress Avenue"),
        ("Currency", "textbox", "USD"),
        ("Sales tax group", "textbox", "TX"),
        ("Time zone", "combobox", "America/Chicago"),
        ("Price group", "textbox", None),
        ("Assortment", "textbox", None),
        ("Channel data group", "combobox", GROUP),
        ("Default offline profile", "combobox", PROFILE),
    ]
    page.get_by_label("Store number").focus()
    for position, (label, role, value) in enumerate(fields):
        if position:
            page.keyboard.press("Tab")
        field = page.get_by_role(role, name=label, exact=True)
        expect(field, f"{where}: Tab does not reach '{label}' next").to_be_focused()
        if value is None:
            continue
        if role == "textbox":
            page.keyboard.type(value)
        else:
            field.select_option(value)
    page.keyboard.press("Tab")
    submit = page.get_by_role("button", name="Create store")
    expect(submit, f"{where}: Tab does not reach 'Create store' last").to_be_focused()
    shot(page, "05-store-form")
    page.keyboard.press("Enter")

    _expect_heading(page, re.compile(rf"^{STORE}\b"), "store page after Enter on the store form")
    expect(page.get_by_role("alert"), "store page").to_contain_text(f"Store {STORE} created")
    settings = page.get_by_role("region", name="Settings")
    expect(_term(settings, "Channel data group"), "store page").to_have_text(GROUP)
    expect(_term(settings, "Default offline profile"), "store page").to_have_text(PROFILE)
    database = page.get_by_role("region", name="Channel database")
    expect(_term(database, "Name"), "store page: channel database").to_have_text(STORE)


def _add_register(page: Page) -> None:
    """From the store page: Add register, with the store already chosen."""
    page.get_by_role("link", name="Add register").click()
    where = "new register form"
    _expect_heading(page, "New register", where)
    expect(page.get_by_label("Store", exact=True), f"{where}: store not chosen").to_have_value(
        STORE
    )
    page.get_by_label("Register number").fill(REGISTER)
    page.get_by_role("button", name="Create register").click()

    _expect_heading(page, f"Register {REGISTER}", "register page")
    expect(page.get_by_role("alert"), "register page").to_contain_text(
        f"Register {REGISTER} created."
    )
    settings = page.get_by_role("region", name="Settings")
    expect(_term(settings, "Offline profile"), "register page").to_contain_text(PROFILE)
    expect(_offline_database_section(page), "register page").to_contain_text(
        "This register has no offline database."
    )


def _check_group_lists_both_databases(page: Page, shot) -> None:
    """Follow the offline database's group link; both databases are listed there."""
    _term(_offline_database_section(page), "Channel data group").get_by_role(
        "link", name=GROUP
    ).click()
    where = "channel data group page"
    _expect_heading(page, GROUP, where)
    store_row = _database_row(page, STORE)
    offline_row = _database_row(page, REGISTER)
    expect(store_row, f"{where}: store database {STORE} missing").to_have_count(1)
    expect(offline_row, f"{where}: offline database {REGISTER} missing").to_have_count(1)
    expect(store_row.locator("td").nth(1), where).to_have_text("Channel")
    expect(offline_row.locator("td").nth(1), where).to_have_text("Offline")
    expect(offline_row.locator("td").last, where).to_have_text("Active")
    shot(page, "08-group-databases")

    offline_row.locator("td").nth(3).get_by_role("link", name=REGISTER).click()
    _expect_heading(page, f"Register {REGISTER}", "register page, from the group page")


def _expect_offline_database(page: Page, active: bool) -> None:
    offline = _offline_database_section(page)
    where = "register page: offline database"
    expect(_term(offline, "Name"), where).to_have_text(REGISTER)
    expect(_term(offline, "Channel data group"), where).to_have_text(GROUP)
    expect(_term(offline, "Active"), where).to_have_text("Active" if active else "Inactive")


def _edited_scopes() -> list[str]:
    """The default scopes without Customers, Sales tax one place further up."""
    names = [name for name in DEFAULT_SCOPES if name != "Customers"]
    tax = names.index("Sales tax")
    names[tax - 1], names[tax] = names[tax], names[tax - 1]
    return names


def _open_from_menu(page: Page, label: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True).click()
    _expect_heading(page, label, f"{label} list, from the main menu")


def _expect_heading(page: Page, name, where: str) -> None:
    heading = page.get_by_role("heading", level=1, name=name)
    expect(heading, f"expected the {where} (heading {name!r})").to_be_visible()


def _term(container: Page | Locator, term: str) -> Locator:
    """The <dd> of the <dt> that reads exactly `term`."""
    return container.locator(
        f"xpath=.//dt[normalize-space()='{term}']/following-sibling::dd[1]"
    ).first


def _offline_database_section(page: Page) -> Locator:
    return page.get_by_role("region", name="Support offline").locator(
        "xpath=.//h2[normalize-space()='Offline database']/following-sibling::*[1]"
    )


def _scope_names(page: Page) -> list[str]:
    return [
        name.strip() for name in page.locator("table tbody tr td:nth-child(2)").all_inner_texts()
    ]


def _scope_row(page: Page, name: str) -> Locator:
    return page.locator("table tbody tr").filter(
        has=page.locator("td:nth-child(2)", has_text=re.compile(rf"^{re.escape(name)}$"))
    )


def _database_row(page: Page, name: str) -> Locator:
    table = page.locator("table").first
    return table.locator("tbody tr").filter(
        has=page.locator("td:first-child", has_text=re.compile(rf"^{re.escape(name)}$"))
    )
