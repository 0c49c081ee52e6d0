"""What differs between the databases the portal runs on, said once: which one it is, and a
list of values passed as one PostgreSQL array parameter instead of a placeholder per value."""

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from portal.core.extensions import db
from portal.core.models import utcnow


def is_postgresql(bind: sa.Connection | sa.Engine | None = None) -> bool:
    """Whether the database of `bind`, by default the session's, is PostgreSQL."""
    return (bind if bind is not None else db.session.get_bind()).dialect.name == "postgresql"


def commit_unflushed() -> sa.Function:
    """A PostgreSQL expression whose evaluation lets the transaction's commit return before its
    WAL is on disk (`synchronous_commit` off for that transaction only).

    For writes that the next request of the same device says again (a heartbeat, a token's
    last use): a crash of the database may lose the last instant of them, and nothing else.
    """
    return sa.func.set_config("synchronous_commit", "off", True)


@contextmanager
def btree_lookups() -> Iterator[None]:
    """The statements run within plan no bitmap scan (PostgreSQL; nothing elsewhere).

    A trigram index (GIN, `gin_trgm_ops`) answers equality too, through a bitmap scan only, and
    the planner may prefer it to a btree on the same column. But every lookup in it reads its
    whole pending list (rows inserted since it was last merged, up to 4 MB): 500 receipts looked
    up that way took 4.4 s where the btree took 1 ms (bench/RESULTS.md). Lookups of many keys
    by equality in a table with such an index run within this. Not reset if a statement fails:
    the transaction is then rolled back, and the setting with it.
    """
    if not is_postgresql():
        yield
        return
    db.session.execute(sa.text("SET LOCAL enable_bitmapscan = off"))
    yield
    db.session.execute(sa.text("RESET enable_bitmapscan"))


def array_param(name: str | None, values: Iterable, item_type) -> sa.BindParameter:
    """`values` bound as one PostgreSQL array of `item_type` (a column type), sent in binary."""
    return _BinaryArray(name, list(values), type_=postgresql.ARRAY(item_type))


class _BinaryArray(sa.BindParameter):
    """A bound array the driver sends in binary: its text form quotes every element through a
    regular expression, which took twice as long for arrays of thousands (measured)."""

    inherit_cache = True


_ANY_FORMAT = re.compile(r"^%\(([^)]+)\)s")


@compiles(_BinaryArray, "postgresql")
def _compile_binary_array(element: _BinaryArray, compiler, **kw) -> str:
    # psycopg's placeholder for a parameter in binary is %(name)b where %(name)s is any format.
    return _ANY_FORMAT.sub(r"%(\1)b", compiler.visit_bindparam(element, **kw), count=1)


def unnested(**columns: tuple[Iterable, object]) -> sa.TableValuedAlias:
    """A derived table of the lists side by side, `name=(values, column type)`, each one array.

    On PostgreSQL, rows of thousands of values joined to or inserted from this cost one parameter
    per column, where a placeholder per value costs more than the query. Each array is the
    parameter `<name>_values`, which a statement built once is given when it runs.
    """
    arrays = [
        array_param(f"{name}_values", values, item_type)
        for name, (values, item_type) in columns.items()
    ]
    return sa.func.unnest(*arrays).table_valued(*columns).render_derived()


def rows_select(table: sa.Table, rows: list[dict]) -> sa.Select:
    """Rows (dicts of the same columns) as one SELECT FROM unnest(arrays), a column an array:
    the source of an INSERT ... SELECT of thousands of rows on PostgreSQL."""
    columns = {name: ([row[name] for row in rows], table.c[name].type) for name in rows[0]}
    return sa.select(unnested(**columns))


def insert_many(table: sa.Table, rows: list[dict], returning: sa.Column) -> list:
    """Insert the rows (column defaults fill the rest); returns `returning` of each, sorted.

    One INSERT ... SELECT FROM unnest(arrays) on PostgreSQL, an executemany elsewhere.
    """
    if not rows:
        return []
    if is_postgresql():
        stmt = sa.insert(table).from_select(list(rows[0]), rows_select(table, rows))
        return sorted(db.session.scalars(stmt.returning(returning)))
    return sorted(db.session.scalars(sa.insert(table).returning(returning), rows))


def among(column: sa.ColumnElement, values: Iterable) -> sa.ColumnElement[bool]:
    """`column IN values`, as one array parameter on PostgreSQL.

    A batch names thousands of products: a placeholder for each costs more than the query, and
    so does `= ANY(array)`, which the planner estimates element by element.
    """
    values = list(values)
    if not is_postgresql():
        return column.in_(values)
    return _in_array(column, array_param(None, values, column.type))


def among_param(column: sa.ColumnElement, name: str, on_postgresql: bool) -> sa.ColumnElement[bool]:
    """`among` for a statement built once per dialect (`on_postgresql`: `is_postgresql()`):
    `column IN` the list given as parameter `name` when it runs."""
    if not on_postgresql:
        return column.in_(sa.bindparam(name, expanding=True))
    return _in_array(column, array_param(name, (), column.type))


def _in_array(column: sa.ColumnElement, array: sa.BindParameter) -> sa.ColumnElement[bool]:
    return column.in_(sa.select(sa.func.unnest(array)).scalar_subquery())


# Keys per lookup: one array parameter on PostgreSQL, a placeholder each on SQLite.
KEY_CHUNK = 5000


def ids_by_key(key: sa.ColumnElement, id_column: sa.ColumnElement, keys: list) -> dict:
    """The ids of the rows whose `key` is one of `keys` (matched stripped and upper-cased), by
    the key as given; keys not found are left out."""
    wanted = {str(value).strip().upper(): value for value in keys}
    found = {}
    normal = list(wanted)
    for start in range(0, len(normal), KEY_CHUNK):
        rows = db.session.execute(
            sa.select(key, id_column).where(among(key, normal[start : start + KEY_CHUNK]))
        )
        found.update({wanted[value]: record_id for value, record_id in rows})
    return found


# Values per statement on SQLite, a placeholder each: below its bound-parameter limit.
SQLITE_BATCH = 1000


def batches(values: list) -> list[list]:
    """`values` in as few pieces as one statement each takes: one array on PostgreSQL, a
    thousand placeholders at a time on SQLite."""
    if is_postgresql():
        return [values] if values else []
    return [values[start : start + SQLITE_BATCH] for start in range(0, len(values), SQLITE_BATCH)]


def update_ids(table: sa.Table, ids: list, values: dict, *read: sa.Column) -> list[sa.Row]:
    """Set `values` (and `updated_at`) on the rows of `table` with these ids, a batch a
    statement; for each row its `read` columns, then what the changed columns held before,
    ordered by the first of `read` (the audit trail's order)."""
    changed = [table.c[name] for name in values]
    befores = []
    for part in batches(ids):
        befores += db.session.execute(
            sa.select(*read, *changed).where(among(table.c.id, part)).order_by(read[0])
        ).all()
        if values:
            db.session.execute(
                sa.update(table)
                .where(among(table.c.id, part))
                .values(**values, updated_at=utcnow())
            )
    return befores


class _Explain(Executable, ClauseElement):
    """`EXPLAIN (FORMAT JSON)` of a select, its parameters bound as the select's own."""

    inherit_cache = False

    def __init__(self, stmt: sa.Select) -> None:
        self.stmt = stmt


@compiles(_Explain, "postgresql")
def _compile_explain(element: _Explain, compiler, **kw) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.stmt, **kw)


def planned_rows(stmt: sa.Select) -> int:
    """The rows PostgreSQL's planner expects `stmt` to return, from its table statistics: what
    a count would say, estimated in the time it takes to plan the query, not to run it."""
    plan = db.session.execute(_Explain(stmt)).scalar_one()
    return round(plan[0]["Plan"]["Plan Rows"])


def table_rows(names: Iterable[str]) -> dict[str, int | None]:
    """PostgreSQL's estimate of each table's rows (`pg_class.reltuples`, kept by ANALYZE and
    autovacuum); None for a table never analyzed."""
    rows = db.session.execute(
        sa.text(
            "SELECT relname, reltuples FROM pg_class WHERE relname = ANY(:names) "
            "AND relkind = 'r' AND pg_table_is_visible(oid)"
        ),
        {"names": list(names)},
    )
    return {name: (round(count) if count >= 0 else None) for name, count in rows}
