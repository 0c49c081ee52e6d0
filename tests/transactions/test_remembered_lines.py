"""A line's values, checked once and remembered: the same answer as reading them field by field."""

import copy
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.transactions import validation
from tests.transactions.conftest import sale

AMOUNTS = ["quantity", "unit_price", "discount", "tax_amount"]
# Text of every kind the readers tell apart: plain, signed, zero, too precise, too large,
# not a number, padded, exponent, negative zero, empty, and long.
TEXTS = [
    "1",
    "2",
    "-1",
    "0",
    "-0",
    "0.00",
    "4.99",
    "4.990",
    "4.9950",
    "4.99501",
    "-0.50",
    "0.10",
    "9.98",
    "10",
    "99999999999999.9999",
    "100000000000000",
    "1e2",
    "NaN",
    "Infinity",
    " 1",
    "1 ",
    "",
    "abc",
    "1.",
    ".5",
    "+1",
    "1" * 30,
    "0." + "1" * 30,
]
GOOD = ["1", "2", "-1", "4.99", "0.10", "2.00"]
# Good values most of the time, so that whole sales pass too.
amount = st.sampled_from(GOOD) | st.sampled_from(GOOD) | st.sampled_from(TEXTS) | st.none()
# Values of other types: JSON numbers, booleans and other shapes.
other = st.sampled_from([2, 0, -1, Decimal("4.99"), Decimal("1E+2"), True, False, 1.5, [], {}])


@st.composite
def lines(draw) -> dict:
    """A line whose amounts are drawn from the text above, left out, or of another type."""
    line = {"product": draw(st.sampled_from(["P-1", " P-2 ", "", "x" * 41]))}
    for name in AMOUNTS:
        value = draw(amount | other) if draw(st.booleans()) else draw(amount)
        if value is not None or draw(st.booleans()):
            line[name] = value
    if draw(st.booleans()):
        line["tax_code"] = draw(
            st.sampled_from(["VAT20", " VAT5 ", "", "A\x00", "x" * 21, 3, None])
        )
    if draw(st.booleans()):
        line["price_override"] = draw(st.sampled_from([True, False, None, "yes"]))
    return line


def outcome(item: dict) -> tuple:
    """Everything `check` answers, decimals as written (4.99 and 4.990 told apart)."""
    checked, errors = validation.check(copy.deepcopy(item))
    return list(errors.items()), repr(checked)


def adding_up(lines: list[dict]) -> str:
    """The total of the lines when their amounts are numbers, so that good sales pass."""
    try:
        return str(
            sum(
                Decimal(line.get("quantity") or 0) * Decimal(line.get("unit_price") or 0)
                - Decimal(line.get("discount") or 0)
                + Decimal(line.get("tax_amount") or 0)
                for line in lines
            )
        )
    except (ArithmeticError, TypeError, ValueError):
        return "0"


@settings(max_examples=400, deadline=None)
@given(sold=st.lists(lines(), min_size=1, max_size=4), total=st.sampled_from([None, "0", "x"]))
def test_remembered_lines_answer_as_the_field_readers_do(sold, total):
    total = total or adding_up(sold)
    item = sale(lines=sold, total=total, payments=[{"method": "cash", "amount": total}])

    remembered = outcome(item)
    again = outcome(item)  # now from the memo
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(validation, "_good_values", lambda values: None)
        read = outcome(item)

    assert remembered == again == read


def test_a_good_line_is_remembered_and_a_bad_one_named_by_its_field():
    good = {"product": "P-1", "quantity": "2", "unit_price": "4.99", "tax_amount": "2.00"}
    bad = good | {"quantity": "0"}
    long = good | {"quantity": "1" * 120}

    _, errors = validation.check(sale(lines=[good, bad, long]))

    assert errors["lines[1].quantity"] == "Must not be zero."
    remembered = validation._remembered[("2", "4.99", None, None, "2.00", False)]
    assert remembered["unit_price"] == Decimal("4.99")
    assert validation._remembered[("0", "4.99", None, None, "2.00", False)] is None
    assert errors["lines[2].quantity"] == 'A decimal number, e.g. "4.99".'
    assert not any(values[0] == "1" * 120 for values in validation._remembered)


def test_the_memory_of_lines_is_bounded(monkeypatch):
    monkeypatch.setattr(validation, "REMEMBERED_LINES", 3)
    validation._remembered.clear()
    lines = [{"product": "P", "quantity": str(n), "unit_price": "1"} for n in range(1, 8)]

    validation.check(sale(lines=lines))

    assert 0 < len(validation._remembered) <= 3
