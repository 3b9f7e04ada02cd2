"""A small, clean raw layer in contract shape, written straight into a DuckDB file.

Independent of the simulator and the extractors so the quality area can be tested alone:
every table of ``contracts.sources`` with VARCHAR columns as delivered and the five
lineage columns. Defects are injected by the tests with plain SQL updates.
"""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import pyarrow as pa

from contracts.sources import SOURCE_TABLES
from expectations.results import write_suite_run
from expectations.runner import validate_suite

BAD_EMAIL = "leaked.person@@not-an-email"  # grepped for in every generated quality artifact


def _ts(base: dt.datetime, hours: float, utc: bool) -> str:
    t = base + dt.timedelta(hours=hours)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if utc else t.strftime("%Y-%m-%d %H:%M:%S")


def build_rows(n_customers: int, now: dt.datetime, seed: int = 7) -> dict[str, list[dict]]:
    rnd = random.Random(seed)
    start = now - dt.timedelta(days=60)
    t = {}
    t["stores"] = [
        {"store_id": sid, "store_name": f"Store {sid}", "city": "Springfield",
         "country_code": "US", "opened_at": _ts(start, -1000, False),
         "updated_at": _ts(now, -2, False)} for sid in ("S01", "S02", "WEB")
    ]
    t["products"] = [
        {"product_id": f"SKU-{i:05d}", "product_name": f"Product {i}", "category": "CAT1",
         "brand": "Acme", "unit_cost": "4.50", "unit_price": "9.99", "currency": "USD",
         "is_active": "1", "updated_at": _ts(now, -3, False)} for i in range(1, 21)
    ]
    t["members"], t["customers"], t["contacts"] = [], [], []
    t["sales_orders"], t["sales_order_lines"], t["returns"] = [], [], []
    t["sessions"], t["events"], t["orders"], t["reviews"] = [], [], [], []
    t["tickets"], t["surveys"] = [], []
    line_id = 0
    for i in range(1, n_customers + 1):
        h = rnd.uniform(0, 1400)
        t["members"].append({
            "member_id": str(i), "member_no": f"M{i:08d}", "first_name": "Ann",
            "last_name": "Lee", "email": f"ann.lee{i}@example.com", "phone": "+1 555 010 2030",
            "birth_date": "1980-05-17", "gender": rnd.choice("FMU"), "street": "1 Main St",
            "city": "Springfield", "postal_code": "12345", "country_code": "US",
            "joined_at": _ts(start, h, False), "marketing_opt_in": rnd.choice("01"),
            "home_store_id": "S01", "updated_at": _ts(now, -rnd.uniform(1, 20), False)})
        t["customers"].append({
            "customer_id": f"C{i:07d}", "email": f"ann.lee{i}@example.com", "first_name": "Ann",
            "last_name": "Lee", "phone": "555-010-2030", "birth_date": "1980-05-17",
            "address": '{"street": "1 Main St", "city": "Springfield", "postal_code": "12345", '
                       '"country_code": "US"}',
            "marketing_consent": "true", "loyalty_member_no": f"M{i:08d}",
            "created_at": _ts(start, h, True), "updated_at": _ts(now, -rnd.uniform(1, 20), True)})
        t["contacts"].append({
            "contact_id": f"SD-{i:06d}", "full_name": "Ann Lee", "email": f"ann.lee{i}@example.com",
            "phone": "(555) 010-2030", "created_at": _ts(start, h, False),
            "updated_at": _ts(now, -rnd.uniform(1, 20), False)})
        o = {"order_id": str(i), "member_id": str(i), "store_id": "S01", "channel": "STORE",
             "web_order_ref": "", "order_ts": _ts(start, h + 5, False), "status": "COMPLETED",
             "currency": "USD", "order_total": "19.98", "updated_at": _ts(now, -5, False)}
        t["sales_orders"].append(o)
        for line_no in (1, 2):
            line_id += 1
            t["sales_order_lines"].append({
                "order_line_id": str(line_id), "order_id": str(i), "line_no": str(line_no),
                "product_id": f"SKU-{rnd.randint(1, 20):05d}", "quantity": "1",
                "unit_price": "9.99", "discount_amount": "0.00",
                "updated_at": _ts(now, -5, False)})
        if i % 10 == 0:
            t["returns"].append({
                "return_id": str(i), "order_id": str(i), "order_line_id": str(line_id),
                "product_id": "SKU-00001", "quantity": "1", "refund_amount": "9.99",
                "returned_at": _ts(start, h + 50, False), "reason_code": "DAMAGED",
                "updated_at": _ts(now, -4, False)})
        sid = f"S{i:08d}"
        t["sessions"].append({
            "session_id": sid, "customer_id": f"C{i:07d}", "started_at": _ts(now, -h / 40, True),
            "ended_at": _ts(now, -h / 40 + 0.3, True), "device": rnd.choice(["desktop", "app"]),
            "channel": "organic", "landing_page": "/"})
        for k, etype in enumerate(("page_view", "product_view", "add_to_cart", "purchase")):
            t["events"].append({
                "event_id": f"E{i:08d}{k}", "session_id": sid, "customer_id": f"C{i:07d}",
                "event_type": etype, "event_ts": _ts(now, -h / 40 + k * 0.01, True),
                "product_id": "SKU-00002", "order_id": f"W{i:09d}" if etype == "purchase" else ""})
        t["orders"].append({
            "order_id": f"W{i:09d}", "customer_id": f"C{i:07d}", "session_id": sid,
            "ordered_at": _ts(now, -h / 40 + 0.1, True), "status": "delivered", "currency": "USD",
            "items": '[{"product_id": "SKU-00002", "quantity": 1, "unit_price": 9.99}]',
            "shipping_amount": "4.99", "total_amount": "14.98", "payment_method": "card"})
        t["reviews"].append({
            "review_id": f"R{i:07d}", "customer_id": f"C{i:07d}", "product_id": "SKU-00002",
            "rating": str(rnd.randint(1, 5)), "title": "ok", "body": "fine",
            "created_at": _ts(now, -h / 30, True)})
        t["tickets"].append({
            "ticket_id": f"T-{i:07d}", "contact_id": f"SD-{i:06d}", "channel": "email",
            "category": "delivery", "priority": "normal", "status": "resolved",
            "created_at": _ts(start, h, False), "first_response_at": _ts(start, h + 1, False),
            "resolved_at": _ts(start, h + 20, False), "order_ref": str(i), "subject": "Where?",
            "updated_at": _ts(now, -rnd.uniform(1, 20), False)})
        t["surveys"].append({
            "response_id": f"SV{i:07d}", "ticket_id": f"T-{i:07d}", "contact_id": f"SD-{i:06d}",
            "survey_type": "CSAT", "score": str(rnd.randint(1, 5)), "comment": "",
            "responded_at": _ts(now, -rnd.uniform(1, 30), False)})
    return t


def write_raw_layer(path, n_customers: int = 200, now: dt.datetime | None = None,
                    batch_id: str = "batch-1") -> None:
    """Create (or replace) every raw table of the contract in the DuckDB file ``path``."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    rows = build_rows(n_customers, now)
    con = duckdb.connect(str(path))
    try:
        for table in SOURCE_TABLES:
            con.execute(f"create schema if not exists {table.raw_schema}")
            cols = table.column_names
            col_sql = ", ".join(f'"{c}" varchar' for c in cols)
            con.execute(
                f"create or replace table {table.qualified_raw_name} ({col_sql}, "
                "_source_system varchar, _source_object varchar, _source_row_number bigint, "
                "_batch_id varchar, _extracted_at timestamp)")
            data = {c: [r.get(c) for r in rows[table.name]] for c in cols}
            n = len(rows[table.name])
            data.update({"_source_system": [table.system] * n,
                         "_source_object": [f"{table.name}/{table.name}_1.dat"] * n,
                         "_source_row_number": list(range(1, n + 1)),
                         "_batch_id": [batch_id] * n, "_extracted_at": [now] * n})
            frame = pa.table(data)  # noqa: F841 - read by DuckDB's replacement scan
            con.execute(f"insert into {table.qualified_raw_name} select * from frame")
    finally:
        con.close()


def run_suites(path, suite_list, run_id, **kwargs):
    """Validate and record suites the way the Dagster check does; returns the SuiteRuns."""
    runs = []
    con = duckdb.connect(str(path))
    try:
        for suite in suite_list:
            run = validate_suite(con, suite, run_id=run_id, gx_dir=path.parent / "artifacts/gx",
                                 docs_dir=path.parent / "data_docs", **kwargs)
            write_suite_run(con, run, "/".join(suite.asset_key_path))
            runs.append(run)
    finally:
        con.close()
    return runs


def outcome(run, expectation_id):
    return next(o for o in run.outcomes if o.spec.id == expectation_id)
