"""The master data tables, one entry each: its model, its natural key, and the job that sends it.

This list is what makes a table master data: its pages, API, CSV import and checks (entities.py),
its place in its standard job (jobs.py) and its distribution (portal.distribution.tables) all
come from its entry here.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from portal.masterdata import configuration as conf
from portal.masterdata import people, prices, products, tax

# Columns that describe the HQ row's bookkeeping, not the data a target stores.
BOOKKEEPING = frozenset({"id", "row_version", "deleted", "changed_at", "created_at", "updated_at"})


@dataclass(frozen=True)
class MasterTable:
    """A master data table: its name in packages and pages, its model, key and job number."""

    name: str
    model: type
    key: tuple[str, ...]
    job: str

    @property
    def columns(self) -> list[sa.Column]:
        """The columns a target stores (not HQ's bookkeeping)."""
        return [c for c in self.model.__table__.columns if c.key not in BOOKKEEPING]


# In the order of their jobs, and within a job in the order its packages list them.
TABLES: dict[str, MasterTable] = {
    table.name: table
    for table in (
        MasterTable("currency", prices.Currency, ("code",), "1000"),
        MasterTable(
            "exchange_rate",
            prices.ExchangeRate,
            ("from_currency", "to_currency", "valid_from"),
            "1000",
        ),
        MasterTable("customer", people.Customer, ("account_number",), "1010"),
        MasterTable(
            "customer_address", people.CustomerAddress, ("account_number", "label"), "1010"
        ),
        MasterTable("customer_group", people.CustomerGroup, ("code",), "1010"),
        MasterTable("price_group", prices.PriceGroup, ("code",), "1020"),
        MasterTable(
            "trade_agreement",
            prices.TradeAgreement,
            ("price_group", "product_number", "valid_from"),
            "1020",
        ),
        MasterTable("discount", prices.Discount, ("code",), "1020"),
        MasterTable("product", products.Product, ("product_number",), "1040"),
        MasterTable("product_variant", products.ProductVariant, ("variant_number",), "1040"),
        MasterTable("barcode", products.Barcode, ("barcode",), "1040"),
        MasterTable("product_category", products.ProductCategory, ("code",), "1040"),
        MasterTable("unit", products.Unit, ("code",), "1040"),
        MasterTable("worker", people.Worker, ("staff_id",), "1060"),
        MasterTable("worker_store", people.WorkerStore, ("staff_id", "store_number"), "1060"),
        MasterTable("pos_permission_group", people.PosPermissionGroup, ("code",), "1060"),
        MasterTable("store_settings", conf.StoreSettings, ("store_number",), "1070"),
        MasterTable("payment_method", conf.PaymentMethod, ("code",), "1070"),
        MasterTable("receipt_profile", conf.ReceiptProfile, ("code",), "1070"),
        MasterTable("functionality_profile", conf.FunctionalityProfile, ("code",), "1070"),
        MasterTable("tax_code", tax.TaxCode, ("code",), "1080"),
        MasterTable("tax_rate", tax.TaxRate, ("tax_code", "valid_from"), "1080"),
        MasterTable("sales_tax_group", tax.SalesTaxGroup, ("code",), "1080"),
        MasterTable("item_tax_group", tax.ItemTaxGroup, ("code",), "1080"),
        MasterTable("register_hardware", conf.RegisterHardware, ("register_number",), "1090"),
        MasterTable("screen_layout", conf.ScreenLayout, ("code",), "1090"),
        MasterTable("shared_parameter", conf.SharedParameter, ("key",), "1110"),
        MasterTable("feature_switch", conf.FeatureSwitch, ("name",), "1110"),
        MasterTable("assortment", products.Assortment, ("code",), "1150"),
        MasterTable(
            "assortment_line",
            products.AssortmentLine,
            ("assortment_code", "product_number"),
            "1150",
        ),
        MasterTable("catalog", products.Catalog, ("code",), "1150"),
    )
}
