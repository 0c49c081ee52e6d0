"""The store and register searches can use their trigram indexes at chain size."""

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.setup.registers.selection import filtered_registers
from portal.setup.stores.selection import filtered_stores

pytestmark = pytest.mark.usefixtures("app_ctx")


@pytest.mark.parametrize(
    ("stmt", "indexes"),
    [
        (
            lambda: filtered_registers({"q": "C0001"}),
            {"ix_register_register_number_trgm"},
        ),
        (
            lambda: filtered_stores({"q": "Dallas_"}),
            {"ix_store_store_number_trgm", "ix_store_name_trgm"},
        ),
    ],
    ids=["registers", "stores"],
)
def test_a_search_anywhere_in_the_number_is_answered_by_a_trigram_index(stmt, indexes):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL's")
    # A handful of test rows are read faster without an index: forbid reading the whole table
    # (or a whole key index), so the plan shows whether the trigram indexes answer the search.
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    db.session.execute(sa.text("SET LOCAL enable_indexscan = off"))
    sql = stmt().compile(db.session.connection(), compile_kwargs={"literal_binds": True})
    plan = "\n".join(db.session.scalars(sa.text(f"EXPLAIN {sql}")))
    assert all(f"Bitmap Index Scan on {index}" in plan for index in indexes), plan
    db.session.rollback()
