"""Agent test helpers: package files written as HQ writes them, the CLI run through main(), HQ."""

import json
import zipfile
from pathlib import Path

import pytest

from portal.agent.cli import main
from portal.agent.local import LocalState
from portal.distribution.export import NULL
from tests.agent.faulty import faulty_proxy
from tests.agent.portal import build_waiting_runs, issue_code, seed_hq
from tests.distribution.conftest import task_queue  # noqa: F401


def csv_field(value) -> str:
    """One field as the package format writes it: quoted, NULL bare, backslashes doubled."""
    if value is None:
        return NULL
    return '"' + str(value).replace("\\", "\\\\").replace('"', '""') + '"'


def write_package(
    path: Path, kind: str, tables: dict[str, dict], schema_version: int = 2, raw: dict | None = None
) -> Path:
    """A package file: `tables` maps a name to {"key", "columns", "lines": [(op, row)]}.

    `raw` gives a table's CSV text as is, to write a damaged one.
    """
    manifest = {
        "job": "TEST",
        "kind": kind,
        "base_version": 0,
        "new_version": 1,
        "schema_version": schema_version,
        "tables": {n: {"key": t["key"], "columns": t["columns"]} for n, t in tables.items()},
    }
    with zipfile.ZipFile(path, "w") as archive:
        for name, table in tables.items():
            rows = [",".join(["op", *table["columns"]])]
            for op, row in table["lines"]:
                values = [row.get(c) for c in table["columns"]]
                rows.append(",".join([csv_field(op), *(csv_field(v) for v in values)]))
            text = (raw or {}).get(name, "\n".join(rows) + "\n")
            archive.writestr(f"{name}.csv", text)
        archive.writestr("manifest.json", json.dumps(manifest))
    return path


@pytest.fixture
def state(tmp_path):
    """A fresh local agent database."""
    local = LocalState(tmp_path / "agent.sqlite")
    yield local
    local.close()


@pytest.fixture
def agent(tmp_path, capsys):
    """`agent(*argv)` runs portal-agent on this test's state file; returns (code, out, err)."""
    state_file = tmp_path / "agent.sqlite"

    def run(*argv: str, state: Path | None = None) -> tuple[int, str, str]:
        code = main(["--state", str(state or state_file), "--backoff", "0.05", *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    run.state_file = state_file
    return run


@pytest.fixture
def hq(app_ctx, task_queue):  # noqa: F811
    """HQ with the demo catalogue for HOUSTON and SEATTLE; activations queue on the test's own."""
    seed_hq()


@pytest.fixture
def activated(agent, live_url, hq):
    """`activated(name)` activates an agent for a database and builds its first full packages."""

    def activate(name: str) -> None:
        code = issue_code(name)
        result = agent("--url", live_url, "activate", "--database", name, "--code", code)
        assert result[0] == 0, result
        build_waiting_runs()

    return activate


@pytest.fixture
def proxy(live_url):
    """(proxy, its address): the live portal behind a proxy that fails what it is told to."""
    with faulty_proxy(live_url) as pair:
        yield pair
