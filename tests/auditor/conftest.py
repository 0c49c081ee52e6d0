"""The upload tests' stores and devices, for the rules and the auditor API."""

from tests.transactions.conftest import register_device, store_device, stores  # noqa: F401
