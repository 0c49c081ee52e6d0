"""Applying packages into the local database: full replaces, incremental upserts and deletes."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from portal.agent.apply import apply_package
from portal.agent.errors import ApplyFailed
from tests.agent.conftest import write_package

PRODUCT = {"key": ["product_number"], "columns": ["product_number", "name", "category"]}
RATE = {"key": ["tax_code", "valid_from"], "columns": ["tax_code", "valid_from", "rate"]}


def product(number, name="Coffee", category=None):
    return {"product_number": number, "name": name, "category": category}


def apply(state, tmp_path, kind, tables, package_id=1, **extra):
    path = write_package(tmp_path / f"{package_id}.zip", kind, tables, **extra)
    return apply_package(state, path, {"id": package_id, "job": "1040", "kind": kind, "sha256": ""})


def test_a_full_package_creates_each_table_keyed_as_the_manifest_says(state, tmp_path):
    tricky = 'Beans, "dark" \\N roast\\ with\nnewline'
    counts = apply(
        state,
        tmp_path,
        "full",
        {
            "product": {
                **PRODUCT,
                "lines": [("upsert", product("P1", tricky)), ("upsert", product("P2", ""))],
            },
            "tax_rate": {
                **RATE,
                "lines": [
                    ("upsert", {"tax_code": "TX", "valid_from": "2026-01-01", "rate": "6.2500"})
                ],
            },
        },
    )

    assert counts == {"product": 2, "tax_rate": 1}
    assert state.rows("product") == [product("P1", tricky), product("P2", "")]
    assert state.table_spec("tax_rate") == {
        "key": ["tax_code", "valid_from"],
        "columns": ["tax_code", "valid_from", "rate"],
    }
    pk = state.conn.execute("SELECT name, pk FROM pragma_table_info('tax_rate') WHERE pk > 0")
    assert sorted(tuple(row) for row in pk) == [("tax_code", 1), ("valid_from", 2)]
    assert state.package(1)["status"] == "applied"


def test_incremental_packages_upsert_and_delete_by_key_and_full_ones_replace(state, tmp_path):
    apply(
        state,
        tmp_path,
        "full",
        {"product": {**PRODUCT, "lines": [("upsert", product(n)) for n in ("P1", "P2", "P3")]}},
    )

    apply(
        state,
        tmp_path,
        "incremental",
        {
            "product": {
                **PRODUCT,
                "lines": [
                    ("upsert", product("P2", "Tea", "DRINKS")),
                    ("upsert", product("P4")),
                    ("delete", {"product_number": "P3"}),
                    ("delete", {"product_number": "P9"}),  # never here: nothing to do
                ],
            }
        },
        package_id=2,
    )
    assert state.rows("product") == [product("P1"), product("P2", "Tea", "DRINKS"), product("P4")]

    apply(
        state,
        tmp_path,
        "full",
        {"product": {**PRODUCT, "lines": [("upsert", product("P5"))]}},
        package_id=3,
    )
    assert state.rows("product") == [product("P5")]


def test_a_broken_package_leaves_the_previous_state_whole(state, tmp_path):
    apply(state, tmp_path, "full", {"product": {**PRODUCT, "lines": [("upsert", product("P1"))]}})
    # The second table is damaged: a line with fields missing.
    path = write_package(
        tmp_path / "2.zip",
        "full",
        {
            "product": {**PRODUCT, "lines": [("upsert", product("P2"))]},
            "tax_rate": {**RATE, "lines": []},
        },
        raw={"tax_rate": 'op,tax_code,valid_from,rate\n"upsert","TX"\n'},
    )

    with pytest.raises(ApplyFailed, match="line 2 has 2 fields, the header 4"):
        apply_package(state, path, {"id": 2, "job": "1040", "kind": "full", "sha256": ""})

    assert state.rows("product") == [product("P1")]
    assert state.table_spec("tax_rate") is None
    assert state.package(2) is None


@pytest.mark.parametrize(
    ("tables", "extra", "message"),
    [
        (
            {"agent_setting": {**PRODUCT, "lines": []}},
            {},
            "table name 'agent_setting' is not allowed",
        ),
        ({"product": {"key": ["id"], "columns": ["name"], "lines": []}}, {}, "lacks key column"),
        ({"product": {**PRODUCT, "lines": []}}, {"schema_version": 3}, "schema version 3 is newer"),
        (
            {
                "product": {
                    "key": ["product_number"],
                    "columns": ["product_number", 'x"; DROP'],
                    "lines": [],
                }
            },
            {},
            "column name",
        ),
    ],
)
def test_packages_this_agent_cannot_read_are_refused(state, tmp_path, tables, extra, message):
    with pytest.raises(ApplyFailed, match=message):
        apply(state, tmp_path, "full", tables, **extra)


def test_a_package_that_is_no_zip_is_refused(state, tmp_path):
    path = tmp_path / "1.zip"
    path.write_bytes(b"not a zip")
    with pytest.raises(ApplyFailed, match="not a valid ZIP"):
        apply_package(state, path, {"id": 1, "job": "1040", "kind": "full", "sha256": ""})


def test_new_columns_are_added_and_a_changed_key_needs_a_full_package(state, tmp_path):
    apply(state, tmp_path, "full", {"product": {**PRODUCT, "lines": [("upsert", product("P1"))]}})
    wider = {"key": ["product_number"], "columns": [*PRODUCT["columns"], "unit"]}
    apply(
        state,
        tmp_path,
        "incremental",
        {"product": {**wider, "lines": [("upsert", {**product("P2"), "unit": "kg"})]}},
        package_id=2,
    )
    assert state.rows("product") == [
        {**product("P1"), "unit": None},
        {**product("P2"), "unit": "kg"},
    ]

    rekeyed = {"key": ["name"], "columns": ["name"]}
    with pytest.raises(ApplyFailed, match="a full package must rebuild it"):
        apply(state, tmp_path, "incremental", {"product": {**rekeyed, "lines": []}}, package_id=3)
    apply(
        state,
        tmp_path,
        "full",
        {"product": {**rekeyed, "lines": [("upsert", {"name": "Tea"})]}},
        package_id=4,
    )
    assert state.rows("product") == [{"name": "Tea"}]


def test_a_process_killed_mid_apply_leaves_the_previous_state(state, tmp_path):
    apply(state, tmp_path, "full", {"product": {**PRODUCT, "lines": [("upsert", product("OLD"))]}})
    lines = [("upsert", product(f"P{n:05d}")) for n in range(5000)]
    write_package(tmp_path / "2.zip", "full", {"product": {**PRODUCT, "lines": lines}})
    # The child applies the package and is killed (SIGKILL) after writing its first chunk.
    child = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from portal.agent import apply
        from portal.agent.local import LocalState

        write = apply._write
        def write_then_die(*args):
            write(*args)
            os.kill(os.getpid(), signal.SIGKILL)
        apply._write = write_then_die
        state = LocalState({str(state.path)!r})
        item = {{"id": 2, "job": "1040", "kind": "full", "sha256": ""}}
        apply.apply_package(state, Path({str(tmp_path / "2.zip")!r}), item)
        """
    )
    result = subprocess.run([sys.executable, "-c", child], cwd=os.getcwd(), capture_output=True)

    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    assert state.rows("product") == [product("OLD")]
    assert state.package(2) is None
