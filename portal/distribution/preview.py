"""What an offline database will receive before offline is switched on: rows and bytes per table.

The rows come from the very selects a full package is built from (`TABLES[t].selects(...,
full=True)`) and the same choice of tables (`targets.offline_job_tables`), so a preview and the
package built afterwards cannot disagree on scope. They are exact counts, except for a table
whose scope reads more than `EXACT_UP_TO` rows on PostgreSQL (a catalogue of a million products):
counting that takes seconds, so its rows are the planner's estimate for those selects (its
statistics of the tables, scaled by the selectivity of the scope's filters and joins), taken in
milliseconds, and said to be estimates (`rows_estimate`). A count taken earlier and still
current (nothing it read has changed since) is used as it is, exact. Bytes are estimates: per
row of a table, the sizes of the full packages already built that carry it; for a table no
built package carries yet, the widths of its columns, compressed as packages usually are.
"""

import dataclasses
import functools
import operator
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.sql import among, is_postgresql, planned_rows, table_rows
from portal.distribution.models import FULL, DataPackage, SchedulerJob
from portal.distribution.services import list_jobs
from portal.distribution.tables import TABLES, DistributedTable, Target
from portal.distribution.targets import offline_job_tables, profile_tables, store_target
from portal.masterdata.versioning import committed_version
from portal.setup.models import OfflineProfile, Store

# How a table's bytes were estimated, as the page and the API name it.
BUILT = "built_packages"
COLUMNS = "columns"
MIXED = "mixed"
# How a table's rows were found: counted, or the planner's estimate.
EXACT = "exact"
PLANNER = "planner"
# Past this many rows in the tables a scope reads, its rows are estimated, not counted: a count
# of a store's scope in a million products takes seconds; below, well under a tenth of one.
EXACT_UP_TO = 200_000
# The newest full packages read for their sizes: enough to average, few enough to stay quick.
PACKAGE_SAMPLE = 500
# An assumed ratio for deflate on the packages' quoted, repetitive CSV, not a measured one; only
# used for tables no built package carries yet, and the figures then say `columns`.
CSV_COMPRESSION = 4
# Store settings per statement: a selection's 10,000 stores in few round trips.
TARGETS_PER_STATEMENT = 5_000
# Up to this many distinct settings, each is counted with its values written in.
FEW_TARGETS = 10
TARGET_SETTINGS = tuple(f.name for f in dataclasses.fields(Target))


@dataclass(frozen=True)
class TableSize:
    """One table of a first full package: its job, rows and estimated bytes."""

    table: str
    job: str
    rows: int
    bytes: int
    estimate: str
    rows_estimate: str = EXACT


@dataclass(frozen=True)
class OfflinePreview:
    """What one offline database of a profile at a store receives in its first full packages."""

    profile: str
    store: str
    paused: bool
    tables: list[TableSize]

    @property
    def rows_total(self) -> int:
        """Rows of every table together."""
        return sum(t.rows for t in self.tables)

    @property
    def bytes_total(self) -> int:
        """Estimated bytes of every table together."""
        return sum(t.bytes for t in self.tables)

    @property
    def estimate(self) -> str:
        """Where the byte figures come from: built packages, column widths, or both."""
        return estimate_of(t.estimate for t in self.tables if t.rows)

    @property
    def rows_estimate(self) -> str:
        """`exact` when every table's rows were counted, else `planner`."""
        return rows_estimate_of(t.rows_estimate for t in self.tables)


# Counts taken, by database, table and scope setting, with the newest change versions of the
# rows they read: a count at a million products takes seconds, and is taken again only once one
# of those rows has changed (every write, a deletion too, gives a row a new version).
_TAKEN: dict[tuple, tuple[tuple, int]] = {}
TAKEN_LIMIT = 100_000


class Estimator:
    """Row counts and byte sizes shared by the previews of one request."""

    def __init__(self) -> None:
        self.upto = committed_version(db.session.connection())
        self.jobs = list_jobs()
        self._database = db.engine.url.render_as_string()
        self._counts: dict[tuple, int] = {}
        # Counts that are the planner's estimates.
        self._planned: set[tuple] = set()
        self._sizes: dict[str, int | None] = {}
        self._versions: dict[type, int | None] = {}
        self._carried: dict[int, list[tuple[SchedulerJob, str]]] = {}
        self._built: dict[str, float] | None = None

    def carried(self, profile: OfflineProfile) -> list[tuple[SchedulerJob, str]]:
        """The jobs and tables an offline database of `profile` receives, in the jobs' order."""
        if profile.id not in self._carried:
            allowed = profile_tables(profile)
            self._carried[profile.id] = [
                (job, t) for job in self.jobs for t in offline_job_tables(allowed, job)
            ]
        return self._carried[profile.id]

    def preview(self, profile: OfflineProfile, store: Store) -> OfflinePreview:
        """The tables an offline database of `profile` at `store` receives, with sizes."""
        target = store_target(store)
        carried = self.carried(profile)
        if any(self._key(t, target) not in self._counts for _, t in carried):
            self.count([(t, target) for _, t in carried])
        sizes = []
        for job, table in carried:
            rows = self.rows(table, target)
            per_row, estimate = self.bytes_per_row(table)
            counted = PLANNER if self._key(table, target) in self._planned else EXACT
            sizes.append(
                TableSize(table, job.job_number, rows, round(rows * per_row), estimate, counted)
            )
        return OfflinePreview(profile.name, store.store_number, profile.pause_sync, sizes)

    def count(self, wanted: list[tuple[str, Target]]) -> None:
        """Count the rows of these (table, target) pairs not counted yet, a statement per table.

        Each count is over the table's selects for a full package. Targets alike in the store
        settings the table's scope reads get the same rows, so a table is counted once per
        distinct setting, for all of them in one statement (a selection spans 10,000 stores).
        """
        targets = {self._key(table, target): target for table, target in wanted}
        stamps = self._stamps(set(targets) - set(self._counts))
        missing = []
        for key, stamp in stamps.items():
            taken = _TAKEN.get((self._database, *key))
            if stamp is not None and taken is not None and taken[0] == stamp:
                self._counts[key] = taken[1]
            else:
                missing.append(key)
        if len(_TAKEN) > TAKEN_LIMIT:
            _TAKEN.clear()
        large = self._large({key[0] for key in missing})
        for key in [key for key in missing if key[0] in large]:
            self._counts[key] = sum(
                planned_rows(_rows_of(stmt))
                for stmt in TABLES[key[0]].selects(targets[key], 0, self.upto, full=True)
            )
            self._planned.add(key)
        missing = [key for key in missing if key[0] not in large]
        # A setting that is None leaves its filter out: a shape of its own.
        shapes: dict[tuple, list[tuple]] = {}
        for key in missing:
            shapes.setdefault((key[0], tuple(v is None for v in key[1])), []).append(key)
        for (table, nulls), keys in shapes.items():
            for start in range(0, len(keys), TARGETS_PER_STATEMENT):
                chunk = keys[start : start + TARGETS_PER_STATEMENT]
                for key, rows in self._count_table(table, nulls, chunk, targets).items():
                    self._counts[key] = rows
                    if stamps[key] is not None:
                        _TAKEN[(self._database, *key)] = (stamps[key], rows)

    def _count_table(self, table: str, nulls: tuple, keys: list[tuple], targets: dict) -> dict:
        """Rows of `table` per scope setting of `keys` (their settings None where `nulls` says).

        The package's selects are built for a target whose settings are the columns of a
        derived table of the wanted stores' settings, so one statement counts for all of them.
        """
        distributed = TABLES[table]
        given = [p for p, null in zip(distributed.scope_params, nulls, strict=True) if not null]
        if not given or len(keys) <= FEW_TARGETS:
            # With the values written in, the planner can hash or scan in parallel: at a
            # million products that is many times quicker than a lookup per row.
            return {
                key: db.session.scalar(
                    sa.select(_total(distributed.selects(targets[key], 0, self.upto, True)))
                )
                for key in keys
            }
        numbers = [targets[key].store_number for key in keys]
        settings = (
            sa.select(*(getattr(Store, p) for p in given))
            .where(among(Store.store_number, numbers))
            .distinct()
            .subquery("wanted")
        )
        proxy = Target(**{f: settings.c[f] if f in given else None for f in TARGET_SETTINGS})
        selects = distributed.selects(proxy, 0, self.upto, full=True)
        rows = db.session.execute(
            sa.select(*(settings.c[p] for p in given), _total(selects)).select_from(settings)
        )
        found = {}
        for *values, count in rows:
            read = iter(values)
            found[(table, tuple(None if null else next(read) for null in nulls))] = count
        return found

    def _large(self, tables: set[str]) -> set[str]:
        """The tables whose scope reads more than `EXACT_UP_TO` rows, as PostgreSQL's
        statistics say (a table never analyzed yet is counted)."""
        if not tables or not is_postgresql():
            return set()
        read = {table: _versioned_models(table) for table in tables}
        names = {model.__tablename__ for models in read.values() for model in models}
        if unknown := names - set(self._sizes):
            self._sizes.update(dict.fromkeys(unknown) | table_rows(unknown))
        return {
            table
            for table, models in read.items()
            if any((self._sizes.get(m.__tablename__) or 0) > EXACT_UP_TO for m in models)
        }

    def _stamps(self, keys: set[tuple]) -> dict[tuple, tuple | None]:
        """Per count, the newest versions of the tables it reads (None: they carry none)."""
        models = {key: _versioned_models(key[0]) for key in keys}
        unknown = sorted(
            {m for found in models.values() for m in found} - set(self._versions),
            key=lambda model: model.__tablename__,
        )
        if unknown:
            newest = [
                sa.select(sa.func.max(m.row_version)).where(m.row_version <= self.upto)
                for m in unknown
            ]
            row = db.session.execute(sa.select(*(q.scalar_subquery() for q in newest))).one()
            self._versions.update(zip(unknown, row, strict=True))
        return {
            key: tuple(self._versions[m] for m in found) if found else None
            for key, found in models.items()
        }

    def rows(self, table: str, target: Target) -> int:
        """Rows of `table` in a full package for `target`, counted once per scope setting."""
        key = self._key(table, target)
        if key not in self._counts:
            self.count([(table, target)])
        return self._counts[key]

    @staticmethod
    def _key(table: str, target: Target) -> tuple:
        # Targets alike in the settings a table's scope reads receive the same rows of it.
        return (table, tuple(getattr(target, p) for p in TABLES[table].scope_params))

    def bytes_per_row(self, table: str) -> tuple[float, str]:
        """Estimated package bytes per row of `table`, and how they were estimated."""
        if self._built is None:
            self._built = built_bytes_per_row()
        if table in self._built:
            return self._built[table], BUILT
        return _column_estimate(table), COLUMNS


def _total(selects: list[sa.Select]) -> sa.ColumnElement[int]:
    """The rows of a package's selects: each counted with its FROM and WHERE untouched.

    A count needs none of the columns, whose text conversions cost more to compile than the
    count of a store's few rows costs to run.
    """
    counts = [
        stmt.with_only_columns(sa.func.count(), maintain_column_froms=True)
        .order_by(None)
        .scalar_subquery()
        for stmt in selects
    ]
    return functools.reduce(operator.add, counts).label("rows")


def _rows_of(stmt: sa.Select) -> sa.Select:
    """A package select reduced to its FROM and WHERE: what the planner estimates rows for."""
    return stmt.with_only_columns(sa.literal(1), maintain_column_froms=True).order_by(None)


def _versioned_models(table: str) -> list[type]:
    """The tables whose rows a count of `table` reads, if they carry change versions."""
    distributed = TABLES[table]
    if not isinstance(distributed, DistributedTable):
        return []  # setup sent whole: small, and counted every time
    member = distributed.membership
    return [distributed.model, *([member.model] if member else [])]


def built_bytes_per_row() -> dict[str, float]:
    """Per table, the bytes per row of the newest full packages carrying it.

    A package's size is shared among its tables by their rows, as its file does not say how much
    each table took once compressed.
    """
    packages = db.session.execute(
        sa.select(DataPackage.size, DataPackage.row_counts)
        .where(DataPackage.kind == FULL)
        .order_by(DataPackage.id.desc())
        .limit(PACKAGE_SAMPLE)
    )
    sizes: dict[str, float] = defaultdict(float)
    rows: Counter[str] = Counter()
    for size, counts in packages:
        total = sum(counts.values())
        for table, count in counts.items() if total else ():
            sizes[table] += size * count / total
            rows[table] += count
    return {table: sizes[table] / rows[table] for table in rows if rows[table]}


@functools.cache
def _column_estimate(table: str) -> float:
    return column_bytes_per_row(TABLES[table].columns)


def column_bytes_per_row(columns: Iterable) -> float:
    """A row's compressed CSV bytes guessed from its column types (used before any build)."""
    line = len('"upsert",') + sum(_column_width(c) + 3 for c in columns)
    return line / CSV_COMPRESSION


def _column_width(column) -> int:
    kind = column.type
    if isinstance(kind, sa.TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, sa.Boolean):
        return 1
    if isinstance(kind, sa.Integer):
        return 6
    if isinstance(kind, sa.Numeric):
        return 8
    if isinstance(kind, sa.DateTime):
        return 25
    if isinstance(kind, sa.Date):
        return 10
    if isinstance(kind, sa.String) and kind.length:
        # Codes and names fill a third of their room, as far as 80 characters of it.
        return min(kind.length, 80) // 3 + 1
    return 24


def estimate_of(estimates: Iterable[str]) -> str:
    """One word for how a set of byte figures was estimated."""
    kinds = set(estimates)
    if len(kinds) == 1:
        return kinds.pop()
    return MIXED if kinds else BUILT


def forget_counts() -> None:
    """Drop the counts kept from earlier previews: the next ones count (or estimate) afresh."""
    _TAKEN.clear()


def rows_estimate_of(estimates: Iterable[str]) -> str:
    """`exact` when every row figure was counted, else `planner`."""
    return PLANNER if PLANNER in set(estimates) else EXACT


def profile_preview(profile: OfflineProfile, store: Store) -> OfflinePreview:
    """What an offline database of `profile` at `store` receives in its first full packages."""
    return Estimator().preview(profile, store)
