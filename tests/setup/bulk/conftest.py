"""Fixtures of the bulk change tests: an HQ token and a small chain."""

import pytest

from tests.setup.bulk.chain import small_chain


@pytest.fixture
def hq(token_for):
    """Bearer headers of an HQ user, who may change the setup."""
    return token_for("hq")


@pytest.fixture
def chain(app_ctx):
    """The small chain of `tests/setup/bulk/chain.py`, committed."""
    small_chain()


def csv_headers(headers: dict) -> dict:
    """The headers of a CSV upload with a user's token."""
    return {**headers, "Content-Type": "text/csv"}
