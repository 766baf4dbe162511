"""Declared schemas of the landing sources (docs/contracts.md is the human-readable twin of this file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["int", "str", "date", "timestamp", "decimal"]

SQL_TYPES: dict[Kind, str] = {
    "int": "BIGINT",
    "str": "VARCHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "decimal": "DECIMAL(10,2)",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = False
    # Lower bound for numbers; `min_exclusive` makes it strict (quantity > 0).
    min_value: float | None = None
    min_exclusive: bool = False
    allowed: tuple[str, ...] | None = None

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.kind]


@dataclass(frozen=True)
class ForeignKey:
    """`column` must match `ref_column` of a row already in the warehouse (or in a seed file)."""

    column: str
    ref_table: str  # a raw table name, or "seed:<file stem>" for reference data in seeds/
    ref_column: str


@dataclass(frozen=True)
class SourceSchema:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    # A full extract lists every live entity: an empty one would read as "everything was deleted".
    full_extract: bool = False
    metadata_columns: tuple[str, ...] = field(
        default=("_load_date", "_source_file", "_source_line", "_extra_columns")
    )

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def table(self) -> str:
        return f"raw.{self.name}"


CUSTOMERS = SourceSchema(
    name="customers",
    columns=(
        Column("customer_id", "int", min_value=1),
        Column("first_name", "str"),
        Column("last_name", "str"),
        Column("email", "str"),
        Column("street_address", "str"),
        Column("city", "str"),
        Column("postal_code", "str"),
        Column("loyalty_tier", "str", allowed=("bronze", "silver", "gold", "platinum")),
        Column("signup_date", "date"),
        Column("updated_at", "timestamp"),
    ),
    key=("customer_id",),
    full_extract=True,
)

STORES = SourceSchema(
    name="stores",
    columns=(
        Column("store_id", "int", min_value=1),
        Column("store_name", "str"),
        Column("store_format", "str", allowed=("express", "supermarket", "hypermarket", "dark_store")),
        Column("size_sqm", "int", min_value=0, min_exclusive=True),
        Column("city", "str"),
        Column("opened_date", "date"),
    ),
    key=("store_id",),
    full_extract=True,
)

ORDERS = SourceSchema(
    name="orders",
    columns=(
        Column("order_id", "int", min_value=1),
        Column("customer_id", "int"),
        Column("store_id", "int"),
        Column("order_ts", "timestamp"),
        Column("status", "str", allowed=("placed", "picked", "delivered", "cancelled")),
        Column("delivery_fee", "decimal", min_value=0),
        Column("updated_at", "timestamp"),
    ),
    key=("order_id",),
    foreign_keys=(
        ForeignKey("customer_id", "customers", "customer_id"),
        ForeignKey("store_id", "stores", "store_id"),
    ),
)

ORDER_LINES = SourceSchema(
    name="order_lines",
    columns=(
        Column("order_id", "int"),
        Column("line_number", "int", min_value=1),
        Column("product_id", "int"),
        Column("quantity", "int", min_value=0, min_exclusive=True),
        Column("unit_price", "decimal", min_value=0),
    ),
    key=("order_id", "line_number"),
    foreign_keys=(
        ForeignKey("order_id", "orders", "order_id"),
        ForeignKey("product_id", "seed:products", "product_id"),
    ),
)

# Load order matters: foreign keys point at sources loaded earlier in the same day.
SOURCES: tuple[SourceSchema, ...] = (CUSTOMERS, STORES, ORDERS, ORDER_LINES)
SOURCES_BY_NAME = {s.name: s for s in SOURCES}
