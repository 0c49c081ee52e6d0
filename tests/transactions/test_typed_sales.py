"""Sales read the fast way: the checker's answer, canonical form and content hash, every time."""

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.core.errors import ValidationFailed
from portal.transactions import batches, typed_sales, validation
from portal.transactions.batches import MalformedJson
from tests.transactions.conftest import sale
from tests.transactions.test_remembered_lines import TEXTS as AMOUNT_TEXTS
from tests.transactions.test_remembered_lines import adding_up, other

# Text of every kind the fast way must tell from plain: padded, lower-case, empty, non-ASCII,
# a NUL, a lone surrogate, quotes and backslashes, too long; and values of other types.
TEXTS = st.sampled_from(
    ["HOUSTON-1", "houston-1", " HOUSTON-1", "", "Zoë", "A\x00", "\ud800", 'a"b\\c', "x" * 41]
)
TIMES = st.sampled_from(
    [
        "2026-11-20T14:03:11+01:00",
        "2026-11-20T14:03:11Z",
        "2026-11-20T14:03:11.5-05:30",
        "2026-11-20 14:03:11+01:00",
        "2026-11-20T14:03:11",
        "2026-11-20T14:03:11+01:00:30",
        "0001-01-01T00:00:00+01:00",
        "20261120T140311Z",
        "yesterday",
        None,
    ]
)
OTHER = st.sampled_from([None, 7, -1, 0, 2**64, 1.5, True, "7", [], {}])

# True now and then: each sale changed in a field or two, most of them still good.
RARELY = st.sampled_from([False] * 19 + [True])


def mostly(good: list, odd: st.SearchStrategy) -> st.SearchStrategy:
    """Good values nearly always, so that whole sales pass and take the fast way."""
    return RARELY.flatmap(lambda odd_one: odd if odd_one else st.sampled_from(good))


@st.composite
def lines(draw) -> dict:
    """A line, its fields now and then left out, odd, or of another type."""
    line = {
        "product": draw(mostly(["P-1", "P-1001", "a b"], TEXTS | OTHER)),
        "quantity": draw(mostly(["1", "2", "-1", "3"], st.sampled_from(AMOUNT_TEXTS) | other)),
        "unit_price": draw(mostly(["4.99", "0.10", "12", "0"], st.sampled_from(AMOUNT_TEXTS))),
        "discount": draw(mostly(["0", "0.00"], st.sampled_from(AMOUNT_TEXTS) | other)),
        "tax_code": draw(mostly(["VAT20", "A+B", ""], TEXTS | OTHER)),
        "tax_amount": draw(mostly(["0.50", "0"], st.sampled_from(AMOUNT_TEXTS) | other)),
        "price_override": draw(mostly([False, True], OTHER)),
    }
    for name in sorted(line):
        if draw(RARELY):
            del line[name]
    return line


@st.composite
def items(draw) -> dict:
    """A sale, now and then changed field by field into something the fast way does not take."""
    sold = draw(st.lists(lines(), min_size=1, max_size=3))
    total = adding_up(sold)
    item = sale(lines=sold, total=total, payments=[{"method": "cash", "amount": total}])
    if draw(RARELY):
        item["offline_since"] = draw(TIMES)
    if draw(RARELY):
        item["kind"] = draw(st.sampled_from(["sale", "return", "void", "refund", None]))
    for name in ("register", "receipt_number", "staff"):
        if draw(RARELY):
            item[name] = draw(TEXTS | OTHER)
    if draw(RARELY):
        item["created_at"] = draw(TIMES)
    if draw(RARELY):
        item["sequence"] = draw(OTHER)
    if draw(RARELY):
        item["transaction_id"] = item["transaction_id"].upper()
    if draw(RARELY):
        item["total"] = draw(st.sampled_from(["0", "1e2", 12, "-0.00", "1" * 30, " 1"]))
    if draw(RARELY):
        item["payments"].append({"method": draw(TEXTS), "amount": draw(st.sampled_from(["0", 1]))})
    if draw(RARELY):
        item["note"] = "unknown"
    if draw(RARELY):
        item["lines"] = draw(st.sampled_from([[], None, "P-1", [[]]]))
    if draw(RARELY):
        del item[draw(st.sampled_from(sorted(item)))]
    return item


def as_checked_before(body: bytes) -> list[tuple]:
    """What reading the body and checking each item gave before the fast way."""
    found = [validation.check(item) for item in batches.transactions_of(batches.parse(body))]
    return [(repr(sale), errors) for sale, errors in found]


def as_checked_now(body: bytes) -> list[tuple]:
    return [(repr(sale), errors) for sale, errors, _ in typed_sales.check_batch(body)]


def body_of(*sales) -> bytes:
    # ensure_ascii leaves a lone surrogate writable as an escape, as a register could send it;
    # a decimal goes as a JSON number (both ways then read the same body).
    return json.dumps({"transactions": list(sales)}, default=float).encode()


@settings(max_examples=400, deadline=None)
@given(batch=st.lists(items(), min_size=1, max_size=3))
def test_the_fast_way_answers_as_the_checker_does(batch):
    body = body_of(*batch)

    assert as_checked_now(body) == as_checked_before(body)


def test_a_plain_sale_is_taken_the_fast_way_with_the_checkers_form_and_hash():
    plain = sale(offline_since="2026-11-20T13:00:00+01:00", kind="return")
    plain["lines"][0]["price_override"] = True

    [(fast, errors, item)] = typed_sales.check_batch(body_of(plain))
    checked, _ = validation.check(plain)

    assert item is None and errors == {}  # not read by the checker
    assert fast == checked
    assert fast.canonical_json == checked.canonical_json
    assert fast.content_sha256 == checked.content_sha256


def test_a_sale_the_fast_way_does_not_take_is_the_checkers_and_its_neighbours_stay_fast():
    odd = sale(staff=" Zoë ", lines=[sale()["lines"][0] | {"quantity": 2}])
    bad = sale(total="1.00")
    plain = sale()

    checked = typed_sales.check_batch(body_of(odd, bad, plain))

    assert [item is None for _, _, item in checked] == [False, False, True]
    assert checked[0][0].staff == "Zoë" and checked[0][0].lines[0]["quantity"] == Decimal(2)
    assert checked[1][0] is None and "total" in checked[1][1]
    assert checked[2][0] == validation.check(plain)[0]


@pytest.mark.parametrize(
    "body, error",
    [
        (b'{"transactions": [', MalformedJson),
        (b'{"transactions": ' + b"[" * 5000 + b"]" * 5000 + b"}", MalformedJson),
        (b'{"transactions": [{"lines": ' + b"[" * 5000 + b"]" * 5000 + b"}]}", MalformedJson),
        (b'{"transactions": [], "more": 1}', ValidationFailed),
        (b'{"transactions": {}}', ValidationFailed),
        (b"[]", ValidationFailed),
        (body_of(*[sale()] * (batches.MAX_TRANSACTIONS + 1)), ValidationFailed),
    ],
)
def test_a_batch_unusable_as_a_whole_is_refused_as_before(body, error):
    with pytest.raises(error) as before:
        batches.transactions_of(batches.parse(body))
    with pytest.raises(error) as now:
        typed_sales.check_batch(body)

    assert str(now.value) == str(before.value)


def test_the_fast_ways_shape_names_the_uploads_fields():
    for struct, fields in typed_sales.SHAPES.items():
        assert set(struct.__struct_fields__) == fields
