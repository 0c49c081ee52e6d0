"""What a package's manifest says: the job and version window it holds, each table's key and
columns. Plain data in, plain data out, so builders, tests and tools all write the same one."""

from collections.abc import Mapping
from typing import Any


def manifest(job: str, kind: str, base: int, upto: int, tables: Mapping[str, Any]) -> dict:
    """The manifest of a package of `tables` (name to distributable table), in their order.

    The package writer adds the row counts and the schema version once the rows are written.
    """
    return {
        "job": job,
        "kind": kind,
        "base_version": base,
        "new_version": upto,
        "tables": {
            name: {"key": list(table.key), "columns": [c.key for c in table.columns]}
            for name, table in tables.items()
        },
    }
