"""The source data contract: every source table, its columns, and how it is delivered.

This is the one place that says what the extractors expect from a source system, so a user
can point them at their own ERP, e-commerce platform and service desk. The simulator writes
exactly this shape; the extractors check it (a missing *required* column fails the asset with
the file and column named; an unknown extra column is kept: schema drift); dbt staging reads
the raw tables named here; the README's "Source data contract" section documents it.

Delivery formats
----------------
* ERP: a relational database (SQLite, PostgreSQL or MariaDB) reached by ``CRMW_ERP_URL``.
  Every table has an ``updated_at`` timestamp; extraction is incremental on it.
  Timestamps are naive local time of the company (``CRMW_SOURCE_TIMEZONE``).
* E-commerce platform: gzip JSON lines, one file per entity per day:
  ``<CRMW_ECOMMERCE_DIR>/<entity>/<entity>_<YYYY-MM-DD>[_<suffix>].jsonl.gz``.
  Timestamps are ISO-8601 UTC with a ``Z`` suffix. Nested values are kept as JSON.
* Service desk: CSV with a header row, one file per entity per day:
  ``<CRMW_SERVICE_DESK_DIR>/<entity>/<entity>_<YYYY-MM-DD>[_<suffix>].csv``.
  Timestamps are naive local time, ``YYYY-MM-DD HH:MM:SS``.

A file delivered twice (same bytes, any name) is loaded once. Values are delivered as text by
the file sources and kept as text in ``raw_*``; typing and cleaning happen in dbt staging.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # the type as delivered: INTEGER, DECIMAL, TEXT, TIMESTAMP, BOOLEAN, JSON
    description: str
    required: bool = True  # a delivery without this column is refused


@dataclass(frozen=True)
class SourceTable:
    system: str  # erp | ecommerce | service_desk
    name: str  # the table or entity name at the source
    description: str
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]
    updated_at: str | None = None  # incremental cursor column (ERP) or version column
    extra: dict = field(default_factory=dict)

    @property
    def raw_schema(self) -> str:
        return RAW_SCHEMAS[self.system]

    @property
    def raw_table(self) -> str:
        """The table in the warehouse that holds this source as delivered."""
        return self.name

    @property
    def qualified_raw_name(self) -> str:
        return f"{self.raw_schema}.{self.raw_table}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


RAW_SCHEMAS = {"erp": "raw_erp", "ecommerce": "raw_ecommerce", "service_desk": "raw_service"}

# Lineage columns every raw row carries, added by the extractors.
LINEAGE_COLUMNS = (
    Column("_source_system", "TEXT", "erp, ecommerce or service_desk"),
    Column("_source_object", "TEXT", "source table name, or file path relative to the source dir"),
    Column("_source_row_number", "INTEGER", "1-based row (line) number within the source object"),
    Column("_batch_id", "TEXT", "the extraction batch that loaded the row"),
    Column("_extracted_at", "TIMESTAMP", "when the row was extracted (UTC)"),
)

C = Column

ERP_TABLES = (
    SourceTable(
        "erp", "members", "Loyalty members (the ERP's customers).", ("member_id",),
        (
            C("member_id", "INTEGER", "ERP member id"),
            C("member_no", "TEXT", "loyalty card number, e.g. M00001234"),
            C("first_name", "TEXT", "given name as typed at the till", required=False),
            C("last_name", "TEXT", "family name as typed at the till", required=False),
            C("email", "TEXT", "e-mail as typed (case and whitespace noise)", required=False),
            C("phone", "TEXT", "phone in any common format", required=False),
            C("birth_date", "TEXT", "YYYY-MM-DD as typed; may be invalid", required=False),
            C("gender", "TEXT", "F, M, U or free text", required=False),
            C("street", "TEXT", "street address", required=False),
            C("city", "TEXT", "city", required=False),
            C("postal_code", "TEXT", "postal code", required=False),
            C("country_code", "TEXT", "ISO 3166-1 alpha-2", required=False),
            C("joined_at", "TIMESTAMP", "membership start"),
            C("marketing_opt_in", "INTEGER", "1 = agreed to marketing contact, 0 = opted out"),
            C("home_store_id", "TEXT", "store where the member signed up", required=False),
            C("updated_at", "TIMESTAMP", "last change"),
        ),
        updated_at="updated_at",
    ),
    SourceTable(
        "erp", "products", "Product master with cost and list price.", ("product_id",),
        (
            C("product_id", "TEXT", "SKU, e.g. SKU-00012"),
            C("product_name", "TEXT", "name"),
            C("category", "TEXT", "category code"),
            C("brand", "TEXT", "brand", required=False),
            C("unit_cost", "DECIMAL", "unit cost in the product currency"),
            C("unit_price", "DECIMAL", "list price in the product currency"),
            C("currency", "TEXT", "ISO 4217"),
            C("is_active", "INTEGER", "1 = sold now"),
            C("updated_at", "TIMESTAMP", "last change"),
        ),
        updated_at="updated_at",
    ),
    SourceTable(
        "erp", "stores", "Physical stores and the web shop.", ("store_id",),
        (
            C("store_id", "TEXT", "store code; WEB for the web shop"),
            C("store_name", "TEXT", "name"),
            C("city", "TEXT", "city", required=False),
            C("country_code", "TEXT", "ISO 3166-1 alpha-2", required=False),
            C("opened_at", "TIMESTAMP", "opening date", required=False),
            C("updated_at", "TIMESTAMP", "last change"),
        ),
        updated_at="updated_at",
    ),
    SourceTable(
        "erp", "sales_orders", "Sales orders from stores and the web shop.", ("order_id",),
        (
            C("order_id", "INTEGER", "ERP order id"),
            C("member_id", "INTEGER", "member; empty for anonymous store sales", required=False),
            C("store_id", "TEXT", "store code; WEB for web-shop orders"),
            C("channel", "TEXT", "STORE or WEB"),
            C("web_order_ref", "TEXT", "e-commerce order id of a WEB order", required=False),
            C("order_ts", "TIMESTAMP", "when the order was placed (local time)"),
            C("status", "TEXT", "COMPLETED or CANCELLED"),
            C("currency", "TEXT", "ISO 4217"),
            C("order_total", "DECIMAL", "total after discounts"),
            C("updated_at", "TIMESTAMP", "last change"),
        ),
        updated_at="updated_at",
    ),
    SourceTable(
        "erp", "sales_order_lines", "Lines of sales orders.", ("order_line_id",),
        (
            C("order_line_id", "INTEGER", "ERP line id"),
            C("order_id", "INTEGER", "order"),
            C("line_no", "INTEGER", "1-based line number within the order"),
            C("product_id", "TEXT", "SKU"),
            C("quantity", "INTEGER", "units (negative values are data-entry errors)"),
            C("unit_price", "DECIMAL", "price charged per unit"),
            C("discount_amount", "DECIMAL", "discount on the line", required=False),
            C("updated_at", "TIMESTAMP", "last change"),
        ),
        updated_at="updated_at",
    ),
    SourceTable(
        "erp", "returns", "Returned order lines and refunds.", ("return_id",),
        (
            C("return_id", "INTEGER", "ERP return id"),
            C("order_id", "INTEGER", "original order"),
            C("order_line_id", "INTEGER", "original order line"),
            C("product_id", "TEXT", "SKU"),
            C("quantity", "INTEGER", "units returned"),
            C("refund_amount", "DECIMAL", "refund paid"),
            C("returned_at", "TIMESTAMP", "when the return was booked"),
            C("reason_code", "TEXT", "DAMAGED, WRONG_ITEM, NOT_AS_DESCRIBED, CHANGED_MIND, LATE"),
            C("updated_at", "TIMESTAMP", "last change"),
        ),
        updated_at="updated_at",
    ),
)

ECOMMERCE_TABLES = (
    SourceTable(
        "ecommerce", "customers", "Web-shop accounts; a changed account is exported again.",
        ("customer_id",),
        (
            C("customer_id", "TEXT", "account id, e.g. C0001234"),
            C("email", "TEXT", "login e-mail"),
            C("first_name", "TEXT", "given name", required=False),
            C("last_name", "TEXT", "family name", required=False),
            C("phone", "TEXT", "phone in any format", required=False),
            C("birth_date", "TEXT", "YYYY-MM-DD", required=False),
            C("address", "JSON", "{street, city, postal_code, country_code}", required=False),
            C("marketing_consent", "BOOLEAN", "newsletter consent", required=False),
            C("loyalty_member_no", "TEXT", "ERP member_no if linked by the user", required=False),
            C("created_at", "TIMESTAMP", "account creation (UTC)"),
            C("updated_at", "TIMESTAMP", "last change (UTC)"),
        ),
        updated_at="updated_at",
    ),
    SourceTable(
        "ecommerce", "sessions", "Web and app sessions.", ("session_id",),
        (
            C("session_id", "TEXT", "session id"),
            C("customer_id", "TEXT", "logged-in account, empty when anonymous", required=False),
            C("started_at", "TIMESTAMP", "session start (UTC)"),
            C("ended_at", "TIMESTAMP", "session end (UTC)", required=False),
            C("device", "TEXT", "desktop, mobile, tablet or app"),
            C("channel", "TEXT", "organic, paid_search, email, social, direct or referral"),
            C("landing_page", "TEXT", "first page path", required=False),
        ),
    ),
    SourceTable(
        "ecommerce", "events", "Click-stream events within sessions.", ("event_id",),
        (
            C("event_id", "TEXT", "event id"),
            C("session_id", "TEXT", "session"),
            C("customer_id", "TEXT", "account, empty when anonymous", required=False),
            C("event_type", "TEXT", "page_view, product_view, add_to_cart, checkout, purchase"),
            C("event_ts", "TIMESTAMP", "event time (UTC)"),
            C("product_id", "TEXT", "SKU for product events", required=False),
            C("order_id", "TEXT", "order for purchase events", required=False),
        ),
    ),
    SourceTable(
        "ecommerce", "orders", "Online orders with their items nested.", ("order_id",),
        (
            C("order_id", "TEXT", "web order id, e.g. W000123456"),
            C("customer_id", "TEXT", "account"),
            C("session_id", "TEXT", "session in which it was placed", required=False),
            C("ordered_at", "TIMESTAMP", "order time (UTC)"),
            C("status", "TEXT", "placed, shipped, delivered, cancelled"),
            C("currency", "TEXT", "ISO 4217"),
            C("items", "JSON", "[{product_id, quantity, unit_price}]"),
            C("shipping_amount", "DECIMAL", "shipping charged", required=False),
            C("total_amount", "DECIMAL", "total charged"),
            C("payment_method", "TEXT", "card, paypal, gift_card, alipay, wechat_pay",
              required=False),
        ),
    ),
    SourceTable(
        "ecommerce", "reviews", "Product reviews.", ("review_id",),
        (
            C("review_id", "TEXT", "review id"),
            C("customer_id", "TEXT", "account"),
            C("product_id", "TEXT", "SKU"),
            C("rating", "INTEGER", "1 to 5 stars"),
            C("title", "TEXT", "title", required=False),
            C("body", "TEXT", "free text", required=False),
            C("created_at", "TIMESTAMP", "written at (UTC)"),
        ),
    ),
)

SERVICE_DESK_TABLES = (
    SourceTable(
        "service_desk", "contacts", "People who contacted the service desk.", ("contact_id",),
        (
            C("contact_id", "TEXT", "contact id, e.g. SD-000123"),
            C("full_name", "TEXT", "name as the agent typed it", required=False),
            C("email", "TEXT", "e-mail", required=False),
            C("phone", "TEXT", "phone", required=False),
            C("created_at", "TIMESTAMP", "first contact (local time)"),
            C("updated_at", "TIMESTAMP", "last change (local time)"),
        ),
        updated_at="updated_at",
    ),
    SourceTable(
        "service_desk", "tickets", "Support tickets; a ticket is exported again on every change.",
        ("ticket_id",),
        (
            C("ticket_id", "TEXT", "ticket id, e.g. T-0000123"),
            C("contact_id", "TEXT", "contact who raised it"),
            C("channel", "TEXT", "email, phone, chat, web_form"),
            C("category", "TEXT", "delivery, refund, product_quality, billing, account, other"),
            C("priority", "TEXT", "low, normal, high, urgent"),
            C("status", "TEXT", "open, pending, resolved, closed"),
            C("created_at", "TIMESTAMP", "opened (local time)"),
            C("first_response_at", "TIMESTAMP", "first agent reply (local time)", required=False),
            C("resolved_at", "TIMESTAMP", "resolution (local time)", required=False),
            C("order_ref", "TEXT", "linked ERP order id or web order id", required=False),
            C("subject", "TEXT", "subject line", required=False),
            C("updated_at", "TIMESTAMP", "last change (local time)"),
        ),
        updated_at="updated_at",
    ),
    SourceTable(
        "service_desk", "surveys", "CSAT and NPS survey answers.", ("response_id",),
        (
            C("response_id", "TEXT", "answer id"),
            C("ticket_id", "TEXT", "ticket surveyed (CSAT); empty for relationship NPS",
              required=False),
            C("contact_id", "TEXT", "contact who answered"),
            C("survey_type", "TEXT", "CSAT (score 1-5) or NPS (score 0-10)"),
            C("score", "INTEGER", "the answer"),
            C("comment", "TEXT", "free text", required=False),
            C("responded_at", "TIMESTAMP", "answered (local time)"),
        ),
    ),
)

SOURCE_TABLES: tuple[SourceTable, ...] = ERP_TABLES + ECOMMERCE_TABLES + SERVICE_DESK_TABLES

# The ids a source system knows a person by, under these names in any of its tables (the
# members, accounts and contacts themselves and every table referring to them). They are
# personal data: the BI tier carries them only as pseudonyms, and warehouse/publish.py refuses
# a publication holding one.
PERSON_ID_COLUMNS = ("member_id", "member_no", "loyalty_member_no", "customer_id", "contact_id")
# (system, table, id columns): the tables that list every person a source knows.
PERSON_TABLES = (
    ("erp", "members", ("member_id", "member_no")),
    ("ecommerce", "customers", ("customer_id",)),
    ("service_desk", "contacts", ("contact_id",)),
)


def source_table(system: str, name: str) -> SourceTable:
    for t in SOURCE_TABLES:
        if t.system == system and t.name == name:
            return t
    raise KeyError(f"no source table {system}.{name} in the source contract")


def tables_of(system: str) -> tuple[SourceTable, ...]:
    return tuple(t for t in SOURCE_TABLES if t.system == system)
