"""Readable evidence: a conflict's two versions side by side, a price mismatch in words."""

import re

import pytest

from portal.auditor import diff
from portal.core.extensions import db
from portal.masterdata import services
from portal.masterdata.people import Worker
from portal.masterdata.products import Product
from tests.transactions.auditor_setup import sold, stored, upload
from tests.transactions.conftest import stores  # noqa: F401

pytestmark = pytest.mark.usefixtures("app_ctx")


def test_compare_marks_only_what_differs():
    stored_version = {
        "receipt_number": "R-1",
        "staff": "000160",
        "lines": [{"product": "P-1", "quantity": "1", "unit_price": "4.99"}],
        "payments": [{"method": "CARD", "amount": "4.99"}],
        "total": "4.99",
    }
    received = {
        "receipt_number": "R-1",
        "staff": "000160",
        "lines": [
            {"product": "P-1", "quantity": "1.0000", "unit_price": "4.9900"},
            {"product": "P-2", "quantity": "2", "unit_price": "1.00"},
        ],
        "payments": [{"method": "cash", "amount": "6.99"}],
        "total": "6.99",
    }
    changed = {
        row.label: (row.stored, row.received)
        for row in diff.compare(stored_version, received)
        if row.differs
    }
    assert changed == {
        "Line 2 product": ("—", "P-2"),
        "Line 2 quantity": ("—", "2"),
        "Line 2 unit price": ("—", "1.00"),
        "Payment 1 method": ("CARD", "cash"),
        "Payment 1 amount": ("4.99", "6.99"),
        "Total": ("4.99", "6.99"),
    }


def test_the_transaction_page_shows_the_conflict_side_by_side(client, login, stores):  # noqa: F811
    first = sold("HOUSTON-1", 1, payments=[{"method": "CARD", "amount": "11.98"}])
    upload("HOUSTON-1", first)
    again = dict(first, payments=[{"method": "cash", "amount": "11.98"}], staff="000999")
    upload("HOUSTON-1", again)
    login("auditor")
    page = client.get(f"/transactions/{stored(first['transaction_id']).id}")
    html = page.get_data(as_text=True)
    marked = re.findall(r'data-differs="([^"]+)"', html)
    assert marked == ["Staff", "Payment 1 method"]
    assert "Payment 1 method CARD → cash" in html
    assert "<del>CARD</del>" in html and "<ins>cash</ins>" in html


def test_products_and_staff_show_their_names_beside_their_codes(client, login, stores):  # noqa: F811
    services.upsert(Product, ("product_number",), [{"product_number": "P-1001", "name": "Lamp"}])
    services.upsert(Worker, ("staff_id",), [{"staff_id": "000160", "name": "Ana Ruiz"}])
    db.session.commit()
    sale = sold("HOUSTON-1", 1)
    upload("HOUSTON-1", sale)
    login("auditor")
    html = client.get(f"/transactions/{stored(sale['transaction_id']).id}").get_data(as_text=True)
    assert "<span data-product-name>Lamp</span>" in html and "Ana Ruiz" in html
    # It reads like the receipt: subtotal, tax per code on its base, total, what paid it.
    assert re.search(r'data-field="subtotal">\$9.98<', html)
    assert re.search(r'<tr data-tax="VAT20">.*?on \$9.98.*?\$2.00<', html, re.S)
    assert re.search(r'<tr data-paid="cash">.*?\$11.98<', html, re.S)
    assert "Ana Ruiz" in client.get("/transactions/").get_data(as_text=True)
