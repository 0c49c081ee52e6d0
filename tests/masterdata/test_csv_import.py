"""CSV import: streamed, checked row by row, all or nothing, errors by line; and its CLI."""

import io
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.masterdata import csv_import, services
from portal.masterdata.products import Product
from tests.masterdata.conftest import audit_entries, product

pytestmark = pytest.mark.usefixtures("reference")


def stream(text: str, encoding: str = "utf-8") -> io.BytesIO:
    return io.BytesIO(text.encode(encoding))


def products() -> dict[str, tuple]:
    rows = db.session.execute(
        sa.select(Product.product_number, Product.name, Product.base_price, Product.deleted)
    )
    return {number: rest for number, *rest in rows}


def test_a_file_with_a_byte_order_mark_is_imported_in_one_change():
    text = (
        "\ufeffproduct_number,name,base_price,category\r\n"
        "P1,Espresso beans,12.99,COFFEE\r\n"
        'P2,"Mug, white",4.5,\r\n'
        "\r\n"
        "P3,Filter papers,1,\r\n"
    )

    outcome = csv_import.import_csv("product", stream(text))
    db.session.commit()

    assert (outcome.inserted, outcome.updated, outcome.deleted) == (3, 0, 0)
    assert products() == {
        "P1": ["Espresso beans", Decimal("12.99"), False],
        "P2": ["Mug, white", Decimal("4.5"), False],
        "P3": ["Filter papers", Decimal("1"), False],
    }
    (entry,) = audit_entries("product")
    assert (entry.action, entry.entity_key, entry.after["inserted"]) == ("import_csv", "3 rows", 3)


def test_an_op_column_deletes_rows_and_other_rows_update():
    services.bulk_upsert("product", [product("P1"), product("P2")])
    db.session.commit()
    text = "op,product_number,name\nupsert,P1,Renamed\ndelete,P2,\n,P3,New\n"

    outcome = csv_import.import_csv("product", stream(text))
    db.session.commit()

    assert (outcome.inserted, outcome.updated, outcome.deleted) == (1, 1, 1)
    found = products()
    assert found["P1"][0] == "Renamed" and found["P2"][2] is True and found["P3"][0] == "New"


def test_a_delete_column_marks_deletions():
    services.bulk_upsert(
        "tax_rate", [{"tax_code": "TX-STATE", "rate": "6", "valid_from": "2024-01-01"}]
    )
    db.session.commit()
    text = (
        "tax_code,valid_from,rate,delete\nTX-STATE,2024-01-01,,yes\nTX-STATE,2025-01-01,6.25,no\n"
    )

    outcome = csv_import.import_csv("tax_rate", stream(text))

    assert (outcome.inserted, outcome.deleted) == (1, 1)


def test_a_dry_run_checks_and_counts_but_writes_nothing():
    services.bulk_upsert("product", [product("P1")])
    db.session.commit()
    before = len(audit_entries("product"))
    text = "product_number,name\nP1,Renamed\nP2,New\n"

    outcome = csv_import.import_csv("product", stream(text), dry_run=True)
    db.session.commit()

    assert (outcome.inserted, outcome.updated, outcome.version) == (1, 1, None)
    assert products() == {"P1": ["Product P1", Decimal("0"), False]}
    assert len(audit_entries("product")) == before


def test_bad_rows_are_reported_by_line_number_and_nothing_is_saved():
    text = (
        "product_number,name,base_price,category\n"
        "P1,Good,1.00,COFFEE\n"
        "P2,Bad price,one,COFFEE\n"
        'P3,"Two\nlines",1,TEA\n'
        "P4,Short row\n"
        "P1,Again,2,\n"
        ",No number,1,\n"
    )

    with pytest.raises(ValidationFailed) as caught:
        csv_import.import_csv("product", stream(text))
    db.session.rollback()

    assert caught.value.fields == {
        "line 3.base_price": "Not a decimal.",
        "line 4.category": "No product category 'TEA'. Choose one of the product categories.",
        "line 6.row": "Expected 4 cells, found 2.",
        "line 7.product_number": "Same key as line 2.",
        "line 8.product_number": "Required.",
    }
    assert caught.value.message == "5 of 6 row(s) have errors; nothing was saved."
    assert products() == {}


def test_rows_are_checked_in_chunks_and_later_errors_still_stop_everything(monkeypatch):
    monkeypatch.setattr(csv_import, "QUERY_CHUNK", 2)
    lines = [f"P{n},Product {n}" for n in range(1, 8)] + ["P8,"]
    text = "product_number,name\n" + "\n".join(lines) + "\n"

    with pytest.raises(ValidationFailed) as caught:
        csv_import.import_csv("product", stream(text))
    db.session.rollback()

    assert caught.value.fields == {"line 9.name": "Required."}
    assert products() == {}


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("", {"line 1": "Expected a header row."}),
        ("product_number,name\n", {"line 2": "No rows."}),
        (
            "name,colour\nBeans,red\n",
            {
                "line 1.colour": "Unknown field.",
                "line 1.product_number": "Required column: it is part of the natural key.",
            },
        ),
        ("product_number,name,name\nP1,a,b\n", {"line 1.name": "Repeated column."}),
        ("product_number,name,op\nP1,a,remove\n", {"line 2.op": "Use upsert or delete."}),
    ],
    ids=["empty", "no-rows", "unknown-and-missing-columns", "repeated-column", "bad-op"],
)
def test_files_that_do_not_fit_the_table_are_refused(text, fields):
    with pytest.raises(ValidationFailed) as caught:
        csv_import.import_csv("product", stream(text))
    assert caught.value.fields == fields


def test_a_file_that_is_not_utf8_is_refused():
    with pytest.raises(ValidationFailed, match="not UTF-8"):
        csv_import.import_csv("product", stream("product_number,name\nP1,Café\n", "latin-1"))


def portal(app, *args: str):
    return app.test_cli_runner().invoke(args=["portal", *args])


def test_cli_imports_a_file_and_says_what_it_did(app, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text("product_number,name,base_price\nP1,Beans,9.99\nP2,Mug,4\n", encoding="utf-8")

    result = portal(app, "import-csv", "product", str(path))

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Imported product: 2 inserted, 0 updated, 0 deleted")
    assert set(products()) == {"P1", "P2"}
    (entry,) = audit_entries("product")
    assert (entry.actor, entry.source) == ("cli", "cli")


def test_cli_dry_run_saves_nothing(app, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text("product_number,name\nP1,Beans\n", encoding="utf-8")

    result = portal(app, "import-csv", "product", str(path), "--dry-run")

    assert result.exit_code == 0, result.output
    assert "Dry run of product: 1 inserted" in result.output and "nothing saved" in result.output
    assert products() == {}


def test_cli_lists_the_errors_and_exits_non_zero(app, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text("product_number,name,base_price\nP1,Beans,x\nP2,,1\n", encoding="utf-8")

    result = portal(app, "import-csv", "product", str(path))

    assert result.exit_code == 1
    assert "2 of 2 row(s) have errors; nothing was saved." in result.output
    assert "line 2.base_price: Not a decimal." in result.output
    assert "line 3.name: Required." in result.output
    assert products() == {}


def test_cli_refuses_an_unknown_table(app, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a\n1\n", encoding="utf-8")
    result = portal(app, "import-csv", "sales_line", str(path))
    assert result.exit_code == 1
    assert "There is no master data table 'sales_line'." in result.output
