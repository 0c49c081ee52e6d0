"""The scope-size preview: what an offline database will receive, before offline is switched on."""

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution import preview as previews
from portal.distribution import preview_selection as selections
from portal.distribution.models import DownloadSession
from portal.masterdata import services as masterdata
from portal.masterdata.products import AssortmentLine, Product
from portal.setup.models import Register
from portal.setup.offline_profiles import services as profiles
from portal.setup.registers import services as registers
from tests.distribution.conftest import package_lines, run_schedule
from tests.distribution.preview_setup import profile, seed_chain, store
from tests.factories import RegisterFactory, StoreFactory


@pytest.fixture
def chain(tax_data):
    """Two stores of one offline profile, and a schedule of every job (see preview_setup)."""
    seed_chain()


def built_rows(register_number: str) -> dict[str, int]:
    """Per table, the CSV rows of the packages built for the register's offline database."""
    register = db.session.scalar(sa.select(Register).filter_by(register_number=register_number))
    sessions = db.session.scalars(
        sa.select(DownloadSession).where(
            DownloadSession.channel_database_id == register.offline_database.id
        )
    ).all()
    rows: dict[str, int] = {}
    for session in sessions:
        if session.package is not None:
            for table, lines in package_lines(session).items():
                rows[table] = rows.get(table, 0) + len(lines)
    return rows


@pytest.mark.parametrize("store_number", ["HOUSTON", "OUTLET"])
def test_preview_rows_are_the_rows_of_the_package_then_built(chain, store_number):
    register = RegisterFactory(register_number=f"{store_number}-1", store=store_number)
    db.session.commit()
    preview = previews.profile_preview(profile(), store(store_number))
    registers.set_support_offline(register, True)
    register.offline_database.activated_at = utcnow()
    db.session.commit()

    run = run_schedule("DAILY", full=True)

    assert run.status == "done"
    built = built_rows(f"{store_number}-1")
    assert {t.table: t.rows for t in preview.tables} == built
    assert preview.rows_total == sum(built.values()) > 0


def test_preview_is_scoped_like_the_store(chain):
    houston = {
        t.table: t.rows for t in previews.profile_preview(profile(), store("HOUSTON")).tables
    }
    outlet = {t.table: t.rows for t in previews.profile_preview(profile(), store("OUTLET")).tables}

    assert (houston["product"], outlet["product"]) == (2, 5)
    # OUTLET has no price group: it gets every price of its (whole) assortment.
    assert (houston["trade_agreement"], outlet["trade_agreement"]) == (1, 4)
    assert (houston["worker"], outlet["worker"]) == (1, 0)
    # The offline scopes job is excluded from offline databases, as in a build.
    assert "offline_scope" not in houston


def test_only_the_profiles_download_scopes_count(chain):
    profiles.update_profile(
        profile(),
        {
            "scopes": [
                {"name": "Tax", "direction": "download", "tables": ["tax_code", "tax_rate"]},
                {"name": "Sales", "direction": "upload", "tables": ["sales_transaction"]},
            ]
        },
    )

    preview = previews.profile_preview(profile(), store("HOUSTON"))

    assert [(t.job, t.table, t.rows) for t in preview.tables] == [
        ("1080", "tax_code", 2),
        ("1080", "tax_rate", 2),
    ]


def test_paused_profile_receives_nothing(chain):
    profiles.update_profile(profile(), {"pause_sync": True})

    preview = previews.profile_preview(profile(), store("HOUSTON"))

    assert preview.paused and preview.tables == [] and preview.bytes_total == 0


def test_bytes_come_from_columns_until_packages_are_built(chain):
    before = previews.profile_preview(profile(), store("OUTLET"))
    assert before.estimate == previews.COLUMNS
    assert all(t.bytes > 0 for t in before.tables if t.rows)

    RegisterFactory(register_number="OUTLET-1", store="OUTLET", support_offline=True)
    db.session.commit()
    run_schedule("DAILY", full=True)

    after = previews.profile_preview(profile(), store("OUTLET"))
    assert after.estimate == previews.BUILT
    # Every full package carries its tables: together they make up the packages' size.
    assert after.bytes_total > 0


def test_selection_counts_each_profile_and_store_once(chain):
    for number, at in (("H-1", "HOUSTON"), ("H-2", "HOUSTON"), ("O-1", "OUTLET")):
        RegisterFactory(register_number=number, store=at)
    StoreFactory(store_number="LOOSE", channel_data_group="Stores", offline_profile=None)
    RegisterFactory(register_number="L-1", store="LOOSE")
    db.session.commit()
    ids = list(db.session.scalars(sa.select(Register.id)))
    houston = previews.profile_preview(profile(), store("HOUSTON"))
    outlet = previews.profile_preview(profile(), store("OUTLET"))

    selection = selections.selection_preview(ids)

    assert (selection.registers, selection.databases, selection.without_data) == (4, 4, 1)
    assert selection.rows_total == 2 * houston.rows_total + outlet.rows_total
    assert selection.bytes_total == 2 * houston.bytes_total + outlet.bytes_total
    assert selection.bytes_each == selection.bytes_total // 4
    assert selection.tables["product"] == 2 * 2 + 5
    assert selection.summary.startswith("Enabling offline for 4 registers: 4 offline databases")
    assert "1 of them receive no data" in selection.summary


def test_human_sizes():
    assert selections.human_bytes(180_000_000) == "180 MB"
    assert selections.human_bytes(360_000_000_000) == "360 GB"
    assert selections.human_bytes(1_500) == "1.5 kB"
    assert selections.human_count(14_000_000) == "14 million"
    assert selections.human_count(2_000) == "2,000"


def test_a_count_is_taken_again_once_a_row_it_reads_changes(chain):
    def products() -> int:
        preview = previews.profile_preview(profile(), store("HOUSTON"))
        return next(t.rows for t in preview.tables if t.table == "product")

    assert products() == products() == 2
    masterdata.upsert(
        AssortmentLine,
        ("assortment_code", "product_number"),
        [{"assortment_code": "TX-A", "product_number": "P3"}],
    )
    db.session.commit()
    assert products() == 3
    masterdata.delete(Product, ("product_number",), [{"product_number": "P1"}])
    db.session.commit()
    assert products() == 2
