"""Package files: a ZIP holding a manifest and one JSON-lines file per table.

Files are written under a temporary name, flushed to disk and renamed into place, so a reader
never sees a partial package; the content key names the file, so a rebuild after a crash writes
the same file again instead of a second one.
"""

import hashlib
import json
import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

SCHEMA_VERSION = 1
# A fixed timestamp makes the same content produce the same bytes and checksum.
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)


def write_package(
    store: Path, content_key: str, manifest: dict, tables: Iterable[tuple[str, Iterator[dict]]]
) -> tuple[str, int, str, dict[str, int]]:
    """Write a package; returns its relative path, size, SHA-256 and row counts per table."""
    relative = f"{content_key[:2]}/{content_key}.zip"
    final = store / relative
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(f".{final.name}.{os.getpid()}.partial")
    counts: dict[str, int] = {}
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table, lines in tables:
            info = zipfile.ZipInfo(f"{table}.jsonl", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            count = 0
            with archive.open(info, "w") as out:
                for line in lines:
                    out.write(json.dumps(line, separators=(",", ":"), sort_keys=True).encode())
                    out.write(b"\n")
                    count += 1
            counts[table] = count
        info = zipfile.ZipInfo("manifest.json", date_time=_ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        full_manifest = {**manifest, "row_counts": counts, "schema_version": SCHEMA_VERSION}
        archive.writestr(info, json.dumps(full_manifest, indent=2, sort_keys=True))
    with open(partial, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, final)
    return relative, final.stat().st_size, file_sha256(final), counts


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_package(path: Path) -> tuple[dict, dict[str, list[dict]]]:
    """The manifest and the lines of each table of a package (for tests and tools)."""
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        tables = {
            name.removesuffix(".jsonl"): [
                json.loads(line) for line in archive.read(name).decode().splitlines()
            ]
            for name in archive.namelist()
            if name.endswith(".jsonl")
        }
    return manifest, tables
