"""Customers (job 1010) and staff (job 1060)."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.extensions import db
from portal.core.models import Timestamped
from portal.masterdata.versioning import Distributable


class CustomerGroup(Distributable, Timestamped, db.Model):
    """A group of customers sharing terms."""

    __tablename__ = "customer_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))


class Customer(Distributable, Timestamped, db.Model):
    """A customer account registers can look up offline."""

    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_number: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    customer_group: Mapped[str | None] = mapped_column(sa.String(30))


class CustomerAddress(Distributable, Timestamped, db.Model):
    """A postal address of a customer."""

    __tablename__ = "customer_address"
    __table_args__ = (sa.UniqueConstraint("account_number", "label", name="uq_customer_address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_number: Mapped[str] = mapped_column(sa.String(30))
    label: Mapped[str] = mapped_column(sa.String(30), default="main")
    street: Mapped[str] = mapped_column(sa.String(200))
    city: Mapped[str] = mapped_column(sa.String(100))
    postal_code: Mapped[str] = mapped_column(sa.String(20))
    country: Mapped[str] = mapped_column(sa.String(2))


class PosPermissionGroup(Distributable, Timestamped, db.Model):
    """What staff of the group may do at the register."""

    __tablename__ = "pos_permission_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    allow_price_override: Mapped[bool] = mapped_column(default=False)
    allow_void: Mapped[bool] = mapped_column(default=False)
    allow_return: Mapped[bool] = mapped_column(default=False)
    max_discount_percent: Mapped[int] = mapped_column(default=0)


class Worker(Distributable, Timestamped, db.Model):
    """A member of store staff who signs in at registers."""

    __tablename__ = "worker"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    permission_group: Mapped[str | None] = mapped_column(sa.String(30))


class WorkerStore(Distributable, Timestamped, db.Model):
    """A store a worker may sign in at."""

    __tablename__ = "worker_store"
    __table_args__ = (sa.UniqueConstraint("staff_id", "store_number", name="uq_worker_store"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[str] = mapped_column(sa.String(20))
    store_number: Mapped[str] = mapped_column(sa.String(20), index=True)
