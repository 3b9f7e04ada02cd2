"""A small hand-made raw layer in contract shape, for developing and testing dbt without the
simulator and extractors.

Every raw table of ``warehouse.source_contract`` is created with VARCHAR columns plus the
lineage columns, filled from a seeded population of persons who appear in one, two or three
source systems with realistic noise (case and whitespace in e-mails, phone formats, name
typos) and with the defects staging must catch (exact duplicate rows, superseded ERP versions,
negative quantities, unknown products, impossible dates, unparseable amounts). The true
person of every customer record is returned (and written to ``_truth.person_records``), so
identity resolution can be scored.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from warehouse.source_contract import LINEAGE_COLUMNS, SOURCE_TABLES, source_table

FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
         "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
         "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
        "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
        "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White"]
CITIES = ["Springfield", "Riverside", "Franklin", "Greenville", "Bristol", "Clinton", "Fairview"]
START = datetime(2023, 1, 1)


@dataclass
class RawFixture:
    """Rows per raw table (dicts of text values) and the truth of every customer record."""

    rows: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    truth: list[tuple[str, str, str, str]] = field(default_factory=list)

    def add(self, system: str, table: str, row: dict) -> None:
        self.rows.setdefault((system, table), []).append(row)


def _ts(dt: datetime, utc: bool = False) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if utc else dt.strftime("%Y-%m-%d %H:%M:%S")


def _phone_variant(rng: random.Random, digits: str) -> str:
    area, mid, end = digits[:3], digits[3:6], digits[6:]
    return rng.choice([f"({area}) {mid}-{end}", f"{area}-{mid}-{end}", f"+1 {area} {mid} {end}",
                       f"{area}.{mid}.{end}", f"1{digits}", digits])


def _typo(rng: random.Random, name: str) -> str:
    i = rng.randrange(1, len(name))
    return name[:i] + name[i + 1:] if rng.random() < 0.5 else name[:i] + name[i] + name[i:]


def build_fixture(persons: int = 300, seed: int = 7) -> RawFixture:
    """Generate the population and its source records (deterministic for a seed)."""
    rng = random.Random(seed)
    fx = RawFixture()
    products = [f"SKU-{i:05d}" for i in range(1, 41)]
    now = START + timedelta(days=600)
    for i, sku in enumerate(products):
        cost = 5 + i * 1.5
        fx.add("erp", "products", dict(
            product_id=sku, product_name=f"Product {i}", category=["books", "toys", "home"][i % 3],
            brand=f"Brand{i % 5}", unit_cost=f"{cost:.2f}", unit_price=f"{cost * 1.8:.2f}",
            currency="USD", is_active="1", updated_at=_ts(START)))
    # a price change: the older version is superseded
    fx.add("erp", "products", dict(fx.rows[("erp", "products")][0], unit_price="99.00",
                                   updated_at=_ts(START + timedelta(days=30))))
    for sid in ["S01", "S02", "WEB"]:
        fx.add("erp", "stores", dict(store_id=sid, store_name=f"Store {sid}", city="Springfield",
                                     country_code="US", opened_at=_ts(START), updated_at=_ts(START)))

    order_id = line_id = return_id = web_no = ticket_no = survey_no = event_no = 0
    member_id = 0
    for p in range(1, persons + 1):
        person = f"P{p:05d}"
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}{p}@example.com".lower()
        digits = f"{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(1000, 9999)}"
        birth = START - timedelta(days=rng.randint(18 * 365, 70 * 365))
        street = f"{rng.randint(1, 999)} {rng.choice(['Oak', 'Elm', 'Main'])} St"
        city = rng.choice(CITIES)
        postal = f"{rng.randint(10000, 99999)}"
        joined = START + timedelta(days=rng.randint(0, 300), hours=rng.randint(8, 20))
        in_erp, in_web = rng.random() < 0.7, rng.random() < 0.6
        in_sd = rng.random() < 0.35
        if not (in_erp or in_web):
            in_erp = True
        member_no = None
        if in_erp:
            member_id += 1
            member_no = f"M{member_id:08d}"
            row = dict(
                member_id=str(member_id), member_no=member_no,
                first_name=_typo(rng, first) if rng.random() < 0.1 else first,
                last_name=last.upper() if rng.random() < 0.2 else last,
                email=(f"  {email.upper()} " if rng.random() < 0.3 else email)
                if rng.random() > 0.1 else None,
                phone=_phone_variant(rng, digits), birth_date=birth.strftime("%Y-%m-%d"),
                gender=rng.choice(["F", "M", "female", "U"]), street=street, city=city,
                postal_code=postal, country_code="US", joined_at=_ts(joined),
                marketing_opt_in=rng.choice(["1", "0"]), home_store_id="S01",
                updated_at=_ts(joined))
            fx.add("erp", "members", row)
            if rng.random() < 0.15:  # a later version: moved city
                fx.add("erp", "members", dict(row, city="Fairview",
                                              updated_at=_ts(joined + timedelta(days=40))))
            fx.truth.append(("erp", "members", str(member_id), person))
        cust_id = None
        if in_web:
            cust_id = f"C{p:07d}"
            created = joined + timedelta(days=rng.randint(-30, 30))
            row = dict(
                customer_id=cust_id, email=email if rng.random() > 0.15
                else f"{first[0]}{last}{p}@mail.test".lower(),
                first_name=first, last_name=last,
                phone=_phone_variant(rng, digits) if rng.random() < 0.7 else None,
                birth_date=birth.strftime("%Y-%m-%d") if rng.random() < 0.6 else None,
                address=json.dumps(dict(street=street, city=city, postal_code=postal,
                                        country_code="US")),
                marketing_consent=rng.choice(["true", "false"]),
                loyalty_member_no=member_no if member_no and rng.random() < 0.3 else None,
                created_at=_ts(created, utc=True), updated_at=_ts(created, utc=True))
            fx.add("ecommerce", "customers", row)
            fx.truth.append(("ecommerce", "customers", cust_id, person))
        contact_id = None
        if in_sd:
            contact_id = f"SD-{p:06d}"
            fx.add("service_desk", "contacts", dict(
                contact_id=contact_id, full_name=f"{first} {last}",
                email=email if rng.random() < 0.8 else None,
                phone=_phone_variant(rng, digits) if rng.random() < 0.6 else None,
                created_at=_ts(joined + timedelta(days=50)),
                updated_at=_ts(joined + timedelta(days=50))))
            fx.truth.append(("service_desk", "contacts", contact_id, person))

        # store orders (ERP), web orders (e-commerce, mirrored in the ERP as WEB orders)
        for _ in range(rng.randint(0, 6)):
            order_id += 1
            ts = joined + timedelta(days=rng.randint(1, 250), hours=rng.randint(0, 10))
            web = cust_id is not None and rng.random() < 0.5
            items = [(rng.choice(products), rng.randint(1, 3)) for _ in range(rng.randint(1, 3))]
            lines = []
            for n, (sku, qty) in enumerate(items, 1):
                line_id += 1
                price = float(fx.rows[("erp", "products")][int(sku[4:]) - 1]["unit_price"])
                lines.append(dict(order_line_id=str(line_id), order_id=str(order_id),
                                  line_no=str(n), product_id=sku, quantity=str(qty),
                                  unit_price=f"{price:.2f}", discount_amount="0.00",
                                  updated_at=_ts(ts)))
            total = sum(float(x["unit_price"]) * int(x["quantity"]) for x in lines)
            web_ref = None
            if web:
                web_no += 1
                web_ref = f"W{web_no:09d}"
                session = f"S{web_no:09d}"
                fx.add("ecommerce", "orders", dict(
                    order_id=web_ref, customer_id=cust_id, session_id=session,
                    ordered_at=_ts(ts + timedelta(hours=5), utc=True), status="delivered",
                    currency="USD", items=json.dumps([
                        dict(product_id=x["product_id"], quantity=int(x["quantity"]),
                             unit_price=float(x["unit_price"])) for x in lines]),
                    shipping_amount="4.99", total_amount=f"{total + 4.99:.2f}",
                    payment_method="card"))
                fx.add("ecommerce", "sessions", dict(
                    session_id=session, customer_id=cust_id,
                    started_at=_ts(ts + timedelta(hours=4, minutes=50), utc=True),
                    ended_at=_ts(ts + timedelta(hours=5, minutes=5), utc=True),
                    device=rng.choice(["desktop", "mobile"]), channel="organic",
                    landing_page="/"))
                for etype in ["page_view", "product_view", "add_to_cart", "purchase"]:
                    event_no += 1
                    fx.add("ecommerce", "events", dict(
                        event_id=f"E{event_no:010d}", session_id=session, customer_id=cust_id,
                        event_type=etype, event_ts=_ts(ts + timedelta(hours=4, minutes=55),
                                                       utc=True),
                        product_id=lines[0]["product_id"] if etype != "page_view" else None,
                        order_id=web_ref if etype == "purchase" else None))
            fx.add("erp", "sales_orders", dict(
                order_id=str(order_id), member_id=str(member_id) if in_erp else None,
                store_id="WEB" if web else "S01", channel="WEB" if web else "STORE",
                web_order_ref=web_ref, order_ts=_ts(ts), status="COMPLETED", currency="USD",
                order_total=f"{total:.2f}", updated_at=_ts(ts)))
            for x in lines:
                fx.add("erp", "sales_order_lines", x)
            if rng.random() < 0.1:
                return_id += 1
                x = lines[0]
                fx.add("erp", "returns", dict(
                    return_id=str(return_id), order_id=x["order_id"],
                    order_line_id=x["order_line_id"], product_id=x["product_id"], quantity="1",
                    refund_amount=x["unit_price"], returned_at=_ts(ts + timedelta(days=5)),
                    reason_code="DAMAGED", updated_at=_ts(ts + timedelta(days=5))))
            if contact_id and rng.random() < 0.3:
                ticket_no += 1
                created = ts + timedelta(days=2)
                t = dict(ticket_id=f"T-{ticket_no:07d}", contact_id=contact_id, channel="email",
                         category="delivery", priority="normal", status="open",
                         created_at=_ts(created), first_response_at=None, resolved_at=None,
                         order_ref=web_ref or str(order_id), subject="Where is my order",
                         updated_at=_ts(created))
                fx.add("service_desk", "tickets", t)
                fx.add("service_desk", "tickets", dict(
                    t, status="resolved", first_response_at=_ts(created + timedelta(hours=3)),
                    resolved_at=_ts(created + timedelta(hours=30)),
                    updated_at=_ts(created + timedelta(hours=30))))
                survey_no += 1
                fx.add("service_desk", "surveys", dict(
                    response_id=f"R-{survey_no:07d}", ticket_id=t["ticket_id"],
                    contact_id=contact_id, survey_type="CSAT", score=str(rng.randint(1, 5)),
                    comment=None, responded_at=_ts(created + timedelta(days=2))))
        if cust_id and rng.random() < 0.2:
            fx.add("ecommerce", "reviews", dict(
                review_id=f"RV{p:07d}", customer_id=cust_id, product_id=rng.choice(products),
                rating=str(rng.randint(1, 5)), title="ok", body="fine",
                created_at=_ts(now - timedelta(days=rng.randint(1, 300)), utc=True)))

    _inject_defects(fx)
    return fx


def _inject_defects(fx: RawFixture) -> None:
    """The defects staging must quarantine or remove, one of each kind at least."""
    lines = fx.rows[("erp", "sales_order_lines")]
    lines.append(dict(lines[0]))  # exact duplicate
    lines.append(dict(lines[1], order_line_id="999001", quantity="-2"))  # NEGATIVE_QUANTITY
    lines.append(dict(lines[2], order_line_id="999002", product_id="SKU-99999"))  # UNKNOWN_PRODUCT
    orders = fx.rows[("erp", "sales_orders")]
    orders.append(dict(orders[0], order_id="999003", order_ts="2023-02-30 10:00:00"))
    orders.append(dict(orders[1], order_id="999004", order_total="12,3x"))
    events = fx.rows[("ecommerce", "events")]
    events.append(dict(events[0]))  # exact duplicate in an export
    members = fx.rows[("erp", "members")]
    members.append(dict(members[0], member_id=None))  # MISSING_KEY


def write_raw(fx: RawFixture, database: Path) -> None:
    """Create every raw table (VARCHAR + lineage) and the truth table in ``database``."""
    con = duckdb.connect(str(database))
    try:
        extracted = datetime(2024, 9, 1, 2, 0, 0)
        for table in SOURCE_TABLES:
            cols = table.column_names
            schema = table.raw_schema
            con.execute(f"create schema if not exists {schema}")
            col_sql = ", ".join(f'"{c}" varchar' for c in cols)
            lin_sql = ("_source_system varchar, _source_object varchar, "
                       "_source_row_number bigint, _batch_id varchar, _extracted_at timestamp")
            con.execute(f"create or replace table {schema}.{table.name} ({col_sql}, {lin_sql})")
            rows = fx.rows.get((table.system, table.name), [])
            data = [
                [r.get(c) for c in cols]
                + [table.system, table.name, n, "fixture-batch-1", extracted]
                for n, r in enumerate(rows, 1)
            ]
            if data:
                marks = ", ".join("?" for _ in range(len(cols) + len(LINEAGE_COLUMNS)))
                con.executemany(f"insert into {schema}.{table.name} values ({marks})", data)
        con.execute("create schema if not exists _truth")
        con.execute("create or replace table _truth.person_records (source_system varchar, "
                    "source_table varchar, source_id varchar, person_id varchar)")
        con.executemany("insert into _truth.person_records values (?, ?, ?, ?)", fx.truth)
    finally:
        con.close()


def raw_table_names() -> list[str]:
    return [source_table(t.system, t.name).qualified_raw_name for t in SOURCE_TABLES]
