"""What still names a master data row: such a row is not deleted.

Deleting a product whose prices stay live would send registers prices of a product they no
longer have; HQ deletes or moves what uses a row first. The uses are the references the entities
declare, read backwards, plus the store fields that name master data.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from portal.core.extensions import db
from portal.masterdata.entities import ENTITIES, Entity
from portal.masterdata.references import STORE, STORE_REFERENCES


@dataclass(frozen=True)
class Use:
    """A column of `table` whose values name rows of an entity by its `column`."""

    noun: str
    table: sa.TableClause
    field: str
    column: str

    def counts(self, values: Iterable[Any], excluded: set) -> Counter:
        """How many live rows name each value, leaving out the rows of `excluded` ids."""
        wanted = set(values)
        attribute = self.table.c[self.field]
        live = self.table.c.deleted.is_(False) if "deleted" in self.table.c else sa.true()
        counted: Counter = Counter()
        if isinstance(attribute.type, sa.JSON):
            # Lists of codes (a tax group's tax codes): few rows, counted here, on any database.
            rows = db.session.execute(sa.select(self.table.c.id, attribute).where(live))
            for row_id, items in rows:
                if row_id not in excluded:
                    counted.update(set(items or ()) & wanted)
            return counted
        stmt = sa.select(attribute, sa.func.count()).where(live, attribute.in_(wanted))
        if excluded:
            stmt = stmt.where(self.table.c.id.not_in(list(excluded)))
        stmt = stmt.group_by(attribute)
        counted.update(dict(db.session.execute(stmt).all()))
        return counted


def uses_of(entity: Entity) -> list[Use]:
    """Every column that names rows of the entity."""
    found = [
        Use(other.title.lower(), other.model.__table__, reference.field, reference.column)
        for other in ENTITIES.values()
        for reference in other.references
        if reference.target == entity.name
    ]
    found += [
        Use("stores", STORE, field, "code")
        for field, reference in STORE_REFERENCES.items()
        if reference.model is entity.model
    ]
    return found


def in_use(entity: Entity, rows: list[Any]) -> dict[int, str]:
    """Why each of the rows may not be deleted, by row id; rows nobody uses are left out.

    Rows deleted together do not hold each other back (a category and its sub-categories).
    """
    deleted_together = {row.id for row in rows}
    reasons: dict[int, list[str]] = {}
    for use in uses_of(entity):
        excluded = deleted_together if use.table is entity.model.__table__ else set()
        counts = use.counts((getattr(row, use.column) for row in rows), excluded)
        for row in rows:
            if count := counts.get(getattr(row, use.column)):
                reasons.setdefault(row.id, []).append(f"{use.noun}: {count}")
    return {
        row_id: f"Still used by {', '.join(parts)}; delete or change those first."
        for row_id, parts in reasons.items()
    }


def setup_in_use(target: str, value: str) -> str | None:
    """Why a store or register (`target`) named `value` may not be deleted, or None.

    Master data rows name stores and registers by number (a worker's stores, store settings,
    register hardware); deleting one they name would leave them naming nothing.
    """
    parts = []
    for entity in ENTITIES.values():
        for reference in entity.references:
            if reference.target == target:
                table = entity.model.__table__
                use = Use(entity.title.lower(), table, reference.field, reference.column)
                if count := use.counts([value], set()).get(value):
                    parts.append(f"{use.noun}: {count}")
    if not parts:
        return None
    return f"Still named by {', '.join(parts)}; delete or change those first."
