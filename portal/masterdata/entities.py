"""What HQ edits in each master data table: its fields, their types, and the rules a row obeys.

Fields come from the models' columns (type, length, nullability, default); the rules the columns
cannot say (ranges, formats, references to other tables, date periods) are listed per table below.
Every entity is a table of the registry (`portal.masterdata.registry.TABLES`), named as it is there.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any

import sqlalchemy as sa

from portal.core.errors import NotFound
from portal.masterdata.fields import Field, field_from_column
from portal.masterdata.jobs import STANDARD_JOBS, UPLOAD, StandardJob
from portal.masterdata.references import REGISTER, STORE, unknown
from portal.masterdata.registry import TABLES


@dataclass(frozen=True)
class Reference:
    """A field whose values must name live rows of another table (`target` entity or setup)."""

    field: str
    target: str
    column: str

    def table(self) -> sa.TableClause:
        """The table the reference points into."""
        if self.target in SETUP_TARGETS:
            return SETUP_TARGETS[self.target]
        return TABLES[self.target].model.__table__

    def message(self, value: Any) -> str:
        """The field message for a value that names no live row of the target."""
        noun = self.target.replace("_", " ")
        entity = ENTITIES.get(self.target)
        return unknown(noun, entity.title.lower() if entity else f"{noun}s", value)


# Setup tables a master data row may name: they are not master data themselves.
SETUP_TARGETS: dict[str, sa.TableClause] = {"store": STORE, "register": REGISTER}

RowCheck = Callable[[dict[str, Any]], dict[str, str]]


@dataclass(frozen=True)
class Rules:
    """What one table's columns cannot say about its rows."""

    title: str
    ranges: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    patterns: dict[str, tuple[str, str]] = field(default_factory=dict)
    references: tuple[Reference, ...] = ()
    checks: tuple[RowCheck, ...] = ()


def _period(row: dict[str, Any]) -> dict[str, str]:
    """A validity period ends on or after the day it starts."""
    start, end = row.get("valid_from"), row.get("valid_to")
    if start and end and end < start:
        return {"valid_to": "Not before the valid from date."}
    return {}


def _two_currencies(row: dict[str, Any]) -> dict[str, str]:
    """An exchange rate converts between two different currencies."""
    if row.get("from_currency") and row.get("from_currency") == row.get("to_currency"):
        return {"to_currency": "Must differ from the from currency."}
    return {}


def _ref(field_name: str, target: str, column: str = "code") -> Reference:
    return Reference(field_name, target, column)


ZERO = Decimal("0")
PERCENT = (ZERO, Decimal("100"))
CURRENCY_CODE = (r"[A-Z]{3}", "Three capital letters, e.g. USD.")
RULES: dict[str, Rules] = {
    "currency": Rules("Currencies", {"decimals": (0, 4)}, {"code": CURRENCY_CODE}),
    "exchange_rate": Rules(
        "Exchange rates",
        {"rate": (Decimal("0.00000001"), None)},
        references=(_ref("from_currency", "currency"), _ref("to_currency", "currency")),
        checks=(_two_currencies,),
    ),
    "customer": Rules(
        "Customers",
        patterns={"email": (r"[^@\s]+@[^@\s]+\.[^@\s]+", "Not an email address.")},
        references=(_ref("customer_group", "customer_group"),),
    ),
    "customer_address": Rules(
        "Customer addresses",
        patterns={"country": (r"[A-Z]{2}", "Two capital letters, e.g. US.")},
        references=(_ref("account_number", "customer", "account_number"),),
    ),
    "customer_group": Rules("Customer groups"),
    "price_group": Rules("Price groups"),
    "trade_agreement": Rules(
        "Prices (trade agreements)",
        {"unit_price": (ZERO, None)},
        references=(
            _ref("price_group", "price_group"),
            _ref("product_number", "product", "product_number"),
            _ref("currency", "currency"),
        ),
        checks=(_period,),
    ),
    "discount": Rules(
        "Discounts",
        {"percent": PERCENT},
        references=(
            _ref("price_group", "price_group"),
            _ref("product_number", "product", "product_number"),
        ),
        checks=(_period,),
    ),
    "product": Rules(
        "Products",
        {"base_price": (ZERO, None)},
        references=(
            _ref("category", "product_category"),
            _ref("unit", "unit"),
            _ref("item_tax_group", "item_tax_group"),
        ),
    ),
    "product_variant": Rules(
        "Product variants",
        references=(_ref("product_number", "product", "product_number"),),
    ),
    "barcode": Rules(
        "Barcodes",
        references=(
            _ref("product_number", "product", "product_number"),
            _ref("variant_number", "product_variant", "variant_number"),
        ),
    ),
    "product_category": Rules(
        "Product categories", references=(_ref("parent_code", "product_category"),)
    ),
    "unit": Rules("Units", {"decimals": (0, 6)}),
    "worker": Rules("Workers", references=(_ref("permission_group", "pos_permission_group"),)),
    "worker_store": Rules(
        "Worker stores",
        references=(
            _ref("staff_id", "worker", "staff_id"),
            _ref("store_number", "store", "store_number"),
        ),
    ),
    "pos_permission_group": Rules("POS permission groups", {"max_discount_percent": (0, 100)}),
    "store_settings": Rules(
        "Store settings",
        references=(
            _ref("store_number", "store", "store_number"),
            _ref("receipt_profile", "receipt_profile"),
            _ref("functionality_profile", "functionality_profile"),
        ),
    ),
    "payment_method": Rules("Payment methods"),
    "receipt_profile": Rules("Receipt profiles"),
    "functionality_profile": Rules("Functionality profiles"),
    "tax_code": Rules("Tax codes"),
    "tax_rate": Rules(
        "Tax rates",
        {"rate": PERCENT},
        references=(_ref("tax_code", "tax_code"),),
        checks=(_period,),
    ),
    "sales_tax_group": Rules("Sales tax groups", references=(_ref("tax_codes", "tax_code"),)),
    "item_tax_group": Rules("Item tax groups", references=(_ref("tax_codes", "tax_code"),)),
    "register_hardware": Rules(
        "Register hardware",
        references=(
            _ref("register_number", "register", "register_number"),
            _ref("store_number", "store", "store_number"),
        ),
    ),
    "screen_layout": Rules("Screen layouts"),
    "shared_parameter": Rules("Shared parameters"),
    "feature_switch": Rules("Feature switches"),
    "assortment": Rules("Assortments"),
    "assortment_line": Rules(
        "Assortment lines",
        references=(
            _ref("assortment_code", "assortment"),
            _ref("product_number", "product", "product_number"),
        ),
    ),
    "catalog": Rules("Catalogs"),
}


@dataclass(frozen=True)
class Entity:
    """A master data table as HQ edits it: fields, natural key, rules and scheduler job."""

    name: str
    title: str
    model: type
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    references: tuple[Reference, ...]
    checks: tuple[RowCheck, ...]
    job: StandardJob | None

    @property
    def noun(self) -> str:
        """One row of the entity, for people ("trade agreement")."""
        return self.name.replace("_", " ")

    @cached_property
    def field_map(self) -> dict[str, Field]:
        """The fields by name."""
        return {f.name: f for f in self.fields}

    def search_columns(self) -> list[sa.ColumnElement]:
        """The columns a search matches: the text parts of the natural key, and the name."""
        names = [f.name for f in self.fields if f.kind == "str" and f.name in self.key]
        if "name" in self.field_map and "name" not in names:
            names.append("name")
        return [getattr(self.model, name) for name in names]

    def key_of(self, values: dict[str, Any]) -> tuple:
        """The natural key of a row's values."""
        return tuple(values[name] for name in self.key)

    def row_key(self, row: Any) -> tuple:
        """The natural key of a stored row."""
        return tuple(getattr(row, name) for name in self.key)

    def key_text(self, key: tuple) -> str:
        """A natural key as people read it: its parts joined by " / "."""
        return " / ".join(v.isoformat() if isinstance(v, date) else str(v) for v in key)

    def values_of(self, obj: Any) -> dict[str, Any]:
        """The editable values of a row."""
        return {f.name: getattr(obj, f.name) for f in self.fields}


def _field(column: sa.Column, rules: Rules) -> Field:
    low, high = rules.ranges.get(column.key, (None, None))
    return field_from_column(column, low=low, high=high, pattern=rules.patterns.get(column.key))


def _build() -> dict[str, Entity]:
    jobs = {table: job for job in STANDARD_JOBS if job.direction != UPLOAD for table in job.tables}
    entities = {}
    for name, table in TABLES.items():
        # A table added to the registry without rules still gets its column checks.
        rules = RULES.get(name) or Rules(name.replace("_", " ").capitalize())
        columns = table.columns
        entities[name] = Entity(
            name=name,
            title=rules.title,
            model=table.model,
            key=table.key,
            fields=tuple(_field(c, rules) for c in columns),
            references=rules.references,
            checks=rules.checks,
            job=jobs.get(name),
        )
    return entities


ENTITIES: dict[str, Entity] = _build()


def get_entity(name: str) -> Entity:
    """The entity of a distributable table, or NotFound."""
    entity = ENTITIES.get(name)
    if entity is None:
        raise NotFound(f"There is no master data table '{name}'.")
    return entity


def entity_groups() -> list[tuple[str, list[Entity]]]:
    """The entities under the scheduler job that distributes them, by job number."""
    groups = []
    for job in STANDARD_JOBS:
        members = [ENTITIES[t] for t in job.tables if t in ENTITIES]
        if members:
            groups.append((f"{job.job_number} {job.name}", members))
    loose = [entity for entity in ENTITIES.values() if entity.job is None]
    if loose:
        groups.append(("Not in a standard job", loose))
    return groups
