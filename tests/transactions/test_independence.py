"""Received sales know nothing of the audit: the auditor workspace listens, never the reverse."""

import ast
from pathlib import Path

import portal.transactions

PACKAGE = Path(portal.transactions.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports, at any depth of its code."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def test_transactions_import_nothing_of_the_auditor():
    offending = {
        f"{path.name}: {module}"
        for path in sorted(PACKAGE.glob("*.py"))
        for module in imported_modules(path)
        if module == "portal.auditor" or module.startswith("portal.auditor.")
    }
    assert offending == set()
