"""`seed-demo --products N`: a realistic catalogue and master data, reproducible and idempotent."""

import sqlalchemy as sa

from portal.core.extensions import db
from portal.distribution.models import DistributionSchedule
from portal.masterdata import demo_products as catalogue
from portal.masterdata.people import Customer, Worker, WorkerStore
from portal.masterdata.prices import Currency, Discount, ExchangeRate, TradeAgreement
from portal.masterdata.products import AssortmentLine, Barcode, Product, ProductVariant
from portal.setup.models import Store
from tests.core.routes import row_counts


def seed(app, *args: str):
    result = app.test_cli_runner().invoke(args=["portal", "seed-demo", *args])
    assert result.exit_code == 0, result.output
    return result.output


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_seed_demo_with_500_products_twice_adds_everything_once(app):
    first = seed(app, "--products", "500")
    counts = row_counts(app)
    second = seed(app, "--products", "500")

    assert "500 product(s) added: 500 of 500" in first
    assert "500 demo product(s) added" in first
    assert row_counts(app) == counts
    assert all(line.startswith("0 ") for line in second.splitlines()), second
    with app.app_context():
        assert count(Product) == 500
        assert count(TradeAgreement) == 1000
        assert count(TradeAgreement, TradeAgreement.price_group == "OUTLET") == 500
        variants = count(ProductVariant)
        assert 0 < variants < 500 * len(catalogue.SIZES)
        assert count(Barcode) == 500 + variants
        lines = dict(
            db.session.execute(
                sa.select(AssortmentLine.assortment_code, sa.func.count()).group_by(
                    AssortmentLine.assortment_code
                )
            ).all()
        )
        assert lines == {"HOUSTON-RANGE": 500, "SEATTLE-RANGE": 400, "TORONTO-RANGE": 250}
        stores = db.session.execute(sa.select(Store.assortment, Store.price_group)).all()
        assert set(stores) == {
            ("HOUSTON-RANGE", "RETAIL"),
            ("SEATTLE-RANGE", "RETAIL"),
            ("TORONTO-RANGE", "RETAIL"),
        }
        assert count(Customer) == 300
        assert count(Worker) == count(WorkerStore) - 2 == 19
        assert set(db.session.scalars(sa.select(Currency.code))) == {"USD", "CAD"}
        assert count(ExchangeRate) == 2 and count(Discount) == 4
        codes = set(db.session.scalars(sa.select(DistributionSchedule.code)))
        assert codes == {
            "1000",
            "1010",
            "1020",
            "1040",
            "1060",
            "1070",
            "1080",
            "1090",
            "1110",
            "1150",
            "1200",
        }


def test_a_bigger_catalogue_keeps_the_products_already_there(app):
    seed(app, "--products", "20")
    with app.app_context():
        names = dict(db.session.execute(sa.select(Product.product_number, Product.name)).all())
    output = seed(app, "--products", "30")

    assert "10 demo product(s) added" in output
    with app.app_context():
        again = dict(db.session.execute(sa.select(Product.product_number, Product.name)).all())
    assert len(again) == 30
    assert {number: again[number] for number in names} == names


def test_demo_rows_refer_only_to_rows_that_exist(app):
    seed(app, "--products", "300")
    with app.app_context():
        products = sa.select(Product.product_number)
        for model in (ProductVariant, Barcode, TradeAgreement, AssortmentLine):
            assert count(model, model.product_number.not_in(products)) == 0
        variants = sa.select(ProductVariant.variant_number)
        assert count(Barcode, Barcode.variant_number.not_in(variants)) == 0
        barcodes = db.session.scalars(sa.select(Barcode.barcode).limit(50))
        assert all(catalogue.ean13(code[:12]) == code for code in barcodes)
