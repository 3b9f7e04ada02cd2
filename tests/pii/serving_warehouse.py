"""A small synthetic build warehouse in the shape the conventions describe, for serving tests.

Raw tables hold text as delivered with lineage columns; staging keeps ``_raw_record`` JSON;
intermediate has ``int_customer_records`` and ``int_customer_identity_map``; snapshots keep
member history; marts/ml/quality carry only pseudonymized and masked values, source ids
included (made with the real ``warehouse.pii.crypto`` functions). Every person exists in all
three source systems.
One person, :data:`TARGET`, has names found nowhere else, so byte searches for them are exact.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import duckdb
from faker import Faker

from warehouse.pii.crypto import mask_email, mask_phone, pseudonymize


@dataclass(frozen=True)
class Person:
    n: int
    first_name: str
    last_name: str
    email: str
    phone_raw: str
    phone_e164: str
    opted_in: bool

    @property
    def member_id(self) -> str:
        return str(1000 + self.n)

    @property
    def customer_id(self) -> str:
        return f"C{self.n:07d}"

    @property
    def contact_id(self) -> str:
        return f"SD-{self.n:06d}"

    @property
    def customer_key(self) -> str:
        return f"ck_{self.n:05d}"


TARGET = Person(0, "Zebulonia", "Quarkenbusch", "zebulonia.quarkenbusch@example.org",
                "(555) 010-9876", "+15550109876", True)


def people(count: int = 60, seed: int = 7) -> list[Person]:
    fake = Faker("en_US")
    Faker.seed(seed)
    rng = random.Random(seed)
    result = [TARGET]
    for n in range(1, count):
        first, last = fake.first_name(), fake.last_name()
        digits = f"555{rng.randrange(10**6, 10**7)}"
        result.append(Person(n, first, last, f"{first}.{last}{n}@example.com".lower(),
                             f"({digits[:3]}) {digits[3:6]}-{digits[6:]}", "+1" + digits,
                             rng.random() > 0.3))
    return result


LINEAGE = ("_source_system varchar, _source_object varchar, _source_row_number bigint, "
           "_batch_id varchar, _extracted_at timestamp")


def build(path: Path, population: list[Person] | None = None, key: bytes | None = None) -> None:
    population = population or people()
    con = duckdb.connect(str(path))
    for schema in ("raw_erp", "raw_ecommerce", "raw_service", "raw_meta", "staging",
                   "intermediate", "snapshots", "marts", "ml", "quality"):
        con.execute(f"create schema if not exists {schema}")
    con.execute(f"create table raw_erp.members (member_id varchar, member_no varchar, first_name "
                f"varchar, last_name varchar, email varchar, phone varchar, marketing_opt_in "
                f"varchar, updated_at varchar, {LINEAGE})")
    con.execute(f"create table raw_ecommerce.customers (customer_id varchar, email varchar, "
                f"first_name varchar, last_name varchar, phone varchar, address varchar, "
                f"updated_at varchar, {LINEAGE})")
    con.execute(f"create table raw_service.contacts (contact_id varchar, full_name varchar, "
                f"email varchar, phone varchar, updated_at varchar, {LINEAGE})")
    con.execute(f"create table raw_erp.sales_orders (order_id varchar, member_id varchar, "
                f"order_total varchar, order_ts varchar, {LINEAGE})")
    con.execute(f"create table raw_erp.sales_order_lines (order_line_id varchar, order_id "
                f"varchar, product_id varchar, quantity varchar, {LINEAGE})")
    con.execute(f"create table raw_ecommerce.orders (order_id varchar, customer_id varchar, "
                f"total_amount varchar, ordered_at varchar, {LINEAGE})")
    con.execute(f"create table raw_service.tickets (ticket_id varchar, contact_id varchar, "
                f"subject varchar, {LINEAGE})")
    con.execute("create table raw_meta.batches (batch_id varchar, rows bigint)")
    lin = "'src', 'obj', 1, 'b1', timestamp '2026-01-01'"
    for p in population:
        opt = "1" if p.opted_in else "0"
        address = ('{"street": "' + f"{p.n} {p.last_name} Lane" + '", "city": "Springfield"}')
        con.execute(f"insert into raw_erp.members values (?, ?, ?, ?, ?, ?, ?, '2026-01-01', "
                    f"{lin})", [p.member_id, f"M{p.n:08d}", p.first_name, p.last_name,
                                p.email.upper(), p.phone_raw, opt])
        con.execute(f"insert into raw_ecommerce.customers values (?, ?, ?, ?, ?, ?, "
                    f"'2026-01-01', {lin})", [p.customer_id, p.email, p.first_name,
                                              p.last_name, p.phone_e164, address])
        con.execute(f"insert into raw_service.contacts values (?, ?, ?, ?, '2026-01-01', {lin})",
                    [p.contact_id, f"{p.first_name} {p.last_name}", p.email, p.phone_raw])
        for k in range(3):
            order_id = str(p.n * 10 + k)
            con.execute(f"insert into raw_erp.sales_orders values (?, ?, ?, '2026-02-0{k + 1}',"
                        f" {lin})", [order_id, p.member_id, str(20 + p.n + k)])
            con.execute(f"insert into raw_erp.sales_order_lines values (?, ?, 'SKU-1', '1', "
                        f"{lin})", [order_id + "1", order_id])
            con.execute(f"insert into raw_ecommerce.orders values (?, ?, ?, '2026-03-0{k + 1}', "
                        f"{lin})", [f"W{p.n:06d}{k}", p.customer_id, str(30 + k)])
        con.execute(f"insert into raw_service.tickets values (?, ?, ?, {lin})",
                    [f"T-{p.n:07d}", p.contact_id, f"Refund for {p.first_name} {p.last_name}"])
    con.execute("insert into raw_meta.batches values ('b1', 1)")

    # staging: typed, normalized, with the delivered record as JSON (as the dbt models do)
    con.execute("""create table staging.stg_erp__members as
        select member_id::integer as member_id, first_name, last_name, lower(trim(email)) as email,
               phone as phone_e164, marketing_opt_in = '1' as marketing_opt_in,
               to_json(m)::varchar as _raw_record
        from raw_erp.members m""")
    con.execute("""create table staging.stg_erp__members_rejected as
        select *, 'INVALID_EMAIL' as _reject_reason, to_json(m)::varchar as _raw_record
        from raw_erp.members m where member_id::integer % 7 = 0""")
    con.execute("""create table staging.stg_ecommerce__customers as
        select customer_id, first_name, last_name, email, phone as phone_e164 from
        raw_ecommerce.customers""")
    con.execute("""create table staging.stg_service_desk__contacts as
        select contact_id, full_name, email, phone as phone_e164 from raw_service.contacts""")
    con.execute("""create table staging.stg_erp__sales_orders as
        select order_id::integer as order_id, member_id::integer as member_id,
               order_total::decimal(12,2) as order_total from raw_erp.sales_orders""")
    con.execute("""create table staging.stg_ecommerce__orders as
        select order_id, customer_id, total_amount::decimal(12,2) as total_amount
        from raw_ecommerce.orders""")

    con.execute("create table intermediate.int_customer_records (record_id varchar, "
                "source_system varchar, source_table varchar, source_id varchar, "
                "first_name varchar, last_name varchar, full_name varchar, email varchar, "
                "phone_e164 varchar, birth_date date, street varchar, city varchar, "
                "postal_code varchar, country_code varchar)")
    con.execute("create table intermediate.int_customer_identity_map (source_system varchar, "
                "source_table varchar, source_id varchar, customer_key varchar, "
                "record_id varchar, linked_record_ids varchar[])")
    for p in population:
        ids = [("erp", "members", p.member_id), ("ecommerce", "customers", p.customer_id),
               ("service_desk", "contacts", p.contact_id)]
        record_ids = [f"{s}:{t}:{i}" for s, t, i in ids]
        for (system, table, source_id), rid in zip(ids, record_ids, strict=True):
            con.execute("insert into intermediate.int_customer_records values "
                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, date '1980-05-17', ?, 'Springfield', "
                        "'12345', 'US')",
                        [rid, system, table, source_id, p.first_name, p.last_name,
                         f"{p.first_name} {p.last_name}", p.email, p.phone_e164,
                         f"{p.n} {p.last_name} Lane"])
            con.execute("insert into intermediate.int_customer_identity_map values "
                        "(?, ?, ?, ?, ?, ?)",
                        [system, table, source_id, p.customer_key, rid,
                         [r for r in record_ids if r != rid]])
    con.execute("""create table snapshots.snp_erp__members as
        select *, timestamp '2026-01-01' as dbt_valid_from, null::timestamp as dbt_valid_to
        from staging.stg_erp__members""")

    rows = []
    for p in population:
        rows.append([p.customer_key, pseudonymize(p.email, key), mask_email(p.email),
                     pseudonymize(p.phone_e164, key), mask_phone(p.phone_e164), p.opted_in,
                     "US", [pseudonymize(p.member_id, key)], [pseudonymize(p.customer_id, key)],
                     [pseudonymize(p.contact_id, key)]])
    con.execute("create table marts.dim_customer (customer_key varchar, email_hash varchar, "
                "email_masked varchar, phone_hash varchar, phone_masked varchar, "
                "marketing_opt_in boolean, home_country varchar, erp_member_id_hashes varchar[], "
                "ecommerce_customer_id_hashes varchar[], service_contact_id_hashes varchar[])")
    con.executemany("insert into marts.dim_customer values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("""create table marts.fct_orders as
        select 'erp-' || o.order_id as order_key, m.customer_key, 'erp' as order_source,
               o.order_total::double as net_revenue, timestamp '2026-02-01' as ordered_at
        from staging.stg_erp__sales_orders o
        join intermediate.int_customer_identity_map m
          on m.source_system = 'erp' and m.source_id = o.member_id::varchar""")
    con.execute("""create table marts.customer_rfm as
        select customer_key, date '2026-06-30' as as_of_date,
               (30 + hash(customer_key) % 300)::integer as recency_days, 3 as frequency,
               sum(net_revenue) as monetary,
               ['Champions', 'At Risk', 'Hibernating', 'Loyal'][
                   (1 + hash(customer_key) % 4)::bigint] as segment
        from marts.fct_orders group by customer_key""")
    con.execute("""create table ml.churn_scores as
        select customer_key, (hash(customer_key) % 1000) / 1000.0 as churn_probability,
               timestamp '2026-06-30' as scored_at from marts.dim_customer""")
    con.execute("""create table ml.clv_scores as
        select customer_key, 50 + (hash(customer_key) % 500) as clv_12m
        from marts.dim_customer""")
    con.execute("""create table quality.scorecard as
        select 'raw_erp.members' as table_name, 12 as checks, 11 as passed, 0.92 as pass_rate""")
    con.execute("checkpoint")
    con.close()
