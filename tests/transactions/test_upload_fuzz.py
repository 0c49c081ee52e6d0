"""Property-based uploads: whatever a device sends, a clear answer and nothing stored by mistake.

Hypothesis breaks a good sale in random ways (wrong types, unicode, huge or negative numbers,
NaN and infinities, missing fields, a truncated body) and checks the contract of the upload:
never a server error; a batch refused as a whole is a 4xx in the error shape and stores
nothing; otherwise each sale is answered on its own, a rejected one names its fields, and the
database holds exactly the sales answered accepted, as sent.
"""

import json
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import current_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.core.extensions import db
from portal.transactions.models import PosTransaction
from tests.core.routes import row_counts
from tests.transactions.conftest import UPLOAD, sale

pytestmark = pytest.mark.usefixtures("app_ctx")

FIELDS = [*sale(), "kind", "offline_since"]
LINE_FIELDS = ["product", "quantity", "unit_price", "discount", "tax_code", "tax_amount"]
FUZZ = settings(
    max_examples=60,
    deadline=None,
    # The client and the device's headers are the same for every example, by design.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.decimals(allow_nan=False, allow_infinity=False, places=6)
    | st.text(max_size=60),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def broken_sales(draw) -> dict:
    """A good sale with one to three fields replaced, removed or added at random."""
    item = sale(transaction_id=str(uuid.uuid4()))
    places = [
        (item["lines"][0], LINE_FIELDS),
        (item["payments"][0], ["method", "amount"]),
        (item, FIELDS),
    ]
    # The sale's own fields go last: replacing its lines first would leave no line to break.
    chosen = sorted(draw(st.lists(st.integers(0, 2), min_size=1, max_size=3)))
    for target, names in (places[index] for index in chosen):
        name = draw(st.sampled_from([*names, draw(st.text(min_size=1, max_size=12))]))
        if draw(st.booleans()) and name in target:
            del target[name]
        else:
            target[name] = draw(json_values)
    return item


def encode(payload) -> bytes:
    """JSON as a careless client writes it: Python's NaN and Infinity tokens, decimals as text."""
    return json.dumps(payload, default=str, allow_nan=True).encode()


def stored() -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(PosTransaction))


def assert_answered_clearly(response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert response.status_code in (400, 413, 422), response.text
        error = response.json["error"]
        assert error["code"] and error["message"]


@FUZZ
@given(item=broken_sales())
def test_a_broken_sale_is_answered_alone_and_stored_only_if_accepted(client, register_device, item):
    before = stored()

    response = client.post(
        UPLOAD,
        data=encode({"transactions": [item]}),
        headers=register_device | {"Content-Type": "application/json"},
    )

    assert_answered_clearly(response)
    if response.status_code != 200:
        assert stored() == before
        return
    (result,) = response.json["results"]
    if result["status"] == "rejected":
        assert result["errors"], result
        assert stored() == before
    else:
        assert result["status"] == "accepted", result
        assert stored() == before + 1
        kept = db.session.scalar(
            sa.select(PosTransaction).filter_by(transaction_id=result["transaction_id"])
        )
        assert kept.total == Decimal(str(item["total"]))


@FUZZ
@given(cut=st.integers(min_value=0, max_value=400))
def test_a_truncated_body_is_a_bad_request_and_stores_nothing(client, register_device, cut):
    body = encode({"transactions": [sale(), sale()]})
    before = row_counts(current_app)

    response = client.post(
        UPLOAD,
        data=body[: min(cut, len(body) - 1)],
        headers=register_device | {"Content-Type": "application/json"},
    )

    assert response.status_code == 400, response.text
    assert response.json["error"]["code"] == "malformed_json"
    assert row_counts(current_app) == before


@FUZZ
@given(batch=st.lists(json_values, max_size=4) | json_values)
def test_any_json_as_the_batch_is_answered_clearly(client, register_device, batch):
    before = stored()
    body = batch if isinstance(batch, dict) else {"transactions": batch}

    response = client.post(
        UPLOAD, data=encode(body), headers=register_device | {"Content-Type": "application/json"}
    )

    assert_answered_clearly(response)
    assert stored() == before
