"""`flask portal export-csv` and `import-csv` for stores and registers: the same rules."""

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.setup.models import Register

pytestmark = pytest.mark.usefixtures("app_ctx", "chain")


def portal(app, *args):
    return app.test_cli_runner().invoke(args=["portal", *args])


def test_export_then_import_an_edited_file(app, tmp_path):
    exported = portal(app, "export-csv", "registers")
    assert exported.exit_code == 0, exported.output
    assert exported.output.splitlines()[0] == (
        "register_number,store,support_offline,offline_profile,active"
    )
    edited = exported.output.replace("DALLAS-3,DALLAS,false,,true", "DALLAS-3,DALLAS,false,,false")
    path = tmp_path / "registers.csv"
    path.write_text(edited)

    dry = portal(app, "import-csv", "registers", str(path), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Dry run of registers: 0 created, 1 changed, 6 unchanged; nothing saved." in dry.output
    db.session.rollback()
    assert db.session.scalar(sa.select(Register.active).filter_by(register_number="DALLAS-3"))

    done = portal(app, "import-csv", "registers", str(path))
    assert done.exit_code == 0, done.output
    assert "1 changed" in done.output and "(operation " in done.output
    db.session.rollback()
    assert not db.session.scalar(sa.select(Register.active).filter_by(register_number="DALLAS-3"))


def test_import_lists_every_error_and_exits_non_zero(app, tmp_path):
    path = tmp_path / "stores.csv"
    path.write_text("store_number,currency,time_zone\nX1,ZZZ,UTC\nX2,USD,Nowhere/Else\n")

    failed = portal(app, "import-csv", "stores", str(path))

    assert failed.exit_code == 1
    assert "line 2.currency" in failed.output and "line 3.time_zone" in failed.output
