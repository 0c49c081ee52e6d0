"""Package files: a ZIP holding a manifest and one CSV file per table.

Files are written under a temporary name, flushed to disk and renamed into place, so a reader
never sees a partial package; the content key names the file, so a rebuild after a crash writes
the same file again instead of a second one.
"""

import csv
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

from portal.distribution.export import TableExport, parse_field

SCHEMA_VERSION = 2
# A fixed timestamp makes the same content produce the same bytes and checksum.
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)
# Fast compression keeps a build close to the database's own export speed.
_COMPRESS_LEVEL = 1


def write_package(
    store: Path,
    content_key: str,
    manifest: dict,
    tables: Iterable[tuple[str, list[TableExport]]],
) -> tuple[str, int, str, dict[str, int], str]:
    """Write a package; returns its path, size, SHA-256, row counts and content digest.

    The content digest covers the tables' rows only, not the manifest's versions: two packages
    with the same digest carry the same data.
    """
    relative = f"{content_key[:2]}/{content_key}.zip"
    final = store / relative
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(f".{final.name}.{os.getpid()}.partial")
    counts: dict[str, int] = {}
    content = hashlib.sha256()
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=_COMPRESS_LEVEL) as zf:
        for table, exports in tables:
            content.update(f"\0{table}\0".encode())
            with zf.open(_entry(f"{table}.csv"), "w") as out:
                for export in exports:
                    for chunk in export.chunks():
                        out.write(chunk)
                        content.update(chunk)
            counts[table] = sum(export.rows for export in exports)
        full_manifest = {**manifest, "row_counts": counts, "schema_version": SCHEMA_VERSION}
        zf.writestr(_entry("manifest.json"), json.dumps(full_manifest, indent=2, sort_keys=True))
    with open(partial, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, final)
    return relative, final.stat().st_size, file_sha256(final), counts, content.hexdigest()


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    # Python 3.13 names the attribute compress_level; 3.11 and 3.12 only know _compresslevel.
    attribute = "compress_level" if hasattr(info, "compress_level") else "_compresslevel"
    setattr(info, attribute, _COMPRESS_LEVEL)
    return info


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_package(path: Path) -> tuple[dict, dict[str, list[dict]]]:
    """The manifest and each table's lines as `{"op", "key", "row"}` (for tests and tools)."""
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        tables = {}
        for name, spec in manifest["tables"].items():
            with archive.open(f"{name}.csv") as raw:
                reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
                header = next(reader)[1:]
                tables[name] = [parse_line(row, header, spec["key"]) for row in reader]
    return manifest, tables


def parse_line(row: list[str], header: list[str], key: list[str]) -> dict:
    """One CSV row of a table as `{"op", "key", "row"}` (no row for deletions)."""
    values = dict(zip(header, (parse_field(text) for text in row[1:]), strict=True))
    line = {"op": row[0], "key": {k: values[k] for k in key}}
    if row[0] == "upsert":
        line["row"] = values
    return line
