"""The stores of these tests name master data that exists (see `store_master_data`)."""

import pytest


@pytest.fixture(autouse=True)
def _store_master_data(store_master_data):
    """Every test here may create stores naming USD, CAD, TX, WA and RETAIL."""
