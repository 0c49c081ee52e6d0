"""Demo products at any size, written fast: variants, barcodes, prices and assortment lines.

Products are made in chunks of CHUNK and written with Core `insert()` executemany batches, so a
million products take minutes and flat memory. Core inserts bypass the ORM flush hook, so each
chunk stamps its rows with the transaction's change version itself and appends the price history
of its products and prices. Everything comes from fixed seeds: two runs make the same products,
and rows that exist already are skipped.
"""

import random
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import NamedTuple

import sqlalchemy as sa
from faker import Faker

from portal.audit import services as audit
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.masterdata import history
from portal.masterdata.entities import get_entity
from portal.masterdata.prices import TradeAgreement
from portal.masterdata.products import AssortmentLine, Barcode, Product, ProductVariant
from portal.masterdata.versioning import transaction_version

CHUNK = 10_000
# Product numbers have seven digits, so they sort (and range-match) as they count.
MAX_PRODUCTS = 9_999_999
SEED = 1040
PRICES_FROM = date(2024, 1, 1)
CURRENCY = "USD"
ITEM_TAX_GROUP = "STANDARD"
OUTLET_FACTOR = Decimal("0.8")
CENT = Decimal("0.01")
SIZES = ("S", "M", "L", "XL")
COLORS = ("Black", "White", "Navy", "Olive", "Sand", "Burgundy", "Heather Grey", "Sky Blue")
ADJECTIVES = (
    "Classic", "Everyday", "Premium", "Organic", "Essential", "Heritage", "Urban", "Coastal",
    "Alpine", "Signature", "Lightweight", "Vintage", "Modern", "Studio", "Weekend", "Pro",
)  # fmt: skip


class Category(NamedTuple):
    """A leaf of the demo category tree and what its products look like."""

    code: str
    name: str
    parent: str
    unit: str
    prices: tuple[int, int]
    nouns: tuple[str, ...]
    variants: bool = False


DEPARTMENTS = (
    ("APPAREL", "Apparel"),
    ("GROCERY", "Grocery"),
    ("HOME", "Home"),
    ("ELECTRONICS", "Electronics"),
)
CATEGORIES = (
    Category("APP-TOPS", "Tops", "APPAREL", "pcs", (9, 60),
             ("T-Shirt", "Polo Shirt", "Hoodie", "Sweater", "Blouse"), True),
    Category("APP-BOTTOMS", "Bottoms", "APPAREL", "pcs", (19, 90),
             ("Jeans", "Chinos", "Shorts", "Skirt", "Joggers"), True),
    Category("APP-SHOES", "Shoes", "APPAREL", "pcs", (29, 150),
             ("Sneakers", "Boots", "Sandals", "Loafers"), True),
    Category("GRO-COFFEE", "Coffee and tea", "GROCERY", "pcs", (4, 25),
             ("Espresso Beans", "Ground Coffee", "Green Tea", "Earl Grey Tea", "Cold Brew")),
    Category("GRO-PRODUCE", "Fresh produce", "GROCERY", "kg", (1, 9),
             ("Apples", "Bananas", "Tomatoes", "Avocados", "Carrots")),
    Category("GRO-DRINKS", "Beverages", "GROCERY", "l", (1, 6),
             ("Orange Juice", "Sparkling Water", "Lemonade", "Oat Milk")),
    Category("GRO-SNACKS", "Snacks", "GROCERY", "pcs", (1, 8),
             ("Potato Chips", "Granola Bar", "Trail Mix", "Dark Chocolate")),
    Category("HOME-KITCHEN", "Kitchen", "HOME", "pcs", (5, 120),
             ("Chef Knife", "Frying Pan", "Cutting Board", "Mixing Bowl", "Kettle")),
    Category("HOME-DECOR", "Decor", "HOME", "pcs", (8, 200),
             ("Table Lamp", "Throw Pillow", "Picture Frame", "Candle", "Vase")),
    Category("HOME-TEXTILE", "Fabrics", "HOME", "m", (3, 30),
             ("Linen Fabric", "Cotton Twill", "Upholstery Velvet")),
    Category("ELEC-AUDIO", "Audio", "ELECTRONICS", "pcs", (15, 400),
             ("Headphones", "Bluetooth Speaker", "Earbuds", "Soundbar")),
    Category("ELEC-ACCESS", "Accessories", "ELECTRONICS", "pcs", (5, 60),
             ("USB-C Cable", "Phone Case", "Power Bank", "Wall Charger")),
)  # fmt: skip
# The share (percent) of the catalogue each demo store's assortment lists; others list all.
ASSORTMENT_SHARE = {"HOUSTON": 100, "SEATTLE": 80, "TORONTO": 50}
FAST_TABLES = (
    ("product", Product),
    ("product_variant", ProductVariant),
    ("barcode", Barcode),
    ("trade_agreement", TradeAgreement),
    ("assortment_line", AssortmentLine),
)

Checkpoint = Callable[[str], None]


def product_number(index: int) -> str:
    """The demo number of the index-th product: fixed width, so numbers sort as they count."""
    return f"P{index:07d}"


def assortment_code(store_number: str) -> str:
    """The code of a demo store's assortment."""
    return f"{store_number}-RANGE"


def ean13(digits: str) -> str:
    """A 12-digit number with its EAN-13 check digit appended."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def seed_products(total: int, stores: Sequence[str], checkpoint: Checkpoint | None = None) -> str:
    """Add the missing demo products 1..total with their rows; returns a summary line.

    `checkpoint` runs after each chunk that added rows: the CLI commits there, so every chunk is
    its own unit of work with its own change version, and an interrupted load resumes.
    """
    brands = _brands()
    assortments = {assortment_code(s): ASSORTMENT_SHARE.get(s, 100) for s in stores}
    added = dict.fromkeys([name for name, _ in FAST_TABLES], 0)
    for start in range(1, total + 1, CHUNK):
        stop = min(start + CHUNK - 1, total)
        rows = _chunk_rows(start, stop, brands, assortments)
        counts = _insert_missing(rows, product_number(start), product_number(stop))
        for name, count in counts.items():
            added[name] += count
        if checkpoint and any(counts.values()):
            checkpoint(f"{counts['product']} product(s) added: {stop:,} of {total:,}")
    return (
        f"{added['product']} demo product(s) added, with {added['product_variant']} variant(s), "
        f"{added['barcode']} barcode(s), {added['trade_agreement']} price(s) and "
        f"{added['assortment_line']} assortment line(s)"
    )


def _brands() -> list[str]:
    fake = Faker("en_US")
    fake.seed_instance(SEED)
    return [fake.last_name() for _ in range(400)]


def _chunk_rows(
    start: int, stop: int, brands: list[str], assortments: dict[str, int]
) -> dict[str, list[dict]]:
    # One generator per chunk: a chunk's rows do not depend on which other chunks exist.
    rng = random.Random(SEED * 1_000_003 + start // CHUNK)
    rows: dict[str, list[dict]] = {name: [] for name, _ in FAST_TABLES}
    for index in range(start, stop + 1):
        number = product_number(index)
        category = CATEGORIES[rng.randrange(len(CATEGORIES))]
        price = Decimal(rng.randint(*category.prices)) + Decimal("0.99")
        name = f"{rng.choice(brands)} {rng.choice(ADJECTIVES)} {rng.choice(category.nouns)}"
        rows["product"].append(
            {
                "product_number": number,
                "name": name,
                "category": category.code,
                "unit": category.unit,
                "item_tax_group": ITEM_TAX_GROUP,
                "base_price": price,
            }
        )
        rows["barcode"].append(
            {"barcode": ean13(f"20{index:010d}"), "product_number": number, "variant_number": None}
        )
        if category.variants and rng.random() < 0.5:
            color = rng.choice(COLORS)
            for position, size in enumerate(SIZES, 1):
                variant = f"{number}-{size}"
                rows["product_variant"].append(
                    {
                        "variant_number": variant,
                        "product_number": number,
                        "color": color,
                        "size": size,
                        "style": None,
                    }
                )
                rows["barcode"].append(
                    {
                        "barcode": ean13(f"21{index:08d}{position:02d}"),
                        "product_number": number,
                        "variant_number": variant,
                    }
                )
        for group, unit_price in (("RETAIL", price), ("OUTLET", price * OUTLET_FACTOR)):
            rows["trade_agreement"].append(
                {
                    "price_group": group,
                    "product_number": number,
                    "unit_price": unit_price.quantize(CENT),
                    "currency": CURRENCY,
                    "valid_from": PRICES_FROM,
                    "valid_to": None,
                }
            )
        for code, share in assortments.items():
            # A fixed spread, so each store lists the same products on every run.
            if (index * 7919) % 100 < share:
                rows["assortment_line"].append({"assortment_code": code, "product_number": number})
    return rows


def _insert_missing(rows: dict[str, list[dict]], first: str, last: str) -> dict[str, int]:
    """Insert the rows whose key is not there yet, stamped with the transaction's version."""
    now = utcnow()
    version = None
    counts = {}
    for name, model in FAST_TABLES:
        entity = get_entity(name)
        columns = [getattr(model, key) for key in entity.key]
        stmt = sa.select(*columns).where(model.product_number.between(first, last))
        existing = {tuple(row) for row in db.session.execute(stmt)}
        fresh = [row for row in rows[name] if entity.key_of(row) not in existing]
        counts[name] = len(fresh)
        if not fresh:
            continue
        if version is None:
            version = transaction_version(db.session)
        stamp = {"row_version": version, "deleted": False}
        stamp |= {"changed_at": now, "created_at": now, "updated_at": now}
        for part in range(0, len(fresh), CHUNK):
            db.session.execute(
                sa.insert(model.__table__), [row | stamp for row in fresh[part : part + CHUNK]]
            )
        if name in history.KEPT:
            # The rows just inserted: the chunk's range, stamped with this version and moment.
            inserted = sa.and_(
                model.product_number.between(first, last),
                model.row_version == version,
                model.created_at == now,
            )
            history.record_rows(model.__table__, inserted)
    if version is not None:
        after = counts | {"version": version}
        audit.record("bulk_insert", "product", f"{first}..{last}", after=after)
    return counts
