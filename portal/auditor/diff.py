"""Two versions of a sale side by side: what HQ stored and what came again under its id.

Each field is a row with both values and whether they differ, read as a person reads a receipt
("Payment 1 method: CARD → cash", "Line 2 quantity: 1 → 2"), not as JSON. Amounts compare as
numbers, so "4.99" and "4.9900" are the same; text compares exactly.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from portal.transactions.models import PosTransaction

AMOUNTS = {"quantity", "unit_price", "discount", "tax_amount", "amount", "total"}
LINE_FIELDS = (
    ("product", "product"),
    ("quantity", "quantity"),
    ("unit_price", "unit price"),
    ("discount", "discount"),
    ("tax_code", "tax code"),
    ("tax_amount", "tax"),
    ("price_override", "price typed in"),
)
HEAD_FIELDS = (
    ("receipt_number", "Receipt"),
    ("sequence", "Sequence"),
    ("staff", "Staff"),
    ("created_at", "Created"),
    ("kind", "Kind"),
    ("offline", "Offline"),
    ("offline_since", "Offline since"),
)


@dataclass(frozen=True, slots=True)
class DiffRow:
    """One field of the two versions."""

    label: str
    stored: str
    received: str
    differs: bool


def stored_version(sale: PosTransaction) -> dict:
    """The stored sale in the shape a device sends it (as kept for a conflict)."""
    return {
        "receipt_number": sale.receipt_number,
        "sequence": sale.sequence,
        "staff": sale.staff,
        "created_at": sale.created_at,
        "kind": sale.kind,
        "offline": sale.offline,
        "offline_since": sale.offline_since,
        "lines": [{name: getattr(line, name) for name, _ in LINE_FIELDS} for line in sale.lines],
        "payments": [{"method": p.method, "amount": p.amount} for p in sale.payments],
        "total": sale.total,
    }


def compare(stored: dict, received: dict) -> list[DiffRow]:
    """Every field of both versions, in receipt order: head, lines, payments, total."""
    rows = [
        _row(label, name, stored.get(name, _default(name)), received.get(name, _default(name)))
        for name, label in HEAD_FIELDS
    ]
    for kind, fields in (
        ("lines", LINE_FIELDS),
        ("payments", (("method", "method"), ("amount", "amount"))),
    ):
        mine, theirs = stored.get(kind) or [], received.get(kind) or []
        noun = "Line" if kind == "lines" else "Payment"
        for n in range(max(len(mine), len(theirs))):
            a = mine[n] if n < len(mine) else {}
            b = theirs[n] if n < len(theirs) else {}
            for name, label in fields:
                rows.append(_row(f"{noun} {n + 1} {label}", name, a.get(name), b.get(name)))
    rows.append(_row("Total", "total", stored.get("total"), received.get("total")))
    return rows


def _default(name: str):
    # A device leaves out what it need not say: a sale is a sale unless it says otherwise.
    return {"kind": "sale", "price_override": False}.get(name)


def _row(label: str, name: str, stored, received) -> DiffRow:
    if name == "price_override":
        stored, received = bool(stored), bool(received)
    left, right = _shown(name, stored), _shown(name, received)
    return DiffRow(label, left, right, _key(name, stored) != _key(name, received))


def _key(name: str, value):
    if value is None:
        return None
    if name in AMOUNTS:
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return str(value)
    if isinstance(value, str) and name in ("created_at", "offline_since"):
        value = datetime.fromisoformat(value)
    return value


def _shown(name: str, value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    key = _key(name, value)
    if isinstance(key, Decimal) and name == "quantity":
        return f"{key.normalize():f}"
    if isinstance(key, Decimal):
        cents = key.quantize(Decimal("0.01"))
        return str(cents if cents == key else key.normalize())
    if isinstance(key, datetime):
        return key.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)
