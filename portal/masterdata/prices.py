"""Prices and discounts (job 1020) and currencies (job 1000)."""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.extensions import db
from portal.core.models import Timestamped, trigram_index
from portal.masterdata.versioning import Distributable


class Currency(Distributable, Timestamped, db.Model):
    """A currency stores sell in or convert from."""

    __tablename__ = "currency"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(3), unique=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    decimals: Mapped[int] = mapped_column(default=2)


class ExchangeRate(Distributable, Timestamped, db.Model):
    """The rate from one currency to another, valid from a date."""

    __tablename__ = "exchange_rate"
    __table_args__ = (
        sa.UniqueConstraint("from_currency", "to_currency", "valid_from", name="uq_exchange_rate"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    from_currency: Mapped[str] = mapped_column(sa.String(3))
    to_currency: Mapped[str] = mapped_column(sa.String(3))
    rate: Mapped[Decimal] = mapped_column(sa.Numeric(18, 8))
    valid_from: Mapped[date] = mapped_column(sa.Date)


class PriceGroup(Distributable, Timestamped, db.Model):
    """A set of prices that stores of the group charge."""

    __tablename__ = "price_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))


class TradeAgreement(Distributable, Timestamped, db.Model):
    """A product's price in a price group from a date (until `valid_to`, if set)."""

    __tablename__ = "trade_agreement"
    __table_args__ = (
        sa.UniqueConstraint(
            "price_group", "product_number", "valid_from", name="uq_trade_agreement"
        ),
        sa.Index("ix_trade_agreement_product", "product_number"),
        trigram_index("trade_agreement", "price_group"),
        trigram_index("trade_agreement", "product_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    price_group: Mapped[str] = mapped_column(sa.String(30))
    product_number: Mapped[str] = mapped_column(sa.String(30))
    unit_price: Mapped[Decimal] = mapped_column(sa.Numeric(14, 4))
    currency: Mapped[str] = mapped_column(sa.String(3))
    valid_from: Mapped[date] = mapped_column(sa.Date)
    valid_to: Mapped[date | None] = mapped_column(sa.Date)


class Discount(Distributable, Timestamped, db.Model):
    """A percentage discount for a price group (or all), on one product or on everything."""

    __tablename__ = "discount"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    percent: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2))
    price_group: Mapped[str | None] = mapped_column(sa.String(30))
    product_number: Mapped[str | None] = mapped_column(sa.String(30))
    valid_from: Mapped[date] = mapped_column(sa.Date)
    valid_to: Mapped[date | None] = mapped_column(sa.Date)
