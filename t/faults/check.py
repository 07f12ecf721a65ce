#!/usr/bin/env python3
"""t/faults/check.py: the fault-injection run's history checker.

Compares what the clients were told (history.jsonl, written by
t/faults/run.py) with what the database holds, after the run, and prints
the run's figures and every violation found, one line each:

  VIOLATION <name>: <detail>

Exits 1 when there is any, 0 otherwise (2 when it cannot even read its
inputs).  The checks (docs/testing.md explains each; the invariants are
docs/architecture.md's):

  answers     no 500; no keyed request left without a definite answer
              (2xx, or a 4xx other than 409 request_in_progress); no
              422 (the run never changes a key's request); once a key was
              answered 2xx, every later definite answer with it is the
              same status and body, replayed (never a refusal after a
              success, never run twice)
  keys        every key answered 2xx has its stored row, with the same
              status and body, and no row exists for a key no client was
              answered 2xx; the attempt that committed a key's effect
              (the one running when its transaction began) was not
              answered "nothing changed" (a 4xx, or a 503 but
              outcome_unknown)
  orders      every order answered 201 exists, for its user, with the
              items asked for and the total told; no order exists that no 201 named; an order
              is paid only if a payment was answered 200 and canceled only
              if a cancel was, and every 200 shows in the order's status
  stock       never negative, in the database or in any answer read; each
              option's stock = its initial stock - what its pending and
              paid orders hold, and its 'initial' and 'restock' movements
              add up to the initial stock (the run restocks nothing)
  points      balance = ledger sum >= 0 (never negative in any answer
              read); every charge answered 200 is exactly one ledger row
              (charge amounts are unique in a run), with the balance
              the answer told, and no charge row exists without one; a paid order used its total less its
              discount once, a canceled paid order was refunded once,
              nothing else used or refunded points
  coupons     per policy: coupons <= N, = issued_quantity, one per user;
              every coupon answered 201 exists for its user and policy,
              and no coupon exists that no 201 named (but one of an
              unkeyed claim left ambiguous: never retried, it may have
              issued); a coupon is used
              exactly when a payment naming it was answered 200 and its
              order is paid; a policy that answered sold_out issued N; a
              caller who held a coupon is not answered sold_out
  audit       sql/audit.sql returns no row

Figures: requests by op and answer, by phase; faults by kind; per fault
kind, the failed answers (5xx and connection errors) that ended after it
and before the next fault, and the recovery time: from the fault's start
to the end of the first 2xx answer to a value-moving request that started
after the fault's last failed answer.

Usage:  check.py --dir DIR --psql 'psql -h SOCKETDIR -U postgres -d DB'
                 --audit sql/audit.sql [--history FILE] [--proxy-log FILE]
"""

import argparse
import collections
import json
import os
import shlex
import statistics
import subprocess
import sys

# Answers that say a request changed nothing (docs/architecture.md,
# "Errors"; docs/openapi.yaml): 4xx, and 503 but outcome_unknown.
NOTHING_CHANGED_503 = {"database_timeout", "database_unavailable",
                       "database_busy", "not_ready"}
VALUE_OPS = ("order", "pay", "cancel", "charge", "claim")

DB_QUERY = r"""
SELECT json_build_object(
  'options', (SELECT COALESCE(json_agg(json_build_object(
      'id', po.id, 'stock', po.stock,
      'moved', (SELECT COALESCE(sum(delta), 0) FROM stock_movements m
                WHERE m.option_id = po.id),
      'initial', (SELECT COALESCE(sum(delta), 0) FROM stock_movements m
                  WHERE m.option_id = po.id
                    AND m.reason IN ('initial', 'restock')))), '[]')
      FROM product_options po),
  'orders', (SELECT COALESCE(json_agg(json_build_object(
      'id', o.id, 'user_id', o.user_id, 'status', o.status,
      'total', o.total, 'discount', o.discount, 'coupon_id', o.coupon_id,
      'items', (SELECT json_agg(json_build_array(i.option_id, i.quantity)
                                ORDER BY i.option_id)
                FROM order_items i WHERE i.order_id = o.id))), '[]')
      FROM orders o),
  'ledger', (SELECT COALESCE(json_agg(json_build_object(
      'id', l.id, 'user_id', l.user_id, 'amount', l.amount, 'kind', l.kind,
      'order_id', l.order_id, 'balance_after', l.balance_after)), '[]')
      FROM point_ledger l),
  'accounts', (SELECT COALESCE(json_agg(json_build_object(
      'user_id', a.user_id, 'balance', a.balance,
      'ledger', (SELECT COALESCE(sum(amount), 0) FROM point_ledger l
                 WHERE l.user_id = a.user_id))), '[]')
      FROM point_accounts a),
  'coupons', (SELECT COALESCE(json_agg(json_build_object(
      'id', c.id, 'policy_id', c.policy_id, 'user_id', c.user_id,
      'status', c.status, 'order_id', c.order_id)), '[]')
      FROM user_coupons c),
  'policies', (SELECT COALESCE(json_agg(json_build_object(
      'id', p.id, 'total', p.total_quantity, 'issued', p.issued_quantity,
      'shard_issued', (SELECT COALESCE(sum(issued), 0) FROM coupon_shards s
                       WHERE s.policy_id = p.id))), '[]')
      FROM coupon_policies p),
  'keys', (SELECT COALESCE(json_agg(json_build_object(
      'user_id', k.user_id, 'key', k.key, 'status', k.status,
      'body', k.body, 'at', extract(epoch FROM k.created_at))), '[]')
      FROM idempotency_keys k))
"""


class Checker:
    def __init__(self):
        self.violations = []

    def fail(self, name, detail):
        self.violations.append((name, detail))


def ambiguous(r):
    if r["status"] is None or r["status"] >= 500:
        return True
    return r["status"] == 409 and r["code"] == "request_in_progress"


def load_history(path):
    recs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                recs.append(json.loads(line))
    recs.sort(key=lambda r: r["i"])
    return recs


def read_db(psql):
    out = subprocess.run(shlex.split(psql) + ["-XAtq", "-v",
                                               "ON_ERROR_STOP=1", "-c",
                                               DB_QUERY],
                         check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout)


def run_audit(psql, audit):
    out = subprocess.run(shlex.split(psql) + ["-XAtq", "-v",
                                               "ON_ERROR_STOP=1", "-f",
                                               audit],
                         check=True, stdout=subprocess.PIPE, text=True)
    return [line for line in out.stdout.splitlines() if line.strip()]


# ---------------------------------------------------------------------------
# What the clients were told.

class Told:
    """The effects the history says happened: each key's first 2xx."""

    def __init__(self):
        self.first_ok = {}  # (user, key) -> record
        self.orders = {}  # order id -> record
        self.pays = collections.defaultdict(list)  # order id -> records
        self.cancels = collections.defaultdict(list)
        self.charges = {}  # amount -> record
        self.coupons = {}  # coupon id -> record


def check_answers(c, recs):
    """The per-answer and per-key rules; returns the Told effects and
    the records by (user, key)."""
    told = Told()
    by_key = collections.defaultdict(list)
    for r in recs:
        if r["status"] == 500:
            c.fail("status_500", f"{r['method']} {r['path']} key "
                   f"{r['key']}: {r['resp']}")
        if r["status"] == 422:
            c.fail("key_reused", f"{r['path']} key {r['key']}: {r['resp']}")
        if r["status"] is None and r["error"] is None:
            c.fail("unanswered", f"record {r['i']} has no answer")
        if r["key"]:
            by_key[(r["user"], r["key"])].append(r)
        elif r["op"] == "claim" and r["status"] is not None and \
                200 <= r["status"] < 300:
            # An unkeyed claim (run.py --unkeyed-claims): its 201 is told
            # once, never replayed.
            record_effect(c, told, r)
    for k, rs in by_key.items():
        if all(ambiguous(r) for r in rs):
            c.fail("unanswered", f"key {k[1]} of user {k[0]} ({rs[0]['op']}"
                   f"): never definite in {len(rs)} attempts, last "
                   f"{rs[-1]['status']} {rs[-1]['code'] or rs[-1]['error']}")
        ok = None
        for j, r in enumerate(rs):
            st = r["status"]
            if ok is None:
                if st is not None and 200 <= st < 300:
                    ok = r
                continue
            if ambiguous(r):
                continue
            if st != ok["status"] or r["resp"] != ok["resp"] or \
                    not r["replayed"]:
                c.fail("replay_broken",
                       f"key {k[1]} ({r['op']} {r['path']}): answered "
                       f"{ok['status']}, later {st} {r['code'] or ''}"
                       f"{'' if r['replayed'] else ' not replayed'}")
        if ok is not None:
            told.first_ok[k] = ok
            record_effect(c, told, ok)
    return told, by_key


def record_effect(c, told, r):
    body, op = r["resp"], r["op"]
    if not isinstance(body, dict):
        c.fail("bad_answer", f"{op} {r['path']}: {body!r}")
        return
    if op == "order":
        if body.get("id") in told.orders:
            c.fail("order_told_twice", f"order {body.get('id')}")
        told.orders[body.get("id")] = r
    elif op == "pay":
        told.pays[int(r["path"].split("/")[4])].append(r)
    elif op == "cancel":
        told.cancels[int(r["path"].split("/")[4])].append(r)
    elif op == "charge":
        amount = json.loads(r["body"])["amount"]
        told.charges[amount] = r
    elif op == "claim":
        if body.get("id") in told.coupons:
            c.fail("coupon_told_twice", f"coupon {body.get('id')}")
        told.coupons[body.get("id")] = r


def check_reads(c, recs):
    for r in recs:
        body = r["resp"]
        if r["status"] != 200 or not isinstance(body, dict):
            continue
        if r["op"] == "read_points" and body.get("balance", 0) < 0:
            c.fail("balance_negative", f"read {body}")
        if r["op"] == "read_product":
            for o in body.get("options", []):
                if o.get("stock", 0) < 0:
                    c.fail("stock_negative", f"read option {o}")


# ---------------------------------------------------------------------------
# The database against the history.

def says_nothing_changed(r):
    """An answer that promises the request changed nothing."""
    st = r["status"]
    if st is None or st == 409 and r["code"] == "request_in_progress":
        return False
    return 400 <= st < 500 or (st == 503 and
                               r["code"] in NOTHING_CHANGED_503)


def check_committer(c, rs, at):
    """The attempt that committed a key's effect is one up to the first
    2xx: the one whose run holds the key row's created_at (PostgreSQL's
    now(), its transaction's start), else the last one sent before it
    (its client gave up first: a connection error, a 504); 5 ms are
    allowed between the two clocks' readings.  Its answer must not have
    said "nothing changed": a 4xx, or a 503 but outcome_unknown
    (invariant 5)."""
    upto = next(j for j, r in enumerate(rs)
                if r["status"] is not None and 200 <= r["status"] < 300)
    rs = rs[:upto + 1]
    sent = [r for r in rs if r["t0"] <= at <= r["t1"]] or \
        [r for r in rs if r["t0"] <= at] or \
        [r for r in rs if r["t0"] <= at + 0.005]
    if not sent:
        c.fail("key_row_untold", f"key {rs[0]['key']}: stored at {at:.3f} "
               f"s, before any request with it ({rs[0]['t0']:.3f} s)")
        return
    r = sent[-1]
    if says_nothing_changed(r):
        c.fail("nothing_changed_but_applied",
               f"key {r['key']} ({r['op']} {r['path']}): its effect began "
               f"at {at:.3f} s, in the attempt sent at {r['t0']:.3f} s, "
               f"which was answered {r['status']} {r['code']}")


def check_keys(c, told, db, by_key, epoch):
    rows = {(k["user_id"], k["key"]): k for k in db["keys"]}
    for k, r in told.first_ok.items():
        row = rows.get(k)
        if row is None:
            c.fail("key_row_missing", f"key {k[1]} of user {k[0]} was "
                   f"answered {r['status']}")
            continue
        check_committer(c, by_key[k], row["at"] - epoch)
        try:
            stored = json.loads(row["body"])
        except ValueError:
            stored = row["body"]
        if row["status"] != r["status"] or stored != r["resp"]:
            c.fail("key_row_differs", f"key {k[1]}: stored {row['status']} "
                   f"{row['body'][:120]}, told {r['status']}")
    for k in rows:
        if k not in told.first_ok:
            c.fail("key_row_untold", f"key {k[1]} of user {k[0]} is stored "
                   "but no client was answered 2xx with it")


def check_orders(c, told, db, setup):
    orders = {o["id"]: o for o in db["orders"]}
    for oid, r in told.orders.items():
        o = orders.get(oid)
        if o is None:
            c.fail("order_missing", f"order {oid} was answered 201 "
                   f"(key {r['key']}) and does not exist")
            continue
        want = sorted([i["option_id"], i["quantity"]]
                      for i in json.loads(r["body"])["items"])
        if o["user_id"] != r["user"] or o["items"] != want or \
                o["total"] != r["resp"].get("total"):
            c.fail("order_differs", f"order {oid}: user {o['user_id']} "
                   f"items {o['items']} total {o['total']}, asked by "
                   f"{r['user']} for {want}, told total "
                   f"{r['resp'].get('total')}")
    for oid, o in orders.items():
        if oid not in told.orders:
            c.fail("order_untold", f"order {oid} ({o['status']}) exists but "
                   "no client was answered 201 with it")
        pays, cancels = told.pays.get(oid, []), told.cancels.get(oid, [])
        if len(pays) > 1 or len(cancels) > 1:
            c.fail("order_told_twice", f"order {oid}: {len(pays)} payments, "
                   f"{len(cancels)} cancels answered 200")
        st = o["status"]
        if (st == "paid" and (not pays or cancels)) or \
                (st == "canceled" and not cancels) or \
                (st in ("pending", "expired") and (pays or cancels)):
            c.fail("order_status_differs", f"order {oid} is {st}; "
                   f"{len(pays)} payments, {len(cancels)} cancels answered")
    for oid in set(told.pays) | set(told.cancels):
        if oid not in orders:
            c.fail("order_missing", f"order {oid} was paid or canceled "
                   "and does not exist")
    check_stock(c, db, setup, orders)


def check_stock(c, db, setup, orders):
    held = collections.Counter()
    for o in orders.values():
        if o["status"] in ("pending", "paid"):
            for opt, q in o["items"] or []:
                held[opt] += q
    opts = {o["id"]: o for o in db["options"]}
    for s in setup["options"]:
        o = opts.get(s["id"])
        if o is None:
            c.fail("stock_differs", f"option {s['id']} is missing")
            continue
        if o["stock"] < 0:
            c.fail("stock_negative", f"option {s['id']}: {o['stock']}")
        want = s["stock"] - held[s["id"]]
        if o["stock"] != want or o["moved"] != o["stock"]:
            c.fail("stock_differs", f"option {s['id']}: {o['stock']} in "
                   f"stock, movements sum to {o['moved']}; initial "
                   f"{s['stock']} - {held[s['id']]} held = {want}")
        if o["initial"] != s["stock"]:
            c.fail("stock_differs", f"option {s['id']}: initial and restock "
                   f"movements sum to {o['initial']}, set up with "
                   f"{s['stock']}")


def check_points(c, told, db):
    for a in db["accounts"]:
        if a["balance"] != a["ledger"] or a["balance"] < 0:
            c.fail("balance_differs", f"user {a['user_id']}: balance "
                   f"{a['balance']}, ledger sums to {a['ledger']}")
    charges = collections.defaultdict(list)
    uses = collections.defaultdict(list)
    refunds = collections.defaultdict(list)
    for row in db["ledger"]:
        {"charge": charges, "use": uses, "refund": refunds}[row["kind"]][
            row["amount"] if row["kind"] == "charge" else row["order_id"]
        ].append(row)
    for amount, r in told.charges.items():
        rows = [x for x in charges.get(amount, []) if x["user_id"] == r["user"]]
        if len(rows) != 1:
            c.fail("charge_rows_wrong", f"charge of {amount} to user "
                   f"{r['user']} (key {r['key']}) answered 200: "
                   f"{len(rows)} ledger rows")
        elif rows[0]["balance_after"] != r["resp"].get("balance"):
            c.fail("charge_differs", f"charge of {amount} to user "
                   f"{r['user']} answered balance {r['resp'].get('balance')}"
                   f", its ledger row says {rows[0]['balance_after']}")
    for amount, rows in charges.items():
        r = told.charges.get(amount)
        for x in rows:
            if r is None or x["user_id"] != r["user"]:
                c.fail("charge_untold", f"ledger row {x['id']}: a charge of "
                       f"{amount} to user {x['user_id']} no client was "
                       "answered 200 for")
    for o in db["orders"]:
        due = o["total"] - o["discount"]
        paid = bool(told.pays.get(o["id"])) and \
            o["status"] in ("paid", "canceled")
        refunded = paid and o["status"] == "canceled"
        want_use = [-due] if paid and due > 0 else []
        want_refund = [due] if refunded and due > 0 else []
        got_use = [x["amount"] for x in uses.get(o["id"], [])]
        got_refund = [x["amount"] for x in refunds.get(o["id"], [])]
        if got_use != want_use:
            c.fail("points_use_wrong", f"order {o['id']} ({o['status']}, "
                   f"due {due}): used {got_use}, want {want_use}")
        if got_refund != want_refund:
            c.fail("points_refund_wrong", f"order {o['id']} "
                   f"({o['status']}, due {due}): refunded {got_refund}, "
                   f"want {want_refund}")


def check_coupons(c, told, db, setup, recs):
    coupons = {x["id"]: x for x in db["coupons"]}
    policies = {p["id"]: p for p in db["policies"]}
    per_policy = collections.Counter(x["policy_id"] for x in db["coupons"])
    per_user = collections.Counter((x["policy_id"], x["user_id"])
                                   for x in db["coupons"])
    told_per_policy = collections.Counter()
    for cid, r in told.coupons.items():
        x = coupons.get(cid)
        pol = int(r["path"].split("/")[4])
        told_per_policy[pol] += 1
        if x is None:
            c.fail("coupon_missing", f"coupon {cid} was answered 201 to user "
                   f"{r['user']} (key {r['key']}) and does not exist")
        elif x["user_id"] != r["user"] or x["policy_id"] != pol:
            c.fail("coupon_differs", f"coupon {cid}: user {x['user_id']} "
                   f"policy {x['policy_id']}, told {r['user']} {pol}")
    # An unkeyed claim left ambiguous (5xx, no answer) is never retried: a
    # coupon of its user and policy may be its, told to no one.
    maybe = {(int(r["path"].split("/")[4]), r["user"]) for r in recs
             if r["op"] == "claim" and not r["key"] and ambiguous(r)}
    for cid, x in coupons.items():
        if cid not in told.coupons and \
                (x["policy_id"], x["user_id"]) not in maybe:
            c.fail("coupon_untold", f"coupon {cid} (policy {x['policy_id']}"
                   f", user {x['user_id']}) exists but no client was "
                   "answered 201 with it")
    for (pol, user), n in per_user.items():
        if n > 1:
            c.fail("coupon_twice", f"policy {pol} user {user}: {n} coupons")
    for s in setup["policies"]:
        p = policies.get(s["id"])
        n = per_policy[s["id"]]
        if p is None or n > s["total"] or \
                p["issued"] + p["shard_issued"] != n:
            c.fail("coupon_count_differs", f"policy {s['id']}: {n} coupons "
                   f"of {s['total']}, issued_quantity "
                   f"{p and p['issued'] + p['shard_issued']}")
        if n != told_per_policy[s["id"]]:
            c.fail("coupon_count_differs", f"policy {s['id']}: {n} coupons, "
                   f"{told_per_policy[s['id']]} claims answered 201")
    check_claim_refusals(c, told, recs, setup, per_policy)
    used_by = {}
    for oid, rs in told.pays.items():
        cid = json.loads(rs[0]["body"]).get("coupon_id") \
            if rs[0]["body"] else None
        if cid:
            used_by[cid] = oid
    orders = {o["id"]: o for o in db["orders"]}
    for cid, x in coupons.items():
        oid = used_by.get(cid)
        paid = oid is not None and orders.get(oid, {}).get("status") == "paid"
        if (x["status"] == "used") != paid or \
                (paid and x["order_id"] != oid):
            c.fail("coupon_use_differs", f"coupon {cid} is {x['status']} "
                   f"(order {x['order_id']}); told paid order: {oid}")


def check_claim_refusals(c, told, recs, setup, per_policy):
    """docs/openapi.yaml, issueCoupon: a caller who already claimed gets
    409 already_issued, not sold_out; a policy that turned callers away as
    sold out issued exactly N (coupons are never taken back)."""
    got = {}  # (policy, user) -> end of the first 201
    for r in told.coupons.values():
        k = (int(r["path"].split("/")[4]), r["user"])
        got[k] = min(got.get(k, r["t1"]), r["t1"])
    sold_out = collections.Counter()
    for r in recs:
        if r["op"] != "claim" or r["status"] != 409:
            continue
        pol = int(r["path"].split("/")[4])
        if r["code"] == "sold_out":
            sold_out[pol] += 1
            if got.get((pol, r["user"]), r["t0"] + 1) < r["t0"]:
                c.fail("claim_refused_wrongly", f"user {r['user']} had a "
                       f"coupon of policy {pol} and was answered sold_out "
                       f"(key {r['key']}, at {r['t0']:.3f} s)")
    for s in setup["policies"]:
        if sold_out[s["id"]] and per_policy[s["id"]] != s["total"]:
            c.fail("coupon_undersold", f"policy {s['id']}: "
                   f"{sold_out[s['id']]} claims answered sold_out, "
                   f"{per_policy[s['id']]} of {s['total']} issued")


# ---------------------------------------------------------------------------
# Figures.

def figures(recs, faults, proxy_log):
    out = []
    by_op = collections.defaultdict(collections.Counter)
    phases = collections.Counter(r["phase"] for r in recs)
    for r in recs:
        ans = str(r["status"]) if r["status"] is not None else "conn_error"
        if r["code"] and r["status"] >= 400:
            ans += " " + r["code"]
        if r["replayed"]:
            ans += " (replayed)"
        by_op[r["op"]][ans] += 1
    span = max((r["t1"] for r in recs if r["phase"] == "load"), default=0)
    load = phases["load"]
    out.append(f"requests: {len(recs)} ({load} load in {span:.0f} s, "
               f"{load / span if span else 0:.0f}/s; "
               f"{phases['replay']} replays sent on purpose; "
               f"{phases['retry']} retries after the load)")
    for op in sorted(by_op):
        out.append(f"  {op:13} " + ", ".join(
            f"{n} x {a}" for a, n in sorted(by_op[op].items(),
                                            key=lambda x: -x[1])))
    kinds = collections.Counter(f["kind"] for f in faults)
    bad = collections.Counter(f["kind"] for f in faults if f["rc"] != 0)
    out.append(f"faults: {len(faults)}: " + ", ".join(
        f"{k} {n}" + (f" ({bad[k]} failed)" if bad[k] else "")
        for k, n in sorted(kinds.items())))
    if proxy_log and os.path.exists(proxy_log):
        with open(proxy_log, encoding="utf-8", errors="replace") as f:
            text = f.read()
        out.append("  proxy made: %d COMMIT answers lost, %d COMMITs lost, "
                   "%d statements on a dead connection" % (
                       text.count("COMMIT's answer dropped"),
                       text.count("COMMIT not sent on"),
                       text.count("statement not sent on")))
    out.extend(recovery(recs, faults))
    return out


def recovery(recs, faults):
    """Failed answers and recovery time per fault kind."""
    faults = sorted(faults, key=lambda f: f["t0"])
    failed = collections.defaultdict(list)  # fault index -> records
    load = [r for r in recs if r["phase"] != "retry"]
    for r in load:
        if r["status"] is not None and r["status"] < 500:
            continue
        idx = None
        for i, f in enumerate(faults):
            if f["t0"] <= r["t1"]:
                idx = i
        failed[idx].append(r)
    oks = sorted((r for r in load if r["op"] in VALUE_OPS and
                  r["status"] is not None and 200 <= r["status"] < 300),
                 key=lambda r: r["t0"])
    per_kind = collections.defaultdict(list)
    fails_kind = collections.defaultdict(collections.Counter)
    late_kind = collections.Counter()
    for i, f in enumerate(faults):
        fs = failed.get(i, [])
        for r in fs:
            fails_kind[f["kind"]][str(r["status"] or "conn_error")] += 1
            late_kind[f["kind"]] += r["t0"] > f["t1"]
        after = max([r["t0"] for r in fs] + [f["t0"]])
        first = next((r for r in oks if r["t0"] >= after), None)
        if first is not None:
            per_kind[f["kind"]].append((first["t1"] - f["t0"]) * 1000)
    out = ["per fault kind: failed answers (5xx, connection errors) after "
           "it, of which sent after the fault was over (inject.sh had "
           "returned: PostgreSQL accepting again, Redis back, the new "
           "master listening); recovery ms (median, max) to the next "
           "2xx write:"]
    if failed.get(None):
        out.append(f"  {'(before any)':19} failed {len(failed[None])}")
    for kind in sorted({f["kind"] for f in faults}):
        ms = per_kind.get(kind, [])
        fk = fails_kind.get(kind, {})
        out.append(f"  {kind:19} failed {sum(fk.values()):4}"
                   + (" (" + ", ".join(f"{n} x {s}" for s, n in
                                        sorted(fk.items()))
                      + f"; {late_kind[kind]} sent after it)"
                      if fk else "")
                   + (f"; recovery {statistics.median(ms):.0f}, "
                      f"{max(ms):.0f}" if ms else "; no 2xx after it"))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--psql", required=True)
    p.add_argument("--audit", required=True)
    p.add_argument("--history")
    p.add_argument("--proxy-log")
    p.add_argument("--quiet", action="store_true",
                   help="violations only, no figures")
    args = p.parse_args()
    try:
        with open(os.path.join(args.dir, "setup.json")) as f:
            setup = json.load(f)
        recs = load_history(args.history or
                            os.path.join(args.dir, "history.jsonl"))
        faults = []
        fpath = os.path.join(args.dir, "faults.jsonl")
        if os.path.exists(fpath):
            with open(fpath) as f:
                faults = [json.loads(x) for x in f if x.strip()]
        db = read_db(args.psql)
        audit = run_audit(args.psql, args.audit)
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        print(f"check.py: cannot read the run: {e}", file=sys.stderr)
        return 2
    c = Checker()
    told, by_key = check_answers(c, recs)
    check_reads(c, recs)
    check_keys(c, told, db, by_key, setup["epoch"])
    check_orders(c, told, db, setup)
    check_points(c, told, db)
    check_coupons(c, told, db, setup, recs)
    for row in audit:
        c.fail("audit:" + row.split("|")[0], row)
    if not args.quiet:
        for line in figures(recs, faults, args.proxy_log):
            print(line)
        print(f"database: {len(db['orders'])} orders, {len(db['ledger'])} "
              f"ledger rows, {len(db['coupons'])} coupons, "
              f"{len(db['keys'])} idempotency keys")
    for name, detail in c.violations:
        print(f"VIOLATION {name}: {detail}")
    print(f"violations: {len(c.violations)}")
    return 1 if c.violations else 0


if __name__ == "__main__":
    sys.exit(main())
