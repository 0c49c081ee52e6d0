"""The demo catalogue: every master data table filled realistically for the demo stores.

The small tables go through the validated bulk service, as HQ's own changes do; the products
(`demo_products`) take the fast Core path. Only missing rows are added, so a second run adds
nothing and a row HQ changed or deleted stays as HQ left it.
"""

from collections.abc import Iterator, Sequence
from typing import Any

from faker import Faker

from portal.masterdata import services
from portal.masterdata.bulk import find_rows
from portal.masterdata.demo_products import (
    CATEGORIES,
    DEPARTMENTS,
    PRICES_FROM,
    SEED,
    assortment_code,
    product_number,
)
from portal.masterdata.entities import get_entity

UNITS = (("pcs", "Pieces", 0), ("kg", "Kilogram", 3), ("l", "Litre", 3), ("m", "Metre", 2))
PRICE_GROUPS = (("RETAIL", "Retail prices"), ("OUTLET", "Outlet prices"))


def seed_currencies() -> str:
    """Add the missing demo currencies and exchange rates: stores name their currency."""
    added = _add_missing("currency", _rows(("code", "name"), CURRENCIES))
    rates = ("from_currency", "to_currency", "rate", "valid_from")
    added += _add_missing("exchange_rate", _rows(rates, RATES))
    return f"{added} currency row(s) added"


def seed_reference_data(stores: Sequence[str], registers: Sequence[str]) -> list[str]:
    """Add the missing demo rows of the small tables, through the validated bulk service."""
    done = []
    for label, tables in _reference_tables(stores, registers):
        added = sum(_add_missing(name, rows) for name, rows in tables)
        done.append(f"{added} {label} row(s) added")
    return done


def _reference_tables(stores: Sequence[str], registers: Sequence[str]) -> Iterator[tuple]:
    layout = {"rows": 5, "columns": 6, "buttons": LAYOUT_BUTTONS}
    yield (
        "product reference",
        [
            ("unit", _rows(("code", "name", "decimals"), UNITS)),
            ("product_category", _rows(("code", "name", "parent_code"), _category_tree())),
            ("price_group", _rows(("code", "name"), PRICE_GROUPS)),
            (
                "assortment",
                [{"code": assortment_code(s), "name": f"{s.title()} range"} for s in stores],
            ),
            ("catalog", _rows(("code", "name"), CATALOGS)),
        ],
    )
    yield (
        "channel configuration",
        [
            ("payment_method", _rows(("code", "name", "allowed_offline"), PAYMENT_METHODS)),
            (
                "receipt_profile",
                [{"code": "STANDARD", "name": "Standard receipt", "footer": FOOTER}],
            ),
            ("functionality_profile", [{"code": "STANDARD", "name": "Standard register"}]),
            ("store_settings", [_store_settings(store) for store in stores]),
        ],
    )
    yield (
        "register",
        [
            ("screen_layout", [{"code": "STANDARD", "name": "Standard sales", "layout": layout}]),
            ("register_hardware", [_hardware(register) for register in registers]),
        ],
    )
    yield (
        "global configuration",
        [
            ("feature_switch", _rows(("name", "enabled"), FEATURE_SWITCHES)),
            ("shared_parameter", _rows(("key", "value"), SHARED_PARAMETERS)),
        ],
    )


CURRENCIES = (("USD", "US dollar"), ("CAD", "Canadian dollar"))
RATES = (("USD", "CAD", "1.3650", PRICES_FROM), ("CAD", "USD", "0.7326", PRICES_FROM))
CATALOGS = (("SPRING-2026", "Spring 2026"), ("HOLIDAY-2026", "Holiday 2026"))
PAYMENT_METHODS = (
    ("CASH", "Cash", True),
    ("CARD", "Credit or debit card", True),
    # Gift cards and store credit need the balance at HQ: not while offline.
    ("GIFT-CARD", "Gift card", False),
    ("STORE-CREDIT", "Store credit", False),
)
FOOTER = "Thank you for shopping with us! Returns within 30 days with this receipt."
LAYOUT_BUTTONS = [
    {"label": "Coffee", "action": "category", "target": "GRO-COFFEE"},
    {"label": "Produce", "action": "category", "target": "GRO-PRODUCE"},
    {"label": "Return", "action": "return"},
    {"label": "Pay cash", "action": "pay", "target": "CASH"},
    {"label": "Pay card", "action": "pay", "target": "CARD"},
]
FEATURE_SWITCHES = (
    ("offline_returns", True),
    ("customer_display", True),
    ("digital_receipts", False),
    ("self_checkout", False),
)
SHARED_PARAMETERS = (
    ("receipt_retention_days", "90"),
    ("max_offline_hours", "72"),
    ("loyalty_points_per_dollar", "1"),
)
CUSTOMER_GROUPS = (("LOYALTY", "Loyalty club"), ("BUSINESS", "Business accounts"))
PERMISSION_FIELDS = (
    "code",
    "name",
    "allow_price_override",
    "allow_void",
    "allow_return",
    "max_discount_percent",
)
PERMISSION_GROUPS = (
    ("MANAGER", "Store managers", True, True, True, 50),
    ("SUPERVISOR", "Shift supervisors", False, True, True, 20),
    ("CASHIER", "Cashiers", False, False, False, 5),
)
SHIFT = ("MANAGER", "SUPERVISOR", "CASHIER", "CASHIER", "CASHIER", "CASHIER")
DISCOUNT_FIELDS = ("code", "name", "percent", "price_group", "valid_from", "valid_to")
DISCOUNTS = (
    # A discount without a price group applies in every price group.
    ("SPRING10", "Spring sale", "10", "RETAIL", "2026-03-01", "2026-05-31"),
    ("OUTLET5", "Outlet extra", "5", "OUTLET", "2024-01-01", None),
    ("STAFF15", "Staff discount", "15", None, "2024-01-01", None),
)


def _rows(names: tuple[str, ...], values: Sequence[tuple]) -> list[dict[str, Any]]:
    return [dict(zip(names, row, strict=True)) for row in values]


def _category_tree() -> list[tuple]:
    departments = [(code, name, None) for code, name in DEPARTMENTS]
    return departments + [(c.code, c.name, c.parent) for c in CATEGORIES]


def _store_settings(store: str) -> dict[str, Any]:
    return {
        "store_number": store,
        "receipt_profile": "STANDARD",
        "functionality_profile": "STANDARD",
        "receipt_prefix": store[:3],
    }


def _hardware(register: str) -> dict[str, Any]:
    return {
        "register_number": register,
        "store_number": register.rsplit("-", 1)[0],
        "printer": "Epson TM-T88VII",
        "cash_drawer": "APG Vasario 1616",
        "scanner": "Zebra DS2208",
    }


def seed_people(stores: Sequence[str], customers: int = 300) -> list[str]:
    """Add the missing demo customers (with groups and addresses) and store staff."""
    fake = Faker("en_US")
    fake.seed_instance(SEED)
    customer_rows, address_rows = [], []
    for index in range(1, customers + 1):
        first, last = fake.first_name(), fake.last_name()
        account = f"C{index:06d}"
        customer_rows.append(
            {
                "account_number": account,
                "name": f"{first} {last}",
                "email": f"{first}.{last}{index}@example.com".lower().replace("'", ""),
                "phone": fake.numerify("+1-555-###-####"),
                "customer_group": ("LOYALTY", "LOYALTY", "BUSINESS", None)[index % 4],
            }
        )
        address_rows.append(
            {
                "account_number": account,
                "label": "main",
                "street": fake.street_address(),
                "city": fake.city(),
                "postal_code": fake.postcode(),
                "country": "US",
            }
        )
    workers, links = _staff(fake, stores)
    people = _add_missing("customer_group", _rows(("code", "name"), CUSTOMER_GROUPS))
    people += _add_missing("customer", customer_rows)
    people += _add_missing("customer_address", address_rows)
    staff = _add_missing("pos_permission_group", _rows(PERMISSION_FIELDS, PERMISSION_GROUPS))
    staff += _add_missing("worker", workers)
    staff += _add_missing("worker_store", links)
    return [f"{people} customer row(s) added", f"{staff} staff row(s) added"]


def _staff(fake: Faker, stores: Sequence[str]) -> tuple[list[dict], list[dict]]:
    workers, links = [], []
    for store_index, store in enumerate(stores, 1):
        for position, group in enumerate(SHIFT):
            staff_id = f"{store_index * 100 + position:06d}"
            workers.append({"staff_id": staff_id, "name": fake.name(), "permission_group": group})
            links.append({"staff_id": staff_id, "store_number": store})
    # An area manager who signs in at every store.
    workers.append({"staff_id": "000001", "name": fake.name(), "permission_group": "MANAGER"})
    links += [{"staff_id": "000001", "store_number": store} for store in stores]
    return workers, links


def seed_discounts(products: int) -> str:
    """Add the missing demo discounts (one on the first demo product when there is one)."""
    rows = _rows(DISCOUNT_FIELDS, DISCOUNTS)
    if products:
        featured = ("FEATURED20", "Featured product", "20", None, "2026-01-01", None)
        rows += [
            {
                **dict(zip(DISCOUNT_FIELDS, featured, strict=True)),
                "product_number": product_number(1),
            }
        ]
    return f"{_add_missing('discount', rows)} discount row(s) added"


def _add_missing(entity_name: str, rows: list[dict[str, Any]]) -> int:
    """Upsert the rows whose key is not there at all: a row HQ edited or deleted stays so."""
    entity = get_entity(entity_name)
    fields = entity.field_map
    keyed = {tuple(fields[k].parse(row[k]) for k in entity.key): row for row in rows}
    existing = find_rows(entity, list(keyed))
    missing = [row for key, row in keyed.items() if key not in existing]
    return services.bulk_upsert(entity_name, missing).inserted if missing else 0
