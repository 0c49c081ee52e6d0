"""Master data pages: tables by job, rows without tombstones, edit, delete, CSV import."""

import io
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.core import web
from portal.core.extensions import db
from portal.masterdata import services
from portal.masterdata.entities import ENTITIES
from portal.masterdata.prices import TradeAgreement
from portal.masterdata.products import Product
from tests.masterdata.conftest import audit_entries, price, product


@pytest.fixture
def catalogue(reference, app_ctx):
    """Products P1 (priced) and P2, and a deleted product GONE."""
    services.bulk_upsert(
        "product", [product("P1", name="Espresso"), product("P2"), product("GONE")]
    )
    services.bulk_upsert("trade_agreement", [price("P1")])
    services.bulk_delete("product", ["GONE"])
    db.session.commit()


def row(model, **key):
    db.session.expire_all()
    return db.session.scalar(sa.select(model).filter_by(**key))


pytestmark = pytest.mark.usefixtures("catalogue")


def test_index_groups_tables_by_job_with_live_counts(client, login, monkeypatch):
    monkeypatch.setattr(services, "COUNT_UP_TO", 1)
    login("auditor")
    page = client.get("/masterdata/").get_data(as_text=True)
    assert "1040 Products" in page and "1080 Sales tax" in page
    # P1 and P2 are live (GONE is not): more than the count shown; one price: exactly that.
    products = page.index('href="/masterdata/product/"')
    assert 'title="Live rows">more than 1<' in page[products : products + 400]
    prices = page.index('href="/masterdata/trade_agreement/"')
    assert 'title="Live rows">1<' in page[prices : prices + 400]
    assert "Prices (trade agreements)" in page
    assert 'href="/masterdata/product/"' in page
    assert "Import" not in page


def test_rows_hide_tombstones_unless_asked_and_show_change_versions(client, login):
    login("auditor")
    version = row(Product, product_number="P1").row_version

    page = client.get("/masterdata/product/").get_data(as_text=True)
    deleted = client.get("/masterdata/product/?deleted=1").get_data(as_text=True)
    search = client.get("/masterdata/product/?q=espr").get_data(as_text=True)

    assert "P1" in page and "P2" in page and "GONE" not in page
    assert f'<td class="text-end mono">{version}</td>' in page
    assert "GONE" in deleted and "Deleted</span>" in deleted
    assert "P1" in search and "P2" not in search
    assert "New product" not in page


def test_a_long_list_counts_only_so_far_ahead_of_the_page(client, login, app, monkeypatch):
    monkeypatch.setitem(app.config, "PER_PAGE", 2)
    monkeypatch.setattr(web, "COUNT_AHEAD", 4)
    services.bulk_upsert("product", [product(f"P{n}") for n in (3, 4, 5)])
    db.session.commit()
    login("auditor")

    def listed(url: str) -> str:
        return client.get(url).get_data(as_text=True)

    first, second = listed("/masterdata/product/"), listed("/masterdata/product/?page=2")
    last, found = listed("/masterdata/product/?page=3"), listed("/masterdata/product/?q=p4")

    assert ">P1<" in first and ">P2<" in first and ">P3<" not in first
    assert "More than 4 in all" in first
    assert 'href="/masterdata/product/?page=2"' in first
    assert 'href="/masterdata/product/?page=3"' not in first
    # Each page further on counts further: from the second page the end is in sight.
    assert ">P3<" in second and ">P4<" in second
    assert "More than" not in second and "5 in all" in second
    assert 'href="/masterdata/product/?page=3"' in second
    assert ">P5<" in last and "5 in all" in last
    assert "1 in all" in found and ">P4<" in found and ">P1<" not in found
    services.bulk_delete("product", ["P5"])
    db.session.commit()
    assert '<p class="text-body-secondary small">4 in all</p>' in listed("/masterdata/product/")


def test_an_unknown_table_is_a_404_page(client, login):
    login("hq")
    assert client.get("/masterdata/nothing/").status_code == 404


def test_hq_creates_a_product(client, login):
    login("hq")
    data = {"product_number": "P9", "name": "Cold brew", "unit": "pcs", "base_price": "3.49"}

    response = client.post("/masterdata/product/new", data=data)

    assert response.status_code == 302
    created = row(Product, product_number="P9")
    assert (created.name, created.base_price, created.deleted) == (
        "Cold brew",
        Decimal("3.49"),
        False,
    )
    assert audit_entries("product")[-1].action == "create"


def test_a_refused_row_shows_the_errors_on_the_form(client, login):
    login("hq")
    data = {"product_number": "P9", "name": "", "unit": "pcs", "base_price": "x"}
    taken = {**data, "product_number": "P1", "name": "Other", "base_price": "1"}

    page = client.post("/masterdata/product/new", data=data).get_data(as_text=True)
    clash = client.post("/masterdata/product/new", data=taken).get_data(as_text=True)

    assert "Not a decimal." in page and "Required." in page
    assert "Already taken." in clash
    assert row(Product, product_number="P9") is None
    assert row(Product, product_number="P1").name == "Espresso"


def test_hq_edits_a_price_but_not_its_key(client, login):
    login("hq")
    agreement = row(TradeAgreement, product_number="P1")
    url = f"/masterdata/trade_agreement/rows/{agreement.id}/edit"
    version = agreement.row_version

    form = client.get(url).get_data(as_text=True)
    response = client.post(
        url,
        data={"product_number": "P2", "unit_price": "5.25", "currency": "USD", "valid_to": ""},
    )

    assert 'id="key-product_number"' in form and "readonly" in form
    assert response.status_code == 302
    changed = row(TradeAgreement, id=agreement.id)
    assert (changed.product_number, changed.unit_price) == ("P1", Decimal("5.25"))
    assert changed.row_version > version


def test_delete_asks_first_then_leaves_a_tombstone(client, login):
    login("hq")
    target = row(Product, product_number="P2")
    url = f"/masterdata/product/rows/{target.id}/delete"

    confirm = client.get(url).get_data(as_text=True)
    assert "Delete product P2?" in confirm and not row(Product, product_number="P2").deleted

    assert client.post(url).status_code == 302
    assert row(Product, product_number="P2").deleted


def test_saving_a_deleted_row_restores_it(client, login):
    login("hq")
    gone = row(Product, product_number="GONE")
    client.post(
        f"/masterdata/product/rows/{gone.id}/edit",
        data={"name": "Back", "unit": "pcs", "base_price": "1"},
    )
    assert not row(Product, product_number="GONE").deleted


@pytest.mark.parametrize("role", ["auditor", "scheduler"])
def test_roles_without_the_master_data_right_cannot_change_rows(client, login, role):
    login(role)
    target = row(Product, product_number="P1")
    assert client.get("/masterdata/product/new").status_code == 403
    assert client.post(f"/masterdata/product/rows/{target.id}/delete").status_code == 403
    assert client.get("/masterdata/product/import").status_code == 403
    assert not row(Product, product_number="P1").deleted


def upload(client, text: str, dry_run: bool = False):
    data = {"file": (io.BytesIO(text.encode()), "products.csv")}
    if dry_run:
        data["dry_run"] = "y"
    return client.post(
        "/masterdata/product/import", data=data, content_type="multipart/form-data"
    ).get_data(as_text=True)


def test_import_dry_run_shows_what_would_change_and_saves_nothing(client, login):
    login("hq")
    page = upload(client, "product_number,name\nP1,Renamed\nP7,New\n", dry_run=True)
    assert "Dry run: the file is valid" in page
    assert 'Would insert</dt><dd class="col-6">1' in page
    assert row(Product, product_number="P7") is None
    assert row(Product, product_number="P1").name == "Espresso"


def test_import_saves_every_row_or_lists_the_errors_by_line(client, login):
    login("hq")
    bad = upload(client, "product_number,name,base_price\nP7,New,1\nP8,Bad,x\n")
    assert "Nothing was imported" in bad and "line 3.base_price" in bad
    assert row(Product, product_number="P7") is None

    good = upload(client, "product_number,name,base_price\nP7,New,1\nP8,Other,2\n")
    assert "Imported" in good
    assert row(Product, product_number="P8").base_price == Decimal("2")


def test_csv_template_holds_the_header_row(client, login):
    login("auditor")
    response = client.get("/masterdata/trade_agreement/template.csv")
    assert response.mimetype == "text/csv"
    assert response.get_data(as_text=True).strip() == (
        "price_group,product_number,unit_price,currency,valid_from,valid_to"
    )


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_every_table_has_a_list_and_a_new_row_form(client, login, entity):
    login("hq")
    listing = client.get(f"/masterdata/{entity}/")
    form = client.get(f"/masterdata/{entity}/new")
    assert listing.status_code == 200 and form.status_code == 200
    page = form.get_data(as_text=True)
    for field in ENTITIES[entity].fields:
        assert f'for="{field.name}"' in page
