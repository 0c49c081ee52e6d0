"""The import contracts of ARCHITECTURE.md hold: packages import downwards, never in a cycle."""

from pathlib import Path

from importlinter import api  # noqa: F401  (configures import-linter's adapters)
from importlinter.application import use_cases

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_packages_keep_their_layers_and_import_no_cycle(capsys):
    kept = use_cases.lint_imports(str(PYPROJECT), cache_dir=None, no_logo=True)
    assert kept, capsys.readouterr().out
