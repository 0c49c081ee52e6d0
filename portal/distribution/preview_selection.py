"""What the offline databases of selected registers receive together, for a bulk confirmation.

Registers follow their own offline profile, else their store's; those sharing a profile and a
store receive the same, so each distinct pair is previewed once (`preview.Estimator`), however
many registers it has.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.sql import among
from portal.distribution.preview import COLUMNS, EXACT, Estimator, estimate_of, rows_estimate_of
from portal.distribution.targets import store_target
from portal.setup.models import OfflineProfile, Register, Store

# Register ids per query: below SQLite's limit on placeholders.
ID_CHUNK = 10_000


@dataclass
class SelectionPreview:
    """What the offline databases of selected registers receive together."""

    registers: int
    databases: int
    rows_total: int
    bytes_total: int
    tables: dict[str, int] = field(default_factory=dict)
    estimate: str = COLUMNS
    rows_estimate: str = EXACT
    without_data: int = 0

    @property
    def bytes_each(self) -> int:
        """Estimated bytes of one offline database's first packages, on average."""
        return self.bytes_total // self.databases if self.databases else 0

    @property
    def summary(self) -> str:
        """The sentence a confirmation shows."""
        n = self.registers
        text = (
            f"Enabling offline for {n:,} register{'s' * (n != 1)}: {self.databases:,} offline "
            f"database{'s' * (self.databases != 1)}, about {human_bytes(self.bytes_each)} each, "
            f"{human_bytes(self.bytes_total)} of first packages, "
            f"{'about ' if self.rows_estimate != EXACT else ''}{human_count(self.rows_total)} rows."
        )
        if self.without_data:
            text += f" {self.without_data:,} of them receive no data (no profile, or paused)."
        return text


def selection_preview(register_ids: Iterable[int]) -> SelectionPreview:
    """What the offline databases of these registers receive, one preview per profile and store.

    Registers follow their own profile, else their store's; those sharing a profile and a store
    receive the same, so each distinct pair is counted once however many registers it has.
    """
    ids = sorted(set(register_ids))
    profile_id = sa.func.coalesce(Register.offline_profile_id, Store.offline_profile_id)
    pairs: Counter[tuple[int | None, int]] = Counter()
    for start in range(0, len(ids), ID_CHUNK):
        rows = db.session.execute(
            sa.select(profile_id, Register.store_id, sa.func.count())
            .join(Register.store)
            .where(among(Register.id, ids[start : start + ID_CHUNK]))
            .group_by(profile_id, Register.store_id)
        )
        for profile, store, count in rows:
            pairs[(profile, store)] += count
    estimator = Estimator()
    profiles = _by_id(OfflineProfile, {p for p, _ in pairs if p is not None})
    stores = _by_id(Store, {s for _, s in pairs})
    estimator.count(
        [
            (table, store_target(stores[store]))
            for profile, store in pairs
            if profile is not None
            for _, table in estimator.carried(profiles[profile])
        ]
    )
    registers = sum(pairs.values())
    selection = SelectionPreview(registers, databases=registers, rows_total=0, bytes_total=0)
    estimates, counted = [], []
    for (profile, store), count in pairs.items():
        preview = estimator.preview(profiles[profile], stores[store]) if profile else None
        if preview is None or not preview.tables:
            selection.without_data += count
            continue
        selection.rows_total += preview.rows_total * count
        selection.bytes_total += preview.bytes_total * count
        for size in preview.tables:
            selection.tables[size.table] = selection.tables.get(size.table, 0) + size.rows * count
            counted.append(size.rows_estimate)
            if size.rows:
                estimates.append(size.estimate)
    selection.estimate = estimate_of(estimates)
    selection.rows_estimate = rows_estimate_of(counted)
    return selection


def _by_id(model: type, ids: set[int]) -> dict[int, object]:
    if not ids:
        return {}
    return {row.id: row for row in db.session.scalars(sa.select(model).where(among(model.id, ids)))}


def human_bytes(size: float) -> str:
    """A size as people read it: 180 MB, 360 GB."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "bytes" or size >= 10 else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:,.0f} TB"


def human_count(count: int) -> str:
    """A count as people read it: 14 million, 2,000."""
    if count >= 1_000_000_000:
        return f"{count / 1_000_000_000:.1f} billion".replace(".0 ", " ")
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f} million".replace(".0 ", " ")
    return f"{count:,}"
