"""One window of days [t0, t1): run the behaviour and render every source table's rows.

Each rendered table is a DataFrame with exactly the source-contract columns plus ``_vis`` (the
day number when the row becomes visible: ERP ``updated_at`` or the export file's day) and
``_defects`` (defects injected into the row, "column:type;..."). Rows that only become
visible after t1 are kept in the world state and delivered by a later window.
"""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd

from simulator.behaviour import (
    MINUTE,
    build_baskets,
    build_returns,
    build_reviews,
    build_surveys,
    build_tickets,
    choose,
    simulate_purchases,
)
from simulator.clickstream import build_sessions
from simulator.config import chunk_seed
from simulator.identity import draw_identities
from simulator.population import NEVER
from simulator.records import ADDRESS, add_defect, identity_rows
from simulator.timeline import quarter_starts

SUBJECTS = {
    "delivery": "Where is my order {ref}?", "product_quality": "Item from order {ref} is faulty",
    "refund": "Refund for order {ref}", "billing": "Charged twice for {ref}",
    "account": "Cannot log in", "other": "Question about order {ref}",
}
REVIEW_TITLES = {1: "Disappointed", 2: "Not great", 3: "OK", 4: "Good value", 5: "Love it"}


def format_ids(fmt: str, nums: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Formatted ids (object array); rows outside ``mask`` get None. Formats only the rows
    needed: a purchase event's order id, not five million others'."""
    out = np.full(len(nums), None, dtype=object)
    idx = np.arange(len(nums)) if mask is None else np.flatnonzero(mask)
    out[idx] = list(map(fmt.__mod__, np.asarray(nums)[idx].tolist()))
    return out


def _blank(n: int) -> np.ndarray:
    return np.full(n, "", dtype=object)


class Window:
    def __init__(self, world, chunk, t0: float, t1: float, last_chunk: bool = True):
        self.w, self.c, self.t0, self.t1 = world, chunk, t0, t1
        self.cfg = world.cfg
        self.last_chunk = last_chunk  # the product master changes once per window, at the end
        self.rng = np.random.default_rng(chunk_seed([self.cfg.seed, 7, int(round(t0 * 1000))],
                                                    chunk.index))
        self.tables: dict[str, pd.DataFrame] = {}

    # -- helpers ---------------------------------------------------------------------------
    def log(self, msg: str) -> None:
        self.w.log(msg)

    def next_ids(self, name: str, n: int) -> np.ndarray:
        start = self.w.counters.get(name, 1)
        self.w.counters[name] = start + n
        return np.arange(start, start + n)

    def emit(self, table: str, df: pd.DataFrame) -> None:
        if "_defects" not in df:
            df["_defects"] = _blank(len(df))
        prev = self.tables.get(table)
        self.tables[table] = df if prev is None else pd.concat([prev, df], ignore_index=True)

    # -- the window ------------------------------------------------------------------------
    def run(self) -> dict[str, pd.DataFrame]:
        w, rng = self.w, self.rng
        persons = self.c.persons
        moves = self.plan_moves()
        self.create_records(moves)
        self.apply_moves(moves)
        self.log(f"  purchases of {int(persons['alive'].sum()):,} living persons")
        purchases = simulate_purchases(persons, self.t0, self.t1, self.cfg, rng)
        orders = self.add_anonymous_sales(purchases)
        lines = build_baskets(orders, self.persons_with_walkin(), w.products, self.cfg, rng)
        self.log(f"  {len(orders):,} orders, {len(lines):,} order lines")
        self.assign_order_facts(orders, lines)
        tickets = build_tickets(orders.loc[orders["person_idx"].to_numpy() >= 0], self.cfg, rng)
        tickets = self.assign_contacts(tickets)
        returns = build_returns(lines, orders, tickets, self.cfg, rng)
        reviews = build_reviews(lines, orders, w.products, self.cfg, rng)
        surveys = build_surveys(tickets, self.cfg, rng)
        sessions, events = build_sessions(orders, lines, persons, w.products, self.t0, self.t1,
                                          self.cfg, rng)
        num = np.empty(len(sessions), dtype=np.int64)
        num[np.argsort(sessions["started"].to_numpy(), kind="stable")] = \
            self.next_ids("session", len(sessions))
        sessions["session_num"] = num
        self.log(f"  {len(sessions):,} sessions, {len(events):,} events, {len(tickets):,} tickets")
        self.render_orders(orders, lines, returns, sessions)
        self.render_clickstream(sessions, events, orders)
        self.render_reviews(reviews, orders)
        self.render_service(tickets, surveys, orders)
        if self.last_chunk:
            self.render_products()
        return self.tables

    # -- persons and their records -----------------------------------------------------------
    def plan_moves(self) -> pd.DataFrame:
        p = self.c.persons
        rate = self.cfg.behaviour.move_rate_per_year / 365.0
        start = np.maximum(p["acquired_day"].to_numpy(), self.t0)
        span = np.maximum(self.t1 - start, 0)
        mv = self.rng.random(len(p)) < 1 - np.exp(-rate * span)
        idx = p.index[mv]
        day = start[mv] + self.rng.random(len(idx)) * span[mv]
        new = draw_identities(len(idx), self.cfg.locale, self.w.pools, self.rng,
                              10_000_000 + self.w.counters.get("moves", 0))
        self.w.counters["moves"] = self.w.counters.get("moves", 0) + len(idx)
        return pd.DataFrame({"person_idx": idx.to_numpy(), "day": day,
                             **{c: new[c].to_numpy() for c in ADDRESS[:3]}})

    def create_records(self, moves: pd.DataFrame) -> None:
        """Members, duplicate members, accounts and duplicate accounts born in this window."""
        p = self.c.persons
        specs = [("member", "member_day", "member_id", False),
                 ("member", "dup_member_day", "dup_member_id", True),
                 ("account", "account_day", "account_num", False),
                 ("account", "dup_account_day", "dup_account_num", True)]
        births = []
        for kind, day_col, id_col, dup in specs:
            m = (p[day_col].to_numpy() < self.t1) & (p[id_col].to_numpy() < 0) & \
                (p[day_col].to_numpy() < NEVER)
            sub = p.loc[m, ["person_idx", day_col]].rename(columns={day_col: "day"})
            sub["kind"], sub["dup"], sub["id_col"] = kind, dup, id_col
            births.append(sub)
        b = pd.concat(births, ignore_index=True).sort_values(["day", "person_idx", "dup"],
                                                            kind="stable")
        for kind in ("member", "account"):
            sel = b.loc[b["kind"] == kind].copy()
            ids = self.next_ids(kind, len(sel))
            sel["num"] = ids
            for id_col in sel["id_col"].unique():
                part = sel.loc[sel["id_col"] == id_col]
                p.loc[part["person_idx"].to_numpy(), id_col] = part["num"].to_numpy()
            self.render_identity_records(kind, sel, moves)

    def persons_at(self, idx: np.ndarray, day: np.ndarray, moves: pd.DataFrame) -> pd.DataFrame:
        """Attributes of persons as of ``day`` (a move earlier in this window applies)."""
        sub = self.c.persons.loc[idx].reset_index(drop=True)
        if len(moves):
            mv = moves.set_index("person_idx")
            has = np.isin(idx, mv.index.to_numpy())
            if has.any():
                moved_day = mv.loc[idx[has], "day"].to_numpy()
                after = np.zeros(len(idx), dtype=bool)
                after[np.flatnonzero(has)] = day[has] >= moved_day
                for c in ADDRESS[:3]:
                    newv = np.full(len(idx), None, dtype=object)
                    newv[np.flatnonzero(has)] = mv.loc[idx[has], c].to_numpy()
                    sub.loc[after, c] = newv[after]
        return sub

    def render_identity_records(self, kind: str, sel: pd.DataFrame, moves: pd.DataFrame) -> None:
        cfg, rng = self.cfg, self.rng
        idx = sel["person_idx"].to_numpy()
        day = sel["day"].to_numpy()
        people = self.persons_at(idx, day, moves)
        rows = identity_rows(people, kind, sel["dup"].to_numpy(), cfg, rng,
                             phone_base=0 if kind == "member" else 1)
        nums = sel["num"].to_numpy()
        rows["_person_idx"] = idx
        rows["_day"] = day
        rows["_is_duplicate"] = sel["dup"].to_numpy()
        if kind == "member":
            rows["member_id"] = nums
            rows["member_no"] = [f"M{i:08d}" for i in nums]
            rows["joined_at"] = day
            rows["marketing_opt_in"] = people["opt_in"].to_numpy().astype(int)
            rows["home_store_id"] = [f"S{i + 1:03d}" for i in people["home_store"].to_numpy()]
            rows["updated_at"] = day
            rows.loc[rows["_is_duplicate"].to_numpy(), "_defects"] += ":duplicate_record;"
            self.c.add_records("erp", "members", rows, [str(i) for i in nums])
        else:
            rows["customer_id"] = [f"C{i:07d}" for i in nums]
            primary_member = self.c.persons.loc[idx, "member_id"].to_numpy()
            linked = self.c.persons.loc[idx, "linked"].to_numpy() & (primary_member > 0)
            rows["loyalty_member_no"] = np.where(
                linked, pd.Series(primary_member).map(lambda i: f"M{i:08d}"), None)
            rows["marketing_consent"] = people["opt_in"].to_numpy()
            rows["created_at"] = day
            rows["updated_at"] = day
            rows.loc[rows["_is_duplicate"].to_numpy(), "_defects"] += ":duplicate_record;"
            self.c.add_records("ecommerce", "customers", rows, rows["customer_id"].tolist())
        self.emit_record_versions(kind, rows)

    def emit_record_versions(self, kind: str, rows: pd.DataFrame) -> None:
        out = rows.copy()
        # the platform's first export is a full load: older accounts arrive on the first day
        out["_vis"] = np.maximum(out["updated_at"].to_numpy(), self.t0) if kind == "account" \
            else out["updated_at"].to_numpy()
        self.emit("members" if kind == "member" else "customers", out)

    def apply_moves(self, moves: pd.DataFrame) -> None:
        """A person moves: existing member rows are updated, accounts re-exported."""
        if not len(moves):
            return
        mv = moves.set_index("person_idx")
        for kind, table in (("member", "members"), ("account", "customers")):
            recs = self.c.records.get(table)
            if recs is None:
                continue
            has = recs["_person_idx"].isin(mv.index).to_numpy()
            if not has.any():
                continue
            r = recs.loc[has].copy()
            mday = mv.loc[r["_person_idx"].to_numpy(), "day"].to_numpy()
            before = r["_day"].to_numpy() < mday  # created after the move: already new address
            r, mday = r.loc[before].copy(), mday[before]
            for c in ADDRESS[:3]:
                newv = mv.loc[r["_person_idx"].to_numpy(), c].to_numpy()
                keep_missing = pd.isna(r[c]).to_numpy()
                r[c] = np.where(keep_missing, None, newv)
            r["updated_at"] = mday
            r["_defects"] = ""  # defects were counted on the first version
            recs.loc[r.index, ADDRESS[:3] + ["updated_at"]] = r[ADDRESS[:3] + ["updated_at"]]
            self.emit_record_versions(kind, r)
        for c in ADDRESS[:3]:
            self.c.persons.loc[mv.index, c] = mv[c].to_numpy()

    # -- orders -------------------------------------------------------------------------------
    def persons_with_walkin(self) -> pd.DataFrame:
        p = self.c.persons
        b = self.cfg.behaviour
        walkin = pd.DataFrame({"gg_p": [b.gg_p], "nu": [b.gg_q / b.gg_gamma], "fav1": [0],
                               "fav2": [3]}, index=[-1])
        return pd.concat([p[["gg_p", "nu", "fav1", "fav2"]], walkin])

    def add_anonymous_sales(self, purchases: pd.DataFrame) -> pd.DataFrame:
        b, rng = self.cfg.behaviour, self.rng
        n_store = int((~purchases["is_web"]).sum())
        n = int(rng.poisson(n_store * b.anonymous_store_share)) if n_store else 0
        day = np.sort(self.t0 + rng.random(n) * (self.t1 - self.t0))
        day = np.floor(day) + (9 + 12 * rng.random(n)) / 24
        anon = pd.DataFrame({"person_idx": -1, "day": day, "is_repeat": False, "is_web": False,
                             "has_ticket": False, "bad_service": False})
        orders = pd.concat([purchases, anon], ignore_index=True)
        return orders.sort_values(["day", "person_idx"], kind="stable").reset_index(drop=True)

    def assign_order_facts(self, orders: pd.DataFrame, lines: pd.DataFrame) -> None:
        """Which member / account / store an order is booked under, ids and status."""
        p, rng, b = self.c.persons, self.rng, self.cfg.behaviour
        n = len(orders)
        pi = orders["person_idx"].to_numpy()
        known = pi >= 0
        pk = np.where(known, pi, p.index[0])  # any row of this chunk; masked by `known`
        day = orders["day"].to_numpy()
        web = orders["is_web"].to_numpy()

        def pick(primary_col, day_col, dup_col, dup_day_col):
            prim = np.where(known & (p.loc[pk, day_col].to_numpy() <= day),
                            p.loc[pk, primary_col].to_numpy(), -1)
            dup_ok = known & (p.loc[pk, dup_day_col].to_numpy() <= day) & \
                (p.loc[pk, dup_col].to_numpy() > 0)
            use_dup = dup_ok & (rng.random(n) < 0.5)
            return np.where(use_dup, p.loc[pk, dup_col].to_numpy(), prim)

        member = pick("member_id", "member_day", "dup_member_id", "dup_member_day")
        member = np.where(rng.random(n) < b.card_not_shown, -1, member)
        account = pick("account_num", "account_day", "dup_account_num", "dup_account_day")
        linked_member = np.where(known & p.loc[pk, "linked"].to_numpy() &
                                 (p.loc[pk, "member_day"].to_numpy() <= day),
                                 p.loc[pk, "member_id"].to_numpy(), -1)
        # a web purchase needs an account; without one it happens in a store
        web = web & (account > 0)
        orders["is_web"] = web
        orders["member_num"] = np.where(web, linked_member, member)
        orders["account_num"] = np.where(web, account, -1)
        home = p.loc[pk, "home_store"].to_numpy()
        store = np.where(known & (rng.random(n) < 0.85), home, rng.integers(0, 12, n))
        store_ids = np.array([f"S{i + 1:03d}" for i in range(12)], dtype=object)
        orders["store_id"] = np.where(web, "WEB", store_ids[store])
        orders["erp_order_id"] = self.next_ids("erp_order", n)
        web_ids = np.full(n, -1)
        web_ids[web] = self.next_ids("web_order", int(web.sum()))
        orders["web_order_num"] = web_ids
        cancel_rate = np.where(web, 0.03, 0.01)
        orders["cancelled"] = rng.random(n) < cancel_rate
        totals = lines.groupby("order_pos")["net_amount"].sum()
        orders["items_total"] = totals.reindex(range(n), fill_value=0.0).to_numpy()
        lines["erp_line_id"] = self.next_ids("erp_line", len(lines))

    def render_orders(self, orders, lines, returns, sessions) -> None:
        cfg, rng, d = self.cfg, self.rng, self.cfg.defects
        n = len(orders)
        day = orders["day"].to_numpy()
        web = orders["is_web"].to_numpy()
        upd = day + rng.uniform(1, 30, n) * MINUTE
        late = rng.random(n) < d.late_erp_entry
        upd = np.where(late, day + rng.uniform(1, 7, n), upd)
        cancelled = orders["cancelled"].to_numpy()
        upd = np.where(cancelled, np.maximum(upd, day + rng.uniform(0.05, 2, n)), upd)
        status = np.where(cancelled, "CANCELLED", "COMPLETED").astype(object)
        bad_status = rng.random(n) < d.unknown_status
        status[bad_status] = rng.choice(np.array(["COMPLETE", "ON_HOLD", "X"], dtype=object),
                                        int(bad_status.sum()))
        order_ts = day.copy()
        bad_date = rng.random(n) < d.invalid_order_date
        kind = rng.random(n) < 0.5
        year_1900 = float((date(1900, 1, 1) - cfg.start_date).days)
        order_ts = np.where(bad_date & kind, year_1900, order_ts)
        order_ts = np.where(bad_date & ~kind, day + rng.uniform(365, 3650, n), order_ts)
        member = orders["member_num"].to_numpy()
        so = pd.DataFrame({
            "order_id": orders["erp_order_id"].to_numpy(),
            "member_id": pd.array(np.where(member > 0, member, 0), dtype="Int64"),
            "store_id": orders["store_id"].to_numpy(),
            "channel": np.where(web, "WEB", "STORE"),
            "web_order_ref": format_ids("W%09d", orders["web_order_num"].to_numpy(), web),
            "order_ts": order_ts,
            "status": status,
            "currency": cfg.currency,
            "order_total": np.round(orders["items_total"].to_numpy(), 2),
            "updated_at": upd,
            "_vis": upd,
            "_defects": _blank(n),
        })
        so.loc[member <= 0, "member_id"] = pd.NA
        add_defect(so, late, "updated_at", "late_erp_entry")
        add_defect(so, bad_status, "status", "unknown_status")
        add_defect(so, bad_date, "order_ts", "invalid_order_date")
        self.emit("sales_orders", so)
        # lines
        op = lines["order_pos"].to_numpy()
        m = len(lines)
        qty = lines["quantity"].to_numpy().copy()
        neg = rng.random(m) < d.negative_quantity
        qty[neg] = -qty[neg]
        pid = self.w.products["product_id"].to_numpy()[lines["product_idx"].to_numpy()].copy()
        unk = rng.random(m) < d.unknown_product
        pid[unk] = [f"SKU-9{k:04d}" for k in rng.integers(0, 10000, int(unk.sum()))]
        sol = pd.DataFrame({
            "order_line_id": lines["erp_line_id"].to_numpy(),
            "order_id": orders["erp_order_id"].to_numpy()[op],
            "line_no": lines["line_no"].to_numpy(),
            "product_id": pid,
            "quantity": qty,
            "unit_price": lines["unit_price"].to_numpy(),
            "discount_amount": lines["discount_amount"].to_numpy(),
            "updated_at": upd[op],
            "_vis": upd[op],
            "_defects": _blank(m),
        })
        web_line = web[op]
        # web prices already carry the discount per unit; the ERP mirrors the web order
        sol.loc[web_line, "unit_price"] = np.round(
            lines["net_amount"].to_numpy()[web_line] / lines["quantity"].to_numpy()[web_line], 2)
        sol.loc[web_line, "discount_amount"] = 0.0
        add_defect(sol, neg, "quantity", "negative_quantity")
        add_defect(sol, unk, "product_id", "unknown_product")
        self.emit("sales_order_lines", sol)
        # returns
        r = returns
        k = len(r)
        rday = r["returned_day"].to_numpy()
        ret = pd.DataFrame({
            "return_id": self.next_ids("erp_return", k),
            "order_id": orders["erp_order_id"].to_numpy()[r["order_pos"].to_numpy()],
            "order_line_id": r["erp_line_id"].to_numpy(),
            "product_id": self.w.products["product_id"].to_numpy()[r["product_idx"].to_numpy()],
            "quantity": r["return_qty"].to_numpy(),
            "refund_amount": r["refund"].to_numpy(),
            "returned_at": rday,
            "reason_code": r["reason_code"].to_numpy(),
            "updated_at": rday + rng.uniform(1, 60, k) * MINUTE,
            "_defects": _blank(k),
        })
        ret["_vis"] = ret["updated_at"]
        self.emit("returns", ret)
        # e-commerce orders (with nested items)
        wo = orders.loc[web]
        wl = lines.loc[web[op]]
        self.render_web_orders(wo, wl, sessions, order_ts[web], bad_date[web])

    def render_web_orders(self, wo, wl, sessions, order_ts, bad_date) -> None:
        cfg, rng, d = self.cfg, self.rng, self.cfg.defects
        n = len(wo)
        conv = sessions.loc[sessions["order_pos"].to_numpy() >= 0]
        sess_of_order = pd.Series(conv["session_num"].to_numpy(),
                                  index=conv["order_pos"].to_numpy())
        day = wo["day"].to_numpy()
        status = np.where(wo["cancelled"].to_numpy(), "cancelled",
                          np.where(day > self.t1 - 2, "placed",
                                   np.where(day > self.t1 - 5, "shipped", "delivered")))
        status = status.astype(object)
        bad_status = rng.random(n) < d.unknown_status
        odd = np.array(["on_hold", "unknown", "refunded?"], dtype=object)
        status[bad_status] = rng.choice(odd, int(bad_status.sum()))
        items_total = wo["items_total"].to_numpy()
        ship = np.where(items_total >= 50 * cfg.price_scale, 0.0, 4.95 * cfg.price_scale)
        pay = (["alipay", "wechat_pay", "card"], [.5, .4, .1]) if cfg.locale == "zh_CN" else \
            (["card", "paypal", "gift_card"], [.6, .3, .1])
        late = rng.random(n) < d.late_arrival
        vis = np.where(late, day + rng.integers(1, 6, n), day)
        out = pd.DataFrame({
            "order_id": [f"W{i:09d}" for i in wo["web_order_num"].to_numpy()],
            "customer_id": [f"C{i:07d}" for i in wo["account_num"].to_numpy()],
            "session_id": [f"S{i:010d}" for i in sess_of_order.loc[wo.index].to_numpy()],
            "ordered_at": order_ts,
            "status": status,
            "currency": cfg.currency,
            "shipping_amount": np.round(ship, 2),
            "total_amount": np.round(items_total + ship, 2),
            "payment_method": choose(rng, *pay, n),
            "_order_pos": wo.index.to_numpy(),
            "_vis": vis,
            "_defects": _blank(n),
        })
        add_defect(out, late, None, "late_arrival")
        add_defect(out, bad_status, "status", "unknown_status")
        add_defect(out, bad_date, "ordered_at", "invalid_order_date")
        pid = self.w.products["product_id"].to_numpy()[wl["product_idx"].to_numpy()].copy()
        unk = rng.random(len(wl)) < d.unknown_product
        pid[unk] = [f"SKU-9{k:04d}" for k in rng.integers(0, 10000, int(unk.sum()))]
        items = pd.DataFrame({
            "_order_pos": wl["order_pos"].to_numpy(), "line_no": wl["line_no"].to_numpy(),
            "product_id": pid, "quantity": wl["quantity"].to_numpy(),
            "unit_price": np.round(wl["net_amount"].to_numpy() / wl["quantity"].to_numpy(), 2),
        })
        bad_items = items.loc[unk, "_order_pos"].unique()
        add_defect(out, np.isin(out["_order_pos"].to_numpy(), bad_items), "items",
                   "unknown_product")
        items_json = _items_json(items)
        out["items"] = items_json.reindex(out["_order_pos"].to_numpy()).to_numpy()
        self.emit("orders", out.drop(columns=["_order_pos"]))

    # -- click-stream -------------------------------------------------------------------------
    def render_clickstream(self, sessions, events, orders) -> None:
        rng, d = self.rng, self.cfg.defects
        p = self.c.persons
        n = len(sessions)
        pi = sessions["person_idx"].to_numpy()
        op = sessions["order_pos"].to_numpy()
        # the account behind a session: the order's account, else the person's primary account
        acct = np.where(pi >= 0, p.loc[np.where(pi >= 0, pi, p.index[0]), "account_num"].to_numpy(),
                        -1)
        acct = np.where(op >= 0, orders["account_num"].to_numpy()[np.maximum(op, 0)], acct)
        cust = format_ids("C%07d", acct, acct > 0)
        sid = format_ids("S%010d", sessions["session_num"].to_numpy())
        products = self.w.products
        landing = np.where(sessions["landing_kind"].to_numpy() == "/", "/",
                           "/p/" + products["product_id"].to_numpy()[
                               sessions["landing_product"].to_numpy()])
        ended = sessions["ended"].to_numpy().copy()
        ended[rng.random(n) < 0.02] = np.nan  # sessions cut off without an end event
        late = rng.random(n) < d.late_arrival
        start = sessions["started"].to_numpy()
        out = pd.DataFrame({
            "session_id": sid, "customer_id": cust, "started_at": start, "ended_at": ended,
            "device": sessions["device"].to_numpy(), "channel": sessions["channel"].to_numpy(),
            "landing_page": landing,
            "_vis": np.where(late, start + rng.integers(1, 6, n), start),
            "_defects": _blank(n),
        })
        add_defect(out, late, None, "late_arrival")
        self.emit("sessions", out)
        m = len(events)
        spos = events["session_pos"].to_numpy()
        pid = np.where(events["product_idx"].to_numpy() >= 0,
                       products["product_id"].to_numpy()[np.maximum(events["product_idx"], 0)],
                       None)
        unk = (events["product_idx"].to_numpy() >= 0) & (rng.random(m) < d.unknown_product)
        pid[unk] = [f"SKU-9{k:04d}" for k in rng.integers(0, 10000, int(unk.sum()))]
        is_purchase = events["event_type"].to_numpy() == "purchase"
        order_num = orders["web_order_num"].to_numpy()[np.maximum(op[spos], 0)]
        ev_late = late[spos] | (rng.random(m) < d.late_arrival / 4)
        ts = events["ts"].to_numpy()
        ev = pd.DataFrame({
            "event_id": format_ids("E%012d", self.next_ids("event", m)),
            "session_id": sid[spos],
            "customer_id": cust[spos],
            "event_type": events["event_type"].to_numpy(),
            "event_ts": ts,
            "product_id": pid,
            "order_id": format_ids("W%09d", order_num, is_purchase),
            "_vis": np.where(ev_late, ts + rng.integers(1, 6, m), ts),
            "_defects": _blank(m),
        })
        add_defect(ev, ev_late, None, "late_arrival")
        add_defect(ev, unk, "product_id", "unknown_product")
        self.emit("events", ev)

    def render_reviews(self, reviews, orders) -> None:
        n = len(reviews)
        op = reviews["order_pos"].to_numpy()
        rating = reviews["rating"].to_numpy()
        out = pd.DataFrame({
            "review_id": [f"R{i:08d}" for i in self.next_ids("review", n)],
            "customer_id": [f"C{i:07d}" for i in orders["account_num"].to_numpy()[op]],
            "product_id": self.w.products["product_id"].to_numpy()[reviews["product_idx"]],
            "rating": rating,
            "title": pd.Series(rating).map(REVIEW_TITLES).to_numpy(),
            "body": np.where(self.rng.random(n) < 0.3, None,
                             pd.Series(rating).map(lambda r: f"{REVIEW_TITLES[r]}. "
                                                   f"Rated {r} out of 5.").to_numpy()),
            "created_at": reviews["created"].to_numpy(),
            "_vis": reviews["created"].to_numpy(),
        })
        self.emit("reviews", out)

    # -- service desk --------------------------------------------------------------------------
    def assign_contacts(self, tickets: pd.DataFrame) -> pd.DataFrame:
        """First ticket of a person creates their contact; agents sometimes create a duplicate."""
        p, rng = self.c.persons, self.rng
        t = tickets.sort_values(["created", "person_idx"], kind="stable").reset_index(drop=True)
        t["ticket_pos"] = np.arange(len(t))
        t["ticket_num"] = self.next_ids("ticket", len(t))
        pi = t["person_idx"].to_numpy()
        rank = t.groupby("person_idx").cumcount().to_numpy()
        prior = p.loc[pi, "contact_num"].to_numpy() > 0
        new_primary = ~prior & (rank == 0)
        new_dup = ~new_primary & (rng.random(len(t)) < self.cfg.defects.duplicate_contact)
        new = new_primary | new_dup
        nums = np.full(len(t), -1)
        nums[new] = self.next_ids("contact", int(new.sum()))
        prim = pd.Series(nums[new_primary], index=pi[new_primary])
        p.loc[prim.index, "contact_num"] = prim.to_numpy()
        primary_now = p.loc[pi, "contact_num"].to_numpy()
        t["contact_num"] = np.where(new, nums, primary_now)
        t["new_contact"] = new
        t["dup_contact"] = new_dup
        # contacts rows
        c = t.loc[new]
        people = self.c.persons.loc[c["person_idx"].to_numpy()].reset_index(drop=True)
        rows = identity_rows(people, "contact", c["dup_contact"].to_numpy() &
                             (rng.random(len(c)) < 0.3), self.cfg, rng, phone_base=1)
        rows["contact_id"] = [f"SD-{i:06d}" for i in c["contact_num"].to_numpy()]
        rows["created_at"] = c["created"].to_numpy()
        rows["updated_at"] = c["created"].to_numpy()
        rows["_person_idx"] = c["person_idx"].to_numpy()
        rows["_day"] = c["created"].to_numpy()
        rows["_is_duplicate"] = c["dup_contact"].to_numpy()
        rows.loc[rows["_is_duplicate"].to_numpy(), "_defects"] += ":duplicate_record;"
        self.c.add_records("service_desk", "contacts", rows, rows["contact_id"].tolist())
        rows["_vis"] = rows["created_at"]
        self.emit("contacts", rows)
        return t

    def render_service(self, tickets, surveys, orders) -> None:
        rng, d = self.rng, self.cfg.defects
        t = tickets
        n = len(t)
        op = t["order_pos"].to_numpy()
        web = orders["is_web"].to_numpy()[op]
        ref = np.where(web, pd.Series(orders["web_order_num"].to_numpy()[op]).map(
            lambda i: f"W{i:09d}"), orders["erp_order_id"].to_numpy()[op].astype(str))
        subject = [SUBJECTS[c].format(ref=r) for c, r in zip(t["category"], ref, strict=True)]
        base = pd.DataFrame({
            "ticket_id": [f"T-{i:07d}" for i in t["ticket_num"].to_numpy()],
            "contact_id": [f"SD-{i:06d}" for i in t["contact_num"].to_numpy()],
            "channel": t["channel"].to_numpy(), "category": t["category"].to_numpy(),
            "priority": t["priority"].to_numpy(), "created_at": t["created"].to_numpy(),
            "order_ref": ref, "subject": subject,
        })
        created = t["created"].to_numpy()
        fr = t["first_response"].to_numpy()
        res = t["resolved"].to_numpy()
        closed = res + 3.0
        bad_status = rng.random(n) < d.unknown_status
        versions = []
        for status, when, has_fr, has_res in (("open", created, False, False),
                                             ("pending", fr, True, False),
                                             ("resolved", res, True, True),
                                             ("closed", closed, True, True)):
            ok = ~np.isnan(when)
            v = base.loc[ok].copy()
            v["status"] = status
            v["first_response_at"] = fr[ok] if has_fr else np.nan
            v["resolved_at"] = res[ok] if has_res else np.nan
            v["updated_at"] = when[ok]
            v["_vis"] = when[ok]
            v["_defects"] = _blank(int(ok.sum()))
            if status == "pending":
                b = bad_status[ok]
                v.loc[b, "status"] = "escalated"
                add_defect(v, b, "status", "unknown_status")
            versions.append(v)
        self.emit("tickets", pd.concat(versions, ignore_index=True))
        # CSAT and relationship NPS
        s = surveys
        k = len(s)
        csat = pd.DataFrame({
            "ticket_id": [f"T-{i:07d}" for i in t["ticket_num"].to_numpy()[s["ticket_pos"]]],
            "contact_id": [f"SD-{i:06d}" for i in s["contact_num"].to_numpy()],
            "survey_type": "CSAT", "score": s["score"].to_numpy(),
            "comment": np.where(s["score"].to_numpy() <= 2, "Slow and unhelpful", None),
            "responded_at": s["responded"].to_numpy(),
        })
        nps = self.nps_answers()
        out = pd.concat([csat, nps], ignore_index=True).sort_values("responded_at", kind="stable")
        out.insert(0, "response_id", [f"SV{i:08d}" for i in self.next_ids("survey", len(out))])
        out["_vis"] = out["responded_at"]
        self.emit("surveys", out.reset_index(drop=True))
        del k

    def nps_answers(self) -> pd.DataFrame:
        p, rng = self.c.persons, self.rng
        frames = []
        for q in quarter_starts(self.cfg.start_date, self.t0, self.t1):
            has = p["contact_num"].to_numpy() > 0
            ans = has & (rng.random(len(p)) < self.cfg.behaviour.nps_response_rate)
            sub = p.loc[ans]
            gone = ~sub["alive"].to_numpy() & (sub["dropout_day"].to_numpy() < q)
            mean = 8.3 - 2.0 * np.minimum(sub["n_bad_tickets"].to_numpy(), 2) - 2.0 * gone
            score = np.clip(np.round(rng.normal(mean, 1.8)), 0, 10).astype(int)
            frames.append(pd.DataFrame({
                "ticket_id": None,
                "contact_id": [f"SD-{i:06d}" for i in sub["contact_num"].to_numpy()],
                "survey_type": "NPS", "score": score,
                "comment": None, "responded_at": q + rng.uniform(0, 14, len(sub)),
            }))
        if not frames:
            return pd.DataFrame(columns=["ticket_id", "contact_id", "survey_type", "score",
                                         "comment", "responded_at"])
        return pd.concat(frames, ignore_index=True)

    # -- products ------------------------------------------------------------------------------
    def render_products(self) -> None:
        """Initial master on the first window; later price changes update rows."""
        prod, rng = self.w.products, self.rng
        if self.t0 == 0:
            rows = prod.copy()
            rows["updated_at"] = -30.0
        else:
            rows = prod.iloc[:0].copy()
            rows["updated_at"] = []
        chg = rng.random(len(prod)) < 0.1 * (self.t1 - self.t0) / 365.0
        if chg.any():
            c = prod.loc[chg].copy()
            c["unit_price"] = np.round(c["unit_price"] * rng.uniform(0.9, 1.15, len(c)), 0) - 0.01
            c["updated_at"] = self.t0 + rng.random(len(c)) * (self.t1 - self.t0)
            prod.loc[chg, "unit_price"] = c["unit_price"]
            rows = pd.concat([rows, c], ignore_index=True)
        rows = rows[["product_id", "product_name", "category", "brand", "unit_cost", "unit_price",
                     "currency", "is_active", "updated_at"]].copy()
        rows["_vis"] = rows["updated_at"]
        self.emit("products", rows)
        if self.t0 == 0:
            st = self.w.stores
            s = pd.DataFrame({"store_id": st["store_id"], "store_name": st["store_name"],
                              "city": st["city"], "country_code": st["country_code"],
                              "opened_at": -st["opened_days_before_start"].astype(float),
                              "updated_at": -30.0})
            s["_vis"] = s["updated_at"]
            self.emit("stores", s)


def _items_json(items: pd.DataFrame) -> pd.Series:
    """Nested items per order as a JSON array string, keyed by order position."""
    con = duckdb.connect()
    con.register("items", items)
    df = con.execute("""
        SELECT _order_pos, '[' || string_agg(
            '{"product_id":' || to_json(product_id) || ',"quantity":' || quantity::VARCHAR
            || ',"unit_price":' || CAST(unit_price AS DECIMAL(12, 2))::VARCHAR || '}',
            ',' ORDER BY line_no) || ']' AS items
        FROM items GROUP BY _order_pos""").df()
    con.close()
    return pd.Series(df["items"].to_numpy(), index=df["_order_pos"].to_numpy())
