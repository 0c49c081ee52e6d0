"""Reading a batch straight into typed sales: the fast way for the sales registers usually send.

A compiled decoder (msgspec) reads the JSON body into structs whose shape is the upload's
(`schemas`), refusing unknown fields, and whose text is plain: ASCII without spaces at either
end, decimals as `readers.plain_number` takes them, the id as a canonical UUID, the sequence a
whole number in range. What it reads is then finished by the same code as `validation.check`:
a line's values by its remembered readers, the times by `readers.timestamp`, the sums, the
canonical form and the hash by `validation.complete`.

Any sale it does not take (another shape, other text, a number where text is usual, any error)
is read as before: the whole body by `batches.parse`, that sale by `validation.check`. So every
rejection and every message stays the checker's, and both ways give a sale the same canonical
form and content hash (a property test compares them).
"""

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from portal.transactions import batches, validation
from portal.transactions import readers as read
from portal.transactions.models import KIND_SALE, TRANSACTION_KINDS
from portal.transactions.readers import ZERO
from portal.transactions.validation import MAX_LINES, MAX_PAYMENTS, Sale

# Text is taken only when plain (`_plain`), decimals only as `readers.plain_number` takes them:
# checked after decoding, all of a sale's text at once, which cost less than a pattern each.
Text30 = Annotated[str, Meta(max_length=30)]
Text40 = Annotated[str, Meta(max_length=40)]
# No longer than plain decimal text is: `readers.plain_number` remembers what it is given.
Amount = Annotated[str, Meta(max_length=20)]


class _Line(msgspec.Struct, forbid_unknown_fields=True):
    product: Text40
    # Read by the line's remembered readers, which tell a missing value from a bad one.
    quantity: str | None = None
    unit_price: str | None = None
    discount: str | None = None
    tax_code: str | None = None
    tax_amount: str | None = None
    price_override: bool = False


class _Payment(msgspec.Struct, forbid_unknown_fields=True):
    method: Text30
    amount: Amount


class _Sale(msgspec.Struct, forbid_unknown_fields=True):
    transaction_id: Annotated[str, Meta(pattern=f"^{read.CANONICAL_UUID}$")]
    register: Text30
    sequence: Annotated[int, Meta(ge=1, le=read.MAX_SEQUENCE)]
    receipt_number: Text40
    staff: Text30
    created_at: str
    offline: bool
    lines: Annotated[list[_Line], Meta(min_length=1, max_length=MAX_LINES)]
    payments: Annotated[list[_Payment], Meta(max_length=MAX_PAYMENTS)]
    total: Amount
    offline_since: str | None = None
    kind: Literal[TRANSACTION_KINDS] = KIND_SALE


class _Batch(msgspec.Struct, forbid_unknown_fields=True):
    transactions: Annotated[list[_Sale], Meta(max_length=batches.MAX_TRANSACTIONS)]


class _Items(msgspec.Struct, forbid_unknown_fields=True):
    transactions: Annotated[list[msgspec.Raw], Meta(max_length=batches.MAX_TRANSACTIONS)]


_batch = msgspec.json.Decoder(_Batch)
_items = msgspec.json.Decoder(_Items)
_sale = msgspec.json.Decoder(_Sale)
# The shape above is the upload's: the same field names at every level.
SHAPES = {
    _Sale: validation.TRANSACTION_FIELDS,
    _Line: validation.LINE_FIELDS,
    _Payment: validation.PAYMENT_FIELDS,
}

Checked = tuple[Sale | None, dict[str, str], Any]


def check_batch(body: bytes) -> list[Checked]:
    """Each transaction of the body checked, in order: (sale or None, errors, the item as the
    checker read it, or None for a sale taken the fast way).

    Raises as `batches.parse` and `batches.transactions_of` do for a body unusable as a whole.
    """
    batch = Batch(body)
    return [batch.check(index) for index in range(len(batch))]


class Batch:
    """The transactions of a body, each checked when asked, in any order (`check_batch`'s).

    Raises as `check_batch` does when made. `key` tells a decoded transaction's register number
    and id before it is checked: those its sale will have if it passes.
    """

    def __init__(self, body: bytes) -> None:
        self._body = body
        # Read by the exact parser only when a transaction needs the checker.
        self._items: list[Any] | None = None
        try:
            self._decoded: list[_Sale | None] = _batch.decode(body).transactions
        except msgspec.ValidationError:
            try:
                self._decoded = [_decoded_struct(raw) for raw in _items.decode(body).transactions]
            except (msgspec.MsgspecError, RecursionError):
                self._decoded = self._all_for_the_checker()
        except (msgspec.MsgspecError, RecursionError):  # nested too deep: the parser says so
            self._decoded = self._all_for_the_checker()

    def __len__(self) -> int:
        return len(self._decoded)

    def key(self, index: int) -> tuple[str, str] | None:
        """(register number, transaction id) of the transaction's sale, should it pass."""
        item = self._decoded[index]
        # As the checker reads them: the register stripped and upper-cased; the id is
        # decoded only when already as the checker writes it.
        return None if item is None else (item.register.strip().upper(), item.transaction_id)

    def check(self, index: int) -> Checked:
        """The transaction checked: the fast way if it takes it, else by the checker."""
        item = self._decoded[index]
        sale = None if item is None else typed_sale(item)
        if sale is not None:
            return sale, {}, None
        item = self._parsed()[index]
        return *validation.check(item), item

    def _all_for_the_checker(self) -> list[None]:
        return [None] * len(self._parsed())

    def _parsed(self) -> list[Any]:
        """The transactions as the exact parser reads the body (raising as it does)."""
        if self._items is None:
            self._items = batches.transactions_of(batches.parse(self._body))
        return self._items


def _decoded_struct(raw: msgspec.Raw) -> _Sale | None:
    try:
        return _sale.decode(raw)
    except (msgspec.ValidationError, RecursionError):
        return None


def typed_sale(item: _Sale) -> Sale | None:
    """The sale the decoded item describes, or None where the checker must read it."""
    errors: dict[str, str] = {}
    # The readers themselves, on the only fields whose text may still be refused.
    created_at = read.timestamp({"created_at": item.created_at}, "created_at", errors)
    offline_since = None
    if item.offline_since is not None:
        offline_since = read.timestamp(
            {"offline_since": item.offline_since}, "offline_since", errors
        )
        if errors or not item.offline or offline_since > created_at:
            return None
    texts = [item.register, item.receipt_number, *(line.product for line in item.lines)]
    texts += (payment.method for payment in item.payments)
    if errors or not _plain(texts, item.staff):
        return None
    lines, forms, amounts = [], [], ZERO
    for line in item.lines:
        known = validation.remembered_line(
            line.quantity,
            line.unit_price,
            line.discount,
            line.tax_code,
            line.tax_amount,
            line.price_override,
        )
        if known is None:
            return None
        good, form, amount = known
        lines.append({"product": line.product} | good)
        forms.append(form)
        amounts += amount
    plain = read.plain_number
    payments = [{"method": p.method, "amount": plain(p.amount)} for p in item.payments]
    total = plain(item.total)
    if total is None or None in (payment["amount"] for payment in payments):
        return None
    sale, _ = validation.complete(
        item.transaction_id,
        item.register.upper(),
        item.sequence,
        item.receipt_number,
        item.staff,
        created_at,
        item.offline,
        offline_since,
        item.kind,
        lines,
        forms,
        amounts,
        payments,
        total,
    )
    return sale


def _plain(texts: list[str], staff: str) -> bool:
    """Whether the texts are printable ASCII, each with no space at either end and not empty
    (but the staff, which may be): the readers' stripping, storability check and upper-casing
    change nothing in such text, so it is taken as it is."""
    every = "".join(texts) + staff
    if not (every.isascii() and every.isprintable()):
        return False
    # In printable ASCII the only space is " ".
    return all(text and text[0] != " " and text[-1] != " " for text in texts) and (
        not staff or (staff[0] != " " and staff[-1] != " ")
    )
