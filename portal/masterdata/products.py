"""Products master data (job 1040) and assortments (job 1150): what a store may sell."""

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.extensions import db
from portal.core.models import Timestamped, trigram_index
from portal.masterdata.versioning import Distributable


class Unit(Distributable, Timestamped, db.Model):
    """A unit of measure (pcs, kg, ...)."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(10), unique=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    decimals: Mapped[int] = mapped_column(default=0)


class ProductCategory(Distributable, Timestamped, db.Model):
    """A node of the product category tree."""

    __tablename__ = "product_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    parent_code: Mapped[str | None] = mapped_column(sa.String(30))


class Product(Distributable, Timestamped, db.Model):
    """A sellable product, identified by its product number."""

    __tablename__ = "product"
    # The master data search (portal.masterdata.services.rows_query) at a million products.
    __table_args__ = (
        trigram_index("product", "product_number"),
        trigram_index("product", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_number: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    category: Mapped[str | None] = mapped_column(sa.String(30))
    unit: Mapped[str] = mapped_column(sa.String(10), default="pcs")
    item_tax_group: Mapped[str | None] = mapped_column(sa.String(30))
    base_price: Mapped[Decimal] = mapped_column(sa.Numeric(14, 4), default=Decimal("0"))


class ProductVariant(Distributable, Timestamped, db.Model):
    """A variant of a product (size, colour, style)."""

    __tablename__ = "product_variant"
    __table_args__ = (trigram_index("product_variant", "variant_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    product_number: Mapped[str] = mapped_column(sa.String(30), index=True)
    color: Mapped[str | None] = mapped_column(sa.String(30))
    size: Mapped[str | None] = mapped_column(sa.String(30))
    style: Mapped[str | None] = mapped_column(sa.String(30))


class Barcode(Distributable, Timestamped, db.Model):
    """A barcode that identifies a product (or one of its variants) at the register."""

    __tablename__ = "barcode"
    __table_args__ = (trigram_index("barcode", "barcode"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    barcode: Mapped[str] = mapped_column(sa.String(40), unique=True)
    product_number: Mapped[str] = mapped_column(sa.String(30), index=True)
    variant_number: Mapped[str | None] = mapped_column(sa.String(40))


class Assortment(Distributable, Timestamped, db.Model):
    """A named set of products that the stores using it may sell."""

    __tablename__ = "assortment"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))


class AssortmentLine(Distributable, Timestamped, db.Model):
    """One product in one assortment."""

    __tablename__ = "assortment_line"
    __table_args__ = (
        sa.UniqueConstraint("assortment_code", "product_number", name="uq_assortment_line"),
        sa.Index("ix_assortment_line_product", "product_number"),
        trigram_index("assortment_line", "assortment_code"),
        trigram_index("assortment_line", "product_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assortment_code: Mapped[str] = mapped_column(sa.String(30))
    product_number: Mapped[str] = mapped_column(sa.String(30))


class Catalog(Distributable, Timestamped, db.Model):
    """A catalog shown on registers (e.g. seasonal ranges)."""

    __tablename__ = "catalog"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
