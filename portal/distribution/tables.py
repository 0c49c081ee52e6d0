"""Which master data rows each distributable table sends to a target, and how a row is written.

Master data declares its tables (portal.masterdata.registry); this module only attaches a scope
to those a store does not receive whole, and adds the setup sent with every package.

A table's scope is a filter on its own columns (e.g. the store's price group) and, for some, a
membership in another table (a product is in scope while its store's assortment lists it). An
incremental package carries rows changed in the version window that are in scope, rows whose
membership began in the window, and deletions for rows whose membership ended in it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from portal.distribution.export import text_column
from portal.masterdata import configuration as conf
from portal.masterdata import people, prices, products, registry, tax
from portal.masterdata.jobs import JOB_CATALOGUE, UPLOAD
from portal.masterdata.registry import BOOKKEEPING, MasterTable
from portal.setup.models import OfflineProfile, OfflineScope, Register, Store


@dataclass(frozen=True)
class Target:
    """The store settings that decide what a target database receives."""

    store_number: str
    tax_group: str | None
    price_group: str | None
    assortment: str | None


@dataclass(frozen=True)
class Membership:
    """Rows of another table that put a row in a target's scope (an assortment line, say)."""

    model: type
    column: str  # shared by both tables, e.g. product_number
    condition: Callable[[Target], Any]
    applies: Callable[[Target], bool] = lambda target: True

    def exists(self, table_model: type, target: Target, *where) -> sa.Exists:
        """Whether a membership row matching `where` links this table's row to the target."""
        member = self.model
        return sa.exists().where(
            getattr(member, self.column) == getattr(table_model, self.column),
            self.condition(target),
            *where,
        )

    def changed_in(self, table_model: type, target: Target, window, deleted: bool):
        """This table's rows whose membership began (or ended) within the version window.

        An IN on the few membership rows of the window, so the cost follows the changes and
        not the size of the table.
        """
        member = self.model
        keys = sa.select(getattr(member, self.column)).where(
            self.condition(target), member.deleted.is_(deleted), window
        )
        return getattr(table_model, self.column).in_(keys)


@dataclass(frozen=True)
class DistributedTable:
    """A distributable table: its model, natural key, and scope for one target."""

    name: str
    model: type
    key: tuple[str, ...]
    scope: Callable[[Target], list] = lambda target: []
    membership: Membership | None = None
    # The target settings the scope reads; a change of them forces a full package.
    scope_params: tuple[str, ...] = ()
    always_full = False

    @property
    def columns(self) -> list[sa.Column]:
        """The columns a target stores (not HQ's bookkeeping)."""
        return [c for c in self.model.__table__.columns if c.key not in BOOKKEEPING]

    def selects(self, target: Target, base: int, upto: int, full: bool) -> list[sa.Select]:
        """The selects of `(op, *columns)` whose rows make up this table's part of a package."""
        model = self.model
        member = self.membership if self.membership and self.membership.applies(target) else None
        live = member.exists(model, target, ~member.model.deleted) if member else sa.true()
        if full:
            where = [model.row_version <= upto, model.deleted.is_(False), live]
            return [self._select([*where, *self.scope(target)])]
        changed = sa.and_(model.row_version > base, model.row_version <= upto)
        if member is None:
            return [self._select([changed, *self.scope(target)])]
        window = sa.and_(member.model.row_version > base, member.model.row_version <= upto)
        scope = self.scope(target)
        joined = member.changed_in(model, target, window, False)
        left = member.changed_in(model, target, window, True)
        # Three disjoint, index-friendly selects: rows changed in the window that are in scope,
        # unchanged rows whose membership began in it, and rows whose membership ended in it.
        # One select with an OR between them would scan the whole table.
        return [
            self._select([changed, live, *scope]),
            self._select([model.row_version <= base, joined, *scope]),
            self._select([*scope, left, ~live], deletions_only=True),
        ]

    def _select(self, where: list, deletions_only: bool = False) -> sa.Select:
        model = self.model
        op = (
            sa.literal("delete")
            if deletions_only
            else sa.case((model.deleted, "delete"), else_="upsert")
        )
        return (
            sa.select(op.label("op"), *(text_column(c) for c in self.columns))
            .where(*where)
            .order_by(*(getattr(model, k) for k in self.key))
        )


@dataclass(frozen=True)
class SetupSnapshot:
    """Setup data sent whole with every package (offline profiles and scopes, registers).

    Setup rows carry no change versions: the tables are small, so each package holds all of
    them (in the target's scope) and is always full; the services take a change version when
    they change them, so a change gives the next run a new watermark and a new package.
    """

    name: str
    key: tuple[str, ...]
    query: Callable[[], sa.Select]
    scope: Callable[[Target], list] = lambda target: []
    scope_params: tuple[str, ...] = ()
    always_full = True

    @property
    def columns(self) -> list:
        """The columns of the snapshot, named as the package names them."""
        return list(self.query().selected_columns)

    def selects(self, target: Target, base: int, upto: int, full: bool) -> list[sa.Select]:
        """One select of every row, each an upsert."""
        query = self.query().where(*self.scope(target))
        columns = [text_column(c) for c in query.selected_columns]
        return [query.with_only_columns(sa.literal("upsert").label("op"), *columns)]


# HQ's own use of a profile: the auditors' thresholds mean nothing to a store's database.
HQ_ONLY_PROFILE_COLUMNS = frozenset({"max_offline_minutes", "max_offline_total"})


def _offline_profiles() -> sa.Select:
    profile = OfflineProfile
    skipped = BOOKKEEPING | HQ_ONLY_PROFILE_COLUMNS
    return sa.select(*(c for c in profile.__table__.columns if c.key not in skipped)).order_by(
        profile.name
    )


def _offline_scopes() -> sa.Select:
    scope = OfflineScope
    return (
        sa.select(
            OfflineProfile.name.label("profile"),
            scope.position,
            scope.name,
            scope.direction,
            scope.tables,
        )
        .join(scope.profile)
        .order_by(OfflineProfile.name, scope.position)
    )


def _registers() -> sa.Select:
    """A store's registers as its databases know them: HQ's ids stay at HQ."""
    return (
        sa.select(
            Register.register_number,
            Store.store_number,
            Register.support_offline,
            Register.active,
            OfflineProfile.name.label("offline_profile"),
        )
        .join(Register.store)
        .outerjoin(Register.offline_profile)
        .order_by(Register.register_number)
    )


def _when(setting: str, clause: Callable[[Any], Any]) -> Callable[[Target], list]:
    """Filter on a store setting; a store without that setting gets every row."""

    def scope(target: Target) -> list:
        value = getattr(target, setting)
        return [] if value is None else [clause(value)]

    return scope


def _own_store(column) -> Callable[[Target], list]:
    return lambda target: [column == target.store_number]


_assortment_line = products.AssortmentLine
IN_ASSORTMENT = Membership(
    _assortment_line,
    "product_number",
    lambda target: _assortment_line.assortment_code == target.assortment,
    lambda target: target.assortment is not None,
)
AT_STORE = Membership(
    people.WorkerStore,
    "staff_id",
    lambda target: people.WorkerStore.store_number == target.store_number,
)


@dataclass(frozen=True)
class Scoping:
    """The part of a master data table a target receives: a filter, a membership, or both."""

    rows: Callable[[Target], list] = lambda target: []
    membership: Membership | None = None
    # The target settings the scope reads; a change of them forces a full package.
    params: tuple[str, ...] = ()

    def table(self, entry: MasterTable) -> DistributedTable:
        """The registry's table `entry`, distributed with this scope."""
        return DistributedTable(
            entry.name, entry.model, entry.key, self.rows, self.membership, self.params
        )


# Master data tables not listed here go whole to every target.
SCOPES: dict[str, Scoping] = {
    "price_group": Scoping(
        _when("price_group", lambda v: prices.PriceGroup.code == v), params=("price_group",)
    ),
    "trade_agreement": Scoping(
        _when("price_group", lambda v: prices.TradeAgreement.price_group == v),
        IN_ASSORTMENT,
        ("price_group", "assortment"),
    ),
    "discount": Scoping(
        _when(
            "price_group",
            lambda v: sa.or_(
                prices.Discount.price_group == v, prices.Discount.price_group.is_(None)
            ),
        ),
        params=("price_group",),
    ),
    "product": Scoping(membership=IN_ASSORTMENT, params=("assortment",)),
    "product_variant": Scoping(membership=IN_ASSORTMENT, params=("assortment",)),
    "barcode": Scoping(membership=IN_ASSORTMENT, params=("assortment",)),
    "worker": Scoping(membership=AT_STORE, params=("store_number",)),
    "worker_store": Scoping(_own_store(people.WorkerStore.store_number), params=("store_number",)),
    "store_settings": Scoping(
        _own_store(conf.StoreSettings.store_number), params=("store_number",)
    ),
    "sales_tax_group": Scoping(
        lambda target: [tax.SalesTaxGroup.code == target.tax_group], params=("tax_group",)
    ),
    "register_hardware": Scoping(
        _own_store(conf.RegisterHardware.store_number), params=("store_number",)
    ),
    "assortment": Scoping(
        _when("assortment", lambda v: products.Assortment.code == v), params=("assortment",)
    ),
    "assortment_line": Scoping(
        _when("assortment", lambda v: products.AssortmentLine.assortment_code == v),
        params=("assortment",),
    ),
}

# Setup sent whole with the jobs that name it (1090 Registers, 1200 Offline scopes).
SNAPSHOTS: dict[str, SetupSnapshot] = {
    snapshot.name: snapshot
    for snapshot in (
        SetupSnapshot(
            "register",
            ("register_number",),
            _registers,
            lambda target: [Store.store_number == target.store_number],
            scope_params=("store_number",),
        ),
        SetupSnapshot("offline_profile", ("name",), _offline_profiles),
        SetupSnapshot("offline_scope", ("profile", "name"), _offline_scopes),
    )
}


def _table(name: str) -> DistributedTable | SetupSnapshot:
    if name in SNAPSHOTS:
        return SNAPSHOTS[name]
    return SCOPES.get(name, Scoping()).table(registry.TABLES[name])


# Every table a download job sends, in the jobs' order.
TABLES: dict[str, DistributedTable | SetupSnapshot] = {
    name: _table(name) for job in JOB_CATALOGUE if job.direction != UPLOAD for name in job.tables
}
