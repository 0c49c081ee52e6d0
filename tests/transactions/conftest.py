"""Setup shared by the upload tests: two stores, activated devices and a sale builder."""

import copy
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.models import utcnow
from portal.device_api import credentials
from portal.setup.models import ChannelDatabase
from portal.setup.stores import services as stores_services
from tests.factories import RegisterFactory, StoreFactory

UPLOAD = "/api/v1/device/transactions"

SALE = {
    "register": "HOUSTON-1",
    "sequence": 42,
    "receipt_number": "HOUSTON-1-000042",
    "staff": "000160",
    "created_at": "2026-11-20T14:03:11+01:00",
    "offline": True,
    "lines": [
        {
            "product": "P-1001",
            "quantity": "2",
            "unit_price": "4.99",
            "discount": "0.00",
            "tax_code": "VAT20",
            "tax_amount": "2.00",
        }
    ],
    "payments": [{"method": "cash", "amount": "11.98"}],
    "total": "11.98",
}


def sale(**changes) -> dict:
    """The issue's example sale with a new id, changed as asked."""
    made = copy.deepcopy(SALE) | {"transaction_id": str(uuid.uuid4())}
    made.update(changes)
    return made


def made(register: str = "HOUSTON-1", sequence: int = 1, ago=timedelta(hours=1), **changes):
    """A sale of the register made `ago` before now, numbered `sequence`."""
    fields = {
        "register": register,
        "sequence": sequence,
        "receipt_number": f"{register}-{sequence:06d}",
        "created_at": (utcnow() - ago).isoformat(),
    }
    return sale(**fields | changes)


def send(client, headers, *sales) -> dict:
    """Upload the sales as one batch; the response."""
    response = client.post(UPLOAD, json={"transactions": list(sales)}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json


def offline_database(register_number: str) -> ChannelDatabase:
    """The offline channel database of a register."""
    return db.session.scalar(
        sa.select(ChannelDatabase).where(
            ChannelDatabase.register.has(register_number=register_number)
        )
    )


def device_headers(database: ChannelDatabase) -> dict[str, str]:
    """Bearer headers of a device activated for the channel database."""
    _, code = credentials.issue_activation_code(database)
    _, secret, _ = credentials.activate(database.id, code)
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def stores(app_ctx):
    """HOUSTON with offline registers HOUSTON-1 and HOUSTON-2, and DALLAS with DALLAS-1."""
    StoreFactory(store_number="HOUSTON")
    StoreFactory(store_number="DALLAS")
    for number in ("HOUSTON-1", "HOUSTON-2", "DALLAS-1"):
        RegisterFactory(register_number=number, store=number.split("-")[0], support_offline=True)


@pytest.fixture
def register_device(stores):
    """Headers of the device of HOUSTON-1's offline database."""
    return device_headers(offline_database("HOUSTON-1"))


@pytest.fixture
def store_device(stores):
    """Headers of the device of HOUSTON's channel database (the store server)."""
    return device_headers(stores_services.get_store("HOUSTON").channel_database)
