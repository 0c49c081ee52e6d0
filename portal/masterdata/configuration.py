"""Channel configuration (job 1070), register hardware (job 1090), global configuration (1110)."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.extensions import db
from portal.core.models import Timestamped
from portal.masterdata.versioning import Distributable


class StoreSettings(Distributable, Timestamped, db.Model):
    """A store's register settings: its profiles and receipt numbering."""

    __tablename__ = "store_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    receipt_profile: Mapped[str | None] = mapped_column(sa.String(30))
    functionality_profile: Mapped[str | None] = mapped_column(sa.String(30))
    receipt_prefix: Mapped[str] = mapped_column(sa.String(20), default="")


class PaymentMethod(Distributable, Timestamped, db.Model):
    """A way to pay (cash, card, gift card)."""

    __tablename__ = "payment_method"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    allowed_offline: Mapped[bool] = mapped_column(default=True)


class ReceiptProfile(Distributable, Timestamped, db.Model):
    """How receipts are printed."""

    __tablename__ = "receipt_profile"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    footer: Mapped[str] = mapped_column(sa.String(500), default="")


class FunctionalityProfile(Distributable, Timestamped, db.Model):
    """Which register functions are available."""

    __tablename__ = "functionality_profile"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    allow_returns_offline: Mapped[bool] = mapped_column(default=False)


class RegisterHardware(Distributable, Timestamped, db.Model):
    """The devices attached to a register."""

    __tablename__ = "register_hardware"

    id: Mapped[int] = mapped_column(primary_key=True)
    register_number: Mapped[str] = mapped_column(sa.String(30), unique=True)
    store_number: Mapped[str] = mapped_column(sa.String(20), index=True)
    printer: Mapped[str | None] = mapped_column(sa.String(60))
    cash_drawer: Mapped[str | None] = mapped_column(sa.String(60))
    scanner: Mapped[str | None] = mapped_column(sa.String(60))


class ScreenLayout(Distributable, Timestamped, db.Model):
    """A register screen layout (button grid)."""

    __tablename__ = "screen_layout"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    layout: Mapped[dict] = mapped_column(sa.JSON, default=dict)


class SharedParameter(Distributable, Timestamped, db.Model):
    """A chain-wide parameter registers read."""

    __tablename__ = "shared_parameter"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(60), unique=True)
    value: Mapped[str] = mapped_column(sa.String(500))


class FeatureSwitch(Distributable, Timestamped, db.Model):
    """A feature turned on or off for every register."""

    __tablename__ = "feature_switch"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), unique=True)
    enabled: Mapped[bool] = mapped_column(default=False)
