"""Package CSV: exact round trips of awkward values, and the same bytes from COPY and Python."""

import csv
import io
from decimal import Decimal

import pytest

from portal.core.extensions import db
from portal.distribution.export import CHUNK_BYTES, TableExport
from portal.distribution.package_files import parse_line
from portal.distribution.tables import TABLES, Target
from portal.masterdata import services as masterdata
from portal.masterdata.people import PosPermissionGroup
from portal.masterdata.products import Product
from portal.masterdata.tax import SalesTaxGroup

AWKWARD = 'He said "hi", then \\N; a back\\slash, a newline\nand ünïcödé ✓'
TARGET = Target("ANY", "TX", None, None)

pytestmark = pytest.mark.usefixtures("app_ctx")


@pytest.fixture
def awkward_rows(app_ctx):
    masterdata.upsert(
        Product,
        ("product_number",),
        [
            {
                "product_number": "P1",
                "name": AWKWARD,
                "category": None,
                "base_price": Decimal("1.5"),
            },
            {"product_number": "P2", "name": "\\N", "category": "", "base_price": Decimal("0")},
        ],
    )
    masterdata.upsert(
        SalesTaxGroup, ("code",), [{"code": "TX", "name": "Texas", "tax_codes": ["A", 'B"']}]
    )
    masterdata.upsert(
        PosPermissionGroup,
        ("code",),
        [{"code": "MGR", "name": "Manager", "allow_void": True, "max_discount_percent": 20}],
    )
    db.session.commit()


def export(table: str, python: bool = False) -> bytes:
    (stmt,) = TABLES[table].selects(TARGET, 0, 10**12, full=True)
    exporter = TableExport(db.session.connection(), stmt, header=True)
    return b"".join(exporter._python() if python else exporter.chunks())


def parse(table: str, data: bytes) -> list[dict]:
    reader = csv.reader(io.StringIO(data.decode(), newline=""))
    header = next(reader)[1:]
    return [parse_line(row, header, list(TABLES[table].key)) for row in reader]


@pytest.mark.usefixtures("awkward_rows")
def test_awkward_values_come_back_exactly():
    products = {
        line["key"]["product_number"]: line["row"] for line in parse("product", export("product"))
    }
    assert products["P1"]["name"] == AWKWARD
    assert products["P1"]["category"] is None
    assert products["P2"]["name"] == "\\N" and products["P2"]["category"] == ""
    assert products["P1"]["base_price"] == "1.5000"
    (group,) = parse("sales_tax_group", export("sales_tax_group"))
    assert group["row"]["tax_codes"] == '["A", "B\\""]'
    (permissions,) = parse("pos_permission_group", export("pos_permission_group"))
    assert permissions["row"]["allow_void"] == "t" and permissions["row"]["allow_return"] == "f"
    assert permissions["row"]["max_discount_percent"] == "20"


@pytest.mark.usefixtures("awkward_rows")
@pytest.mark.parametrize("table", ["product", "sales_tax_group", "pos_permission_group"])
def test_copy_and_python_write_the_same_bytes(table):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's; SQLite always takes the Python path")
    assert export(table) == export(table, python=True)


def test_copy_output_arrives_in_large_pieces_with_the_same_bytes():
    if db.engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's; SQLite always takes the Python path")
    # About three pieces' worth, with awkward text crossing the piece boundaries.
    masterdata.upsert(
        Product,
        ("product_number",),
        [
            {"product_number": f"P{n:05d}", "name": f"{n} {AWKWARD} " * 3, "base_price": n}
            for n in range(3000)
        ],
    )
    db.session.commit()
    (stmt,) = TABLES["product"].selects(TARGET, 0, 10**12, full=True)
    exporter = TableExport(db.session.connection(), stmt, header=True)

    pieces = [bytes(piece) for piece in exporter.chunks()]

    assert len(pieces) >= 3
    assert all(len(piece) >= CHUNK_BYTES for piece in pieces[:-1])
    assert exporter.rows == 3000
    assert b"".join(pieces) == export("product", python=True)
