"""Sales tax master data (job 1080): tax codes, their rates over time, and tax groups."""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.extensions import db
from portal.core.models import Timestamped
from portal.masterdata.versioning import Distributable


class TaxCode(Distributable, Timestamped, db.Model):
    """A sales tax code such as VAT20 or TX-STATE."""

    __tablename__ = "tax_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))


class TaxRate(Distributable, Timestamped, db.Model):
    """The rate of a tax code valid from a date (until the next rate's date, or `valid_to`)."""

    __tablename__ = "tax_rate"
    __table_args__ = (sa.UniqueConstraint("tax_code", "valid_from", name="uq_tax_rate_validity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tax_code: Mapped[str] = mapped_column(sa.String(20), index=True)
    rate: Mapped[Decimal] = mapped_column(sa.Numeric(9, 4))
    valid_from: Mapped[date] = mapped_column(sa.Date)
    valid_to: Mapped[date | None] = mapped_column(sa.Date)


class SalesTaxGroup(Distributable, Timestamped, db.Model):
    """The tax codes that apply where a store sells (a store's tax group)."""

    __tablename__ = "sales_tax_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    tax_codes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)


class ItemTaxGroup(Distributable, Timestamped, db.Model):
    """The tax codes that apply to an item (food, general goods, ...)."""

    __tablename__ = "item_tax_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    tax_codes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
