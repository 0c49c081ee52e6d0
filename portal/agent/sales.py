"""`sell`: record sales locally from the data HQ sent, as a register would, online or offline.

Products are those the store sells (its assortment, when the data has one), priced from the
trade agreements of the store's price group (else the product's base price), taxed with the
codes both the store's sales tax group and the product's item tax group name, at the rate
valid today. Amounts are rounded to the currency's decimals, so the total is exact.
"""

import json
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portal.agent import mode
from portal.agent.errors import UsageError
from portal.agent.local import PENDING, LocalState

# Payment methods a register may take offline when the data names none.
FALLBACK_METHODS = ("cash", "card")


@dataclass(frozen=True)
class Sellable:
    """A product the register can sell today: its price and the taxes on it."""

    product_number: str
    unit_price: Decimal
    taxes: tuple[tuple[str, Decimal], ...]  # (tax code, rate in percent)


class Catalogue:
    """What the local data says the register can sell, and how it is paid for."""

    def __init__(self, state: LocalState, today: date):
        self.state = state
        self.today = today.isoformat()
        self.store = (state.get("config") or {}).get("store") or {}
        self.cent = Decimal(1).scaleb(-self._decimals())
        self.products = self._sellables()
        self.staff = self._staff()

    def _rows(self, table: str) -> list[dict]:
        return self.state.rows(table)

    def _decimals(self) -> int:
        for row in self._rows("currency"):
            if row.get("code") == self.store.get("currency") and row.get("decimals"):
                return int(row["decimals"])
        return 2

    def _valid(self, row: dict) -> bool:
        starts = row.get("valid_from") or ""
        ends = row.get("valid_to")
        return starts <= self.today and (ends is None or ends >= self.today)

    def _sellables(self) -> list[Sellable]:
        assortment = self.store.get("assortment")
        lines = self._rows("assortment_line")
        allowed = {r["product_number"] for r in lines if r.get("assortment_code") == assortment}
        restrict = assortment is not None and self.state.table_spec("assortment_line") is not None
        prices = self._prices()
        store_codes = self._store_tax_codes()
        item_groups = {r["code"]: _codes(r.get("tax_codes")) for r in self._rows("item_tax_group")}
        rates = self._rates()
        sellable = []
        for product in self._rows("product"):
            number = product["product_number"]
            if restrict and number not in allowed:
                continue
            price = prices.get(number) or Decimal(product.get("base_price") or "0")
            if price <= 0:
                continue
            item_codes = item_groups.get(product.get("item_tax_group") or "", [])
            taxes = tuple(
                (code, rates[code]) for code in store_codes if code in item_codes and code in rates
            )
            sellable.append(Sellable(number, price.quantize(self.cent, ROUND_HALF_UP), taxes))
        return sellable

    def _prices(self) -> dict[str, Decimal]:
        """Each product's price in the store's price group valid today (the latest start)."""
        group = self.store.get("price_group")
        best: dict[str, tuple[str, Decimal]] = {}
        for row in self._rows("trade_agreement"):
            if row.get("price_group") != group or not self._valid(row):
                continue
            number, starts = row["product_number"], row["valid_from"]
            if number not in best or starts > best[number][0]:
                best[number] = (starts, Decimal(row["unit_price"]))
        return {number: price for number, (_, price) in best.items()}

    def _store_tax_codes(self) -> list[str]:
        group = self.store.get("tax_group")
        for row in self._rows("sales_tax_group"):
            if row["code"] == group:
                return _codes(row.get("tax_codes"))
        return []

    def _rates(self) -> dict[str, Decimal]:
        best: dict[str, tuple[str, Decimal]] = {}
        for row in self._rows("tax_rate"):
            if not self._valid(row):
                continue
            code, starts = row["tax_code"], row["valid_from"]
            if code not in best or starts > best[code][0]:
                best[code] = (starts, Decimal(row["rate"]))
        return {code: rate for code, (_, rate) in best.items()}

    def _staff(self) -> list[str]:
        store = self.store.get("store_number")
        links = self._rows("worker_store")
        at_store = {r["staff_id"] for r in links if r.get("store_number") == store}
        workers = [r["staff_id"] for r in self._rows("worker")]
        return [w for w in workers if not links or w in at_store]

    def payment_methods(self, offline: bool) -> list[str]:
        """Cash and card as the data names them (those allowed offline, when offline)."""
        methods = [
            row["code"]
            for row in self._rows("payment_method")
            if row["code"].lower() in FALLBACK_METHODS
            and (not offline or row.get("allowed_offline") != "f")
        ]
        return methods or list(FALLBACK_METHODS)


def sell(
    state: LocalState,
    count: int,
    offline: bool,
    register: str | None = None,
    seed=None,
    skip: int = 0,
    price_change: int = 0,
) -> list[dict]:
    """Record `count` sales in the local database; returns them as they will be uploaded.

    `skip` leaves that many sequence numbers unused first, as a register that lost sales would:
    HQ then sees a gap in the register's sequence. `price_change` (a percentage) sells at other
    prices than those HQ sent, as a register with a stale or tampered price list would.
    """
    if count < 1:
        raise UsageError("--count must be at least 1.")
    if skip < 0:
        raise UsageError("--skip must not be negative.")
    if not -90 <= price_change <= 1000:
        raise UsageError("--price-change must be a percentage between -90 and 1000.")
    register = _register(state, register)
    zone = _zone((state.get("config") or {}).get("store", {}).get("time_zone"))
    now = datetime.now(zone)
    catalogue = Catalogue(state, now.date())
    if not catalogue.products:
        raise UsageError(
            "The local database holds no product with a price to sell: run 'sync' first "
            "(the store's products, prices and tax come with its packages)."
        )
    pick = random.Random(seed)
    if offline:
        mode.go_offline(state)
    # Each offline sale says since when the register was cut off, for HQ's auditors.
    offline_since = state.get("offline_since") if offline else None
    sales = []
    with state.transaction() as conn:
        sequence = (
            conn.execute(
                "SELECT COALESCE(MAX(sequence), 0) FROM agent_transaction WHERE register = ?",
                (register,),
            ).fetchone()[0]
            + skip
        )
        for _ in range(count):
            sequence += 1
            sale = _sale(catalogue, pick, register, sequence, offline_since, now, price_change)
            conn.execute(
                "INSERT INTO agent_transaction (transaction_id, register, sequence, created_at, "
                "offline, total, payload, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sale["transaction_id"],
                    register,
                    sequence,
                    sale["created_at"],
                    int(offline),
                    sale["total"],
                    json.dumps(sale, sort_keys=True),
                    PENDING,
                ),
            )
            sales.append(sale)
    return sales


def _sale(
    catalogue: Catalogue,
    pick,
    register: str,
    sequence: int,
    offline_since: str | None,
    now,
    price_change: int = 0,
) -> dict:
    """One sale of 1 to 4 products; offline when `offline_since` says since when."""
    offline = offline_since is not None
    lines = []
    for product in pick.sample(
        catalogue.products, min(len(catalogue.products), pick.randint(1, 4))
    ):
        quantity = Decimal(pick.randint(1, 3))
        unit_price = product.unit_price
        if price_change:
            unit_price = (unit_price * (100 + price_change) / 100).quantize(catalogue.cent)
        net = quantity * unit_price
        tax = sum(
            (
                (net * rate / 100).quantize(catalogue.cent, ROUND_HALF_UP)
                for _, rate in product.taxes
            ),
            Decimal(0),
        )
        lines.append(
            {
                "product": product.product_number,
                "quantity": str(quantity),
                "unit_price": str(unit_price),
                "discount": str(Decimal(0).quantize(catalogue.cent)),
                "tax_code": "+".join(code for code, _ in product.taxes),
                "tax_amount": str(tax.quantize(catalogue.cent)),
            }
        )
    total = sum(
        (Decimal(line["quantity"]) * Decimal(line["unit_price"]) + Decimal(line["tax_amount"]))
        - Decimal(line["discount"])
        for line in lines
    ).quantize(catalogue.cent)
    created = datetime.now(now.tzinfo)
    return {
        "transaction_id": str(uuid.uuid4()),
        "register": register,
        "sequence": sequence,
        "receipt_number": f"{register}-{sequence:06d}",
        "staff": pick.choice(catalogue.staff) if catalogue.staff else "",
        "created_at": created.isoformat(timespec="seconds"),
        "offline": offline,
        **({"offline_since": offline_since} if offline else {}),
        "lines": lines,
        "payments": [
            {"method": pick.choice(catalogue.payment_methods(offline)), "amount": str(total)}
        ],
        "total": str(total),
    }


def _register(state: LocalState, wanted: str | None) -> str:
    """The register selling: the offline database's own, or one of the store's registers."""
    config = state.get("config") or {}
    own = (config.get("register") or {}).get("register_number")
    if own:
        if wanted and wanted != own:
            raise UsageError(f"This agent is register {own}'s offline database, not {wanted}'s.")
        return own
    store = (config.get("store") or {}).get("store_number")
    registers = sorted(
        row["register_number"]
        for row in state.rows("register_hardware")
        if row.get("store_number") == store
    )
    if wanted:
        if registers and wanted not in registers:
            raise UsageError(f"Register {wanted} is not one of store {store}'s: {registers}.")
        return wanted
    if not registers:
        raise UsageError(
            "This agent is a store database: name the register selling with --register "
            "(no register of the store came with the packages)."
        )
    return registers[0]


def _zone(name: str | None):
    try:
        return ZoneInfo(name) if name else datetime.now().astimezone().tzinfo
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.now().astimezone().tzinfo


def _codes(value: str | None) -> list[str]:
    if not value:
        return []
    try:
        codes = json.loads(value)
    except ValueError:
        return []
    return [str(code) for code in codes] if isinstance(codes, list) else []
