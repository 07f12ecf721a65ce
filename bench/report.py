#!/usr/bin/env python3
"""bench/report.py: the results file of a bench/run, from its records.

    bench/report.py [--plots DIR] POINTS.jsonl > RESULTS.md

POINTS.jsonl holds the records bench/run wrote (bench/lib/record.sh), one
JSON object a line: the run (machine, software, BENCH_* values), each
scenario's start, every measured point with its figures and its check, the
audit after each scenario, and how the run ended.  bench/run keeps a copy
next to the results file (bench/results/DATE-HOST.jsonl), so a results file
can be rendered again, with other tables, without running anything.

The markdown goes to standard output: the header, then one section per
scenario, in the order they ran.  Every figure comes from a record; this
file only aggregates (ratios, per-order and per-charge times, rates over a
phase of a rush) and lays out.  With --plots DIR and gnuplot installed,
each scenario's bar charts are drawn as DIR/STAMP-NAME.png and linked by
their file name (so DIR is where the results file goes); without them, no
plots.  Standard library only.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

# ---------------------------------------------------------------------------
# Formats: the same as bench/run's terminal lines and the results files
# written before this report existed.


def num(x, default=0.0):
    """x as a float, or default when it is missing or not a number."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return default


def rate(x):
    """A rate rounded to an integer."""
    return "%.0f" % num(x)


def ratio(a, b):
    """a/b with two decimals, or n/a."""
    a, b = num(a), num(b)
    return "%.2f" % (a / b) if b > 0 else "n/a"


def ms(us):
    """Microseconds as milliseconds with two decimals."""
    return "%.2f" % (num(us) / 1000)


def one_decimal(x):
    """x rounded to one decimal, as bench/run's awk did before rate()."""
    return float("%.1f" % x)


def orq(x):
    """x, or ? when it is missing."""
    return "?" if x is None or x == "" else str(x)


def words(x):
    """A list-of-words parameter ("16 64" or 64) as a list of strings."""
    return str(x).split() if x is not None else []


def statuses(st):
    """{"201": 12000, "499": 60} as "201:12000 499:60"."""
    return " ".join("%s:%s" % (k, st[k]) for k in sorted(st or {}))


def cpu(c, split=True):
    """lib/cpu.sh's figures: "98% (st 0, pg 0, ngx 48, rest 50)"."""
    if not c:
        return "n/a"
    busy = "%.0f%%" % c["busy"]
    if not split:
        return busy
    if "stockade" not in c:
        return busy + " (split n/a)"
    return "%s (st %.0f, pg %.0f, ngx %.0f, rest %.0f)" % (
        busy, c["stockade"], c["postgres"], c["nginx"], c["rest"])


def md_code(text):
    """text in backquotes, its pipes escaped for a table cell."""
    return "`%s`" % str(text).replace("|", "\\|")


def row(*cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def with_pgbench(check, pg):
    """A stockade point's check, followed by its pgbench point's when that
    one is not ok."""
    if pg and pg.get("check", "ok") != "ok":
        return "%s; pgbench %s" % (check, pg["check"])
    return check


# ---------------------------------------------------------------------------
# Figures of the point records, whatever their scenario.


def wrk_figures(p):
    """rps, p50, p99, non2xx, sockerr, duration_us of a wrk point."""
    w = p.get("wrk")
    if not w:
        return dict(rps=0, p50="n/a", p99="n/a", non2xx="n/a", sockerr="n/a",
                    duration_us=0)
    sock = sum(int(w.get(k, 0)) for k in ("connect", "read", "write", "timeout"))
    sockerr = str(sock)
    if sock > 0:
        sockerr = "%d (connect %s, read %s, write %s, timeout %s)" % (
            sock, w["connect"], w["read"], w["write"], w["timeout"])
    return dict(rps=w["rps"], p50=ms(w["p50_us"]), p99=ms(w["p99_us"]),
                non2xx=w["non2xx"], sockerr=sockerr, duration_us=w["duration_us"])


def rush_figures(p):
    """The RUSH line of a rush point, with p50, p99, max (ms) and ge400
    (answers >= 400); zeros and n/a when rush printed none."""
    r = p.get("rush")
    if not r:
        return dict(rps=0, seconds=0, done="", p50="n/a", p99="n/a", max="n/a",
                    ge400="n/a", errors="n/a")
    f = dict(r)
    f["p50"], f["p99"], f["max"] = ms(r["p50_us"]), ms(r["p99_us"]), ms(r["max_us"])
    f["ge400"] = sum(v for k, v in r.items()
                     if k.startswith("status_") and k[7:8] in "45" and len(k) == 10)
    return f


def rush_rates(p):
    """issued/s (the 201s until the last 201) and req/s after the last 201
    (the sold-out crowd alone) of a rush point."""
    r = p.get("rush") or {}
    n201 = num(r.get("status_201"))
    last = num(r.get("last_2xx_us"))
    irate = one_decimal(n201 * 1e6 / last) if last > 0 else 0
    left = num(r.get("seconds")) - last / 1e6
    rrate = one_decimal(num(r.get("after_last_2xx")) / left) if left > 0 else 0
    return irate, rrate


def pgss_sum(p, count):
    """PostgreSQL's execution time of all of a point's statements over
    count (orders, charges), in ms with two decimals, or n/a."""
    if not count or count <= 0:
        return "n/a"
    return "%.2f" % (sum(num(s["total_ms"]) for s in p.get("pgss") or []) / count)


def pgss_mean(p, test):
    """The mean time of the costliest statement for which test(query)."""
    for s in p.get("pgss") or []:
        if test(s["query"]):
            return "%.2f" % num(s["mean_ms"])
    return "n/a"


def pgss_calls(p, test):
    return sum(int(s["calls"]) for s in p.get("pgss") or [] if test(s["query"]))


def pgss_details(out, p, title):
    """The top statements of a point, as a markdown table."""
    out += ["", "%s:" % title, "", "| calls | total ms | mean ms | statement |",
            "|---:|---:|---:|---|"]
    for s in (p.get("pgss") or [])[:6] if p else []:
        out.append(row(s["calls"], "%.1f" % num(s["total_ms"]),
                       "%.3f" % num(s["mean_ms"]), md_code(s["query"])))


def pg_lat(p):
    return "%.3f" % p["lat_ms"] if p and p.get("lat_ms") is not None else "n/a"


def pg_failed(p):
    return "n/a" if not p or p.get("failed") is None else p["failed"]


# ---------------------------------------------------------------------------
# Plots.


class Plots:
    """gnuplot bar charts as DIR/STAMP-NAME.png, when DIR is given and
    gnuplot can draw PNGs."""

    def __init__(self, directory, stamp):
        self.dir, self.stamp, self.term = directory, stamp, None
        if not directory or not shutil.which("gnuplot"):
            return
        for term, full in (("pngcairo", 'pngcairo size 960,540 noenhanced font ",10"'),
                           ("png", "png size 960,540 noenhanced")):
            r = subprocess.run(["gnuplot", "-e", "set terminal " + term],
                               capture_output=True)
            if r.returncode == 0:
                self.term = full
                break

    def bars(self, out, name, title, header, rows, ylabel="requests/s"):
        """A clustered bar chart: header names the series (the first word
        names the labels), each row is a label and a value per series.
        Appends its link to out when it was drawn."""
        if not self.term or not rows:
            return
        png = os.path.join(self.dir, "%s-%s.png" % (self.stamp, name))
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, name + ".dat")
            with open(data, "w") as f:
                f.write(" ".join(header) + "\n")
                for r in rows:
                    f.write(" ".join(str(c) for c in r) + "\n")
            script = "\n".join([
                "set terminal " + self.term,
                "set output '%s'" % png.replace("'", "''"),
                "set title '%s'" % title.replace("'", "''"),
                "set style data histograms",
                "set style histogram clustered gap 1",
                "set style fill solid 0.85 border -1",
                "set boxwidth 0.9",
                "set ylabel '%s'" % ylabel,
                "set yrange [0:*]",
                "set grid ytics",
                "set key outside right top",
                "plot for [i=2:%d] '%s' using i:xtic(1) title columnheader(i)"
                % (len(header), data.replace("'", "''")),
            ]) + "\n"
            r = subprocess.run(["gnuplot"], input=script, text=True,
                               capture_output=True)
        if r.returncode != 0:
            print("report.py: gnuplot failed for %s: %s" % (name, r.stderr.strip()[:300]),
                  file=sys.stderr)
            return
        out += ["", "![%s](%s)" % (name, os.path.basename(png))]


# ---------------------------------------------------------------------------
# The header.

CHECK_NOTE = (
    "Every point starts after a CHECKPOINT. Socket errors are wrk's (connect, read, write, "
    "timeout); \"HTTP ≥400\" is wrk's count of error answers; statuses are every answer of "
    "the point as nginx logged it (499: requests in flight when wrk stopped, at most one per "
    "connection, expected). A point with anything unexpected says **ERRORS** in its last "
    "column.")


def render_header(out, run):
    env = " ".join('%s="%s"' % (k, v) if " " in v else "%s=%s" % (k, v)
                   for k, v in run["env"])
    m = run["machine"]
    load = "%s, %s threads, timeout %s, %s s per point, loopback; %s, -M prepared" % (
        run["wrk"], run["threads"], run["timeout"], run["seconds"], run["pgbench"])
    if run.get("curl"):
        load += "; bench/rush.c and bench/shop.c (%s)" % run["curl"]
    dirty = " + %d uncommitted changes" % run["dirty"] if run["dirty"] else ""
    out += [
        "# stockade benchmark, %s on %s" % (run["date"], run["host"]), "",
        "Command: `bench/run %s` with %s." % (" ".join(run["scenarios"]), env), "",
        "| | |", "|---|---|",
        "| machine | %s CPUs (%s), %s RAM, kernel %s; load average at the start: %s |"
        % (m["cpus"], m["cpu"], m["mem"], m["kernel"], m["load"]),
        "| nginx | %s (worker_processes 2, fastcgi_keep_conn off, access log on) |" % run["nginx"],
        "| PostgreSQL | %s; fsync, full_page_writes and synchronous_commit **on** "
        "(STACK_PG_FAST=0); data on %s |" % (run["postgres"], run["fs"]),
        "| Redis | %s (unix socket, no persistence) |" % run["redis"],
        "| load | %s |" % load,
        "| stockade | %s, git %s%s; workers = %s (+ 1 reaper), log_level = info (one access "
        "line per request) |" % (run["stockade"], run["git"], dirty, run["workers"]),
    ]
    if run.get("stale"):
        out.append("| **warning** | the binary is older than these sources: %s|" % run["stale"])
    out += [
        "| stockade config | every key at its default except workers and: `%s`; defaults: "
        "stock_strategy = pessimistic, point_strategy = optimistic, point_retries = 5, "
        "db_retries = 3, coupon_strategy = pessimistic, coupon_gate = redis, "
        "coupon_cache_ttl = 1s; each scenario lists what it changes |" % run["base_conf"],
        "", CHECK_NOTE,
    ]


# ---------------------------------------------------------------------------
# A scenario's section: its opening record, its points (by name, in order),
# its skipped points and its audit.


class Section:
    def __init__(self, start):
        self.start = start
        self.name = start["scenario"]
        self.points = []
        self.pgbench_and_skipped = []  # the coupon rush's pgbench table, in order
        self.audit = None

    def param(self, key, default="?"):
        v = self.start.get(key)
        return default if v is None else v

    def having(self, **tags):
        """The points whose fields match tags, in the order they ran."""
        return [p for p in self.points
                if all(p.get(k) == v for k, v in tags.items())]

    def one(self, **tags):
        found = self.having(**tags)
        return found[-1] if found else None


def render_audit(out, sec):
    a = sec.audit
    if not a:
        return
    out += ["", "After %s: audit (`%s`) **%s**; stockade's database connections in "
            "pg_stat_activity: **%s** (workers + reaper = %s)."
            % (sec.name, a["audit_sql"], a["audit"], orq(a.get("db_conns")), a["want_conns"])]


# ---------------------------------------------------------------------------
# foundation


def render_foundation(out, sec, plots):
    title = {"ceiling": "nginx `return 200` (the ceiling)", "healthz": "GET /healthz",
             "whoami": "GET /api/v1/whoami (bearer)"}
    conns = sec.param("conns")
    out += ["", "## foundation", "",
            "%s connections, %s wrk threads, %s s each; stockade config: base "
            "(stock_strategy = pessimistic)." % (conns, sec.param("threads"), sec.param("seconds")),
            "",
            "| target | req/s | vs ceiling | p50 ms | p99 ms | HTTP ≥400 | socket errors | "
            "statuses (nginx log) | stockade DB conns | CPU busy (split) | check |",
            "|---|---:|---:|---:|---:|---:|---:|---|---:|---|---|"]
    ceiling, data = 0, []
    for p in sec.points:
        f = wrk_figures(p)
        if p.get("target") == "ceiling":
            ceiling = f["rps"]
        out.append(row(title.get(p.get("target"), p["point"]), rate(f["rps"]),
                       ratio(f["rps"], ceiling), f["p50"], f["p99"], f["non2xx"],
                       f["sockerr"], statuses(p["statuses"]), orq(p.get("db_conns")),
                       cpu(p.get("cpu")), p["check"]))
        data.append((p.get("target", p["point"]), rate(f["rps"])))
    out += ["", "CPU busy: share of all CPUs during the point, split into stockade (master "
            "and workers), PostgreSQL, nginx and the rest (wrk itself, the kernel, anything "
            "else running on the machine)."]
    plots.bars(out, "foundation", "foundation: requests/s at %s connections" % conns,
               ["target", "req/s"], data)


# ---------------------------------------------------------------------------
# orders


def render_orders(out, sec, plots):
    workers, seconds = sec.param("workers"), sec.param("seconds")
    out += ["", "## orders", "",
            "`POST /api/v1/orders` with one item (quantity 1), each request from the next of "
            "%s users (bearer tokens, cycled) with no Idempotency-Key. **hot**: one option; "
            "**cold**: one of 100 options picked at random per request. Stock 1,000,000,000 per "
            "option, so nothing runs out. stockade is restarted with `stock_strategy = X` before "
            "each strategy (PostgreSQL, Redis and nginx keep running) and gets fresh products. "
            "Next to each point, pgbench runs the same transaction (`bench/pgbench/order-X.pgb`, generated from the daemon's own `sql/queries/`; "
            "for redis_lock the conditional one, its Redis locks being outside the database; "
            "-M prepared) at -c %s = workers for %s s on the same options: the database's own "
            "ceiling for stockade's connection count." % (sec.param("users"), workers, seconds),
            "",
            "| strategy | options | conns | orders/s | p50 ms | p99 ms | HTTP ≥400 | socket "
            "errors | statuses (nginx log) | committed (vs 201s) | stockade DB conns | pgbench "
            "tps (-c %s) | pgbench failed | stockade / pgbench | check |" % workers,
            "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|"]
    times, pairs, rates = [], [], {}
    for p in sec.having(role="stockade"):
        key = (p["strategy"], p["pattern"], p["conns"])
        g = sec.one(role="pgbench", strategy=key[0], pattern=key[1], conns=key[2])
        f = wrk_figures(p)
        ok201 = int((p.get("statuses") or {}).get("201", 0))
        committed = p.get("committed")
        if committed is None:
            committed_cell = "?"
        else:
            committed_cell = "%d (%+d)" % (committed, committed - ok201)
        tps = g["tps"] if g else 0
        rates[key] = (f["rps"], tps)
        out.append(row(key[0], "%s (%s)" % (key[1], p.get("options", "?")), key[2],
                       rate(f["rps"]), f["p50"], f["p99"], f["non2xx"], f["sockerr"],
                       statuses(p["statuses"]), committed_cell, orq(p.get("db_conns")),
                       rate(tps), pg_failed(g), ratio(f["rps"], tps),
                       with_pgbench(p["check"], g)))

        def orders_of(q):
            return pgss_calls(q, lambda s: "INSERT INTO orders" in s) if q else 0

        def stock(q):
            return pgss_mean(q, lambda s: "product_options" in s) if q else "n/a"

        worker_ms = "%.2f" % (num(workers) * 1000 / num(f["rps"])) if num(f["rps"]) > 0 else "n/a"
        times.append(row(key[0], key[1], key[2], worker_ms, pgss_sum(p, orders_of(p)), stock(p),
                         cpu(p.get("cpu")), pg_lat(g), pgss_sum(g, orders_of(g)) if g else "n/a",
                         stock(g), cpu(g.get("cpu"), split=False) if g else "n/a"))
        pairs.append(("%s-%s-%s" % key, p, g))
    out += ["", "committed: orders the database gained during the point (counted once stockade "
            "had finished the requests still queued when wrk stopped) and, in brackets, their "
            "difference to the 201s nginx passed on: a positive difference is orders committed "
            "for clients that had already gone (the 499s), a negative one would be an "
            "acknowledged order that is not durable.",
            "", "### where the time goes", "",
            "Per order, per strategy and point. stockade: a worker is busy workers / (orders/s) "
            "per order (\"worker ms\"); of that, \"SQL ms\" is PostgreSQL's execution time of its "
            "statements (pg_stat_statements, total over the calls of the INSERT INTO orders; the "
            "WAL flush at COMMIT is not in it) and \"stock stmt\" the mean time of the statement "
            "on product_options (the row lock FOR UPDATE, or the conditional UPDATE: row-lock "
            "waits show here). pgbench: the same figures for the same transaction with no HTTP, "
            "FastCGI or JSON around it; \"ms/tx\" is its average latency. CPU busy is the share "
            "of both CPUs (st = stockade, pg = PostgreSQL, ngx = nginx, rest = wrk, the kernel "
            "and anything else).",
            "",
            "| strategy | options | conns | stockade worker ms/order | SQL ms/order | stock stmt "
            "mean ms | CPU busy (split) | pgbench ms/tx | SQL ms/tx | stock stmt mean ms | CPU "
            "busy |",
            "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    out += times
    out += ["", "<details><summary>top statements per point (pg_stat_statements, role "
            "stockade)</summary>"]
    for label, p, g in pairs:
        pgss_details(out, p, "stockade, " + label)
        pgss_details(out, g, "pgbench, " + label)
    out += ["", "</details>"]
    data = []
    for pattern in ("hot", "cold"):
        for conns in (16, 64):
            def r(strategy, i):
                return rate(rates.get((strategy, pattern, conns), (0, 0))[i])
            data.append(("%s/%s" % (pattern, conns), r("pessimistic", 0), r("conditional", 0),
                         r("pessimistic", 1), r("conditional", 1)))
    plots.bars(out, "orders", "orders/s (options/connections); pgbench at -c %s" % workers,
               ["point", "stockade-pessimistic", "stockade-conditional", "pgbench-pessimistic",
                "pgbench-conditional"], data)


# ---------------------------------------------------------------------------
# points


def render_points(out, sec, plots):
    users, workers, seconds = sec.param("users"), sec.param("workers"), sec.param("seconds")
    hot, retries = sec.param("hot_user"), sec.param("retries")
    strategies = words(sec.param("strategies", "optimistic pessimistic conditional"))
    out += ["", "## points", "",
            "`POST /api/v1/points/charge {\"amount\":1}` with a bearer token and no "
            "Idempotency-Key. **hot**: every request from the same user (id %s, one account); "
            "**cold**: each request from the next of %s users (ids 1..%s, cycled; each wrk thread "
            "starts at its own offset). Every account was created before the first point by one "
            "charge through the API. stockade is restarted with `point_strategy = X` before each "
            "strategy (PostgreSQL, Redis and nginx keep running); `point_retries` stays at its "
            "default **%s** (an optimistic charge whose version moved is run again up to %s "
            "times, with backoff, then answered 409 `conflict`), `db_retries` at its default 3, "
            "`max_balance` at %s. Next to each point, pgbench runs the same transaction "
            "(`bench/pgbench/charge-X.pgb`, generated from the daemon's own `sql/queries/`, -M prepared) at -c %s = workers for %s s on the same "
            "accounts (hot: user %s; cold: random(1, %s))."
            % (hot, users, users, retries, retries, sec.param("max_balance"), workers, seconds,
               hot, users),
            "",
            "| strategy | accounts | conns | charges/s | p50 ms | p99 ms | 409 conflict | "
            "point_conflicts | conflicts per 1000 charges | db_retries | HTTP ≥400 | socket errors "
            "| statuses (nginx log) | committed (vs 200s) | stockade DB conns | pgbench tps (-c %s) "
            "| pgbench 0-row tx | pgbench charges/s | stockade / pgbench | check |" % workers,
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"
            "---:|---:|---|"]
    times, pairs, rates = [], [], {}

    def reads(q):
        return q.startswith("SELECT balance, version FROM point_accounts")

    def writes(q):
        return "UPDATE point_accounts" in q

    for p in sec.having(role="stockade"):
        key = (p["strategy"], p["pattern"], p["conns"])
        g = sec.one(role="pgbench", strategy=key[0], pattern=key[1], conns=key[2])
        f = wrk_figures(p)
        st = p.get("statuses") or {}
        ok200, n409 = int(st.get("200", 0)), int(st.get("409", 0))
        d = num(f["duration_us"])
        charges = one_decimal(ok200 * 1e6 / d) if d > 0 else 0
        counters = p.get("counters") or {}
        dconf, dretr = counters.get("point_conflicts", "?"), counters.get("db_retries", "?")
        per1000 = "%.1f" % (num(dconf) * 1000 / ok200) if ok200 > 0 else "n/a"
        conflict409 = (p.get("log_409") or {}).get("conflict")
        n409_cell = str(n409)
        if conflict409 is not None and conflict409 != n409:
            n409_cell += " (stockade: %s)" % conflict409
        committed = p.get("committed")
        committed_cell = "?" if committed is None else "%d (%+d)" % (committed, committed - ok200)
        tps = g["tps"] if g else 0
        processed, gained = (g.get("processed", 0), g.get("gained", 0)) if g else (0, 0)
        pgcharges = one_decimal(num(tps) * gained / processed) if processed > 0 else 0
        rates[key] = (charges, pgcharges)
        accounts = "%s (%s)" % (key[1], 1 if key[1] == "hot" else users)
        out.append(row(key[0], accounts, key[2], rate(charges), f["p50"], f["p99"], n409_cell,
                       dconf, per1000, dretr, f["non2xx"], f["sockerr"], statuses(st),
                       committed_cell, orq(p.get("db_conns")), rate(tps),
                       g.get("zero_row", "?") if g else "?", rate(pgcharges),
                       ratio(charges, pgcharges), with_pgbench(p["check"], g)))
        worker_ms = "%.2f" % (num(workers) * 1000 / charges) if charges > 0 else "n/a"
        times.append(row(key[0], key[1], key[2], worker_ms, pgss_sum(p, committed),
                         pgss_mean(p, reads), pgss_mean(p, writes), cpu(p.get("cpu")),
                         pg_lat(g), pgss_sum(g, gained) if g else "n/a",
                         pgss_mean(g, reads) if g else "n/a",
                         pgss_mean(g, writes) if g else "n/a",
                         cpu(g.get("cpu"), split=False) if g else "n/a"))
        pairs.append(("%s-%s-%s" % key, p, g))
    out += ["", "charges/s: the 200 answers nginx logged during the point over wrk's duration "
            "(409s are not charges). 409 conflict: the point's 409 answers in nginx's log "
            "(stockade's own log says they all carry the code `conflict`; a different count is "
            "shown in brackets). point_conflicts and db_retries: the growth of stockade's totals "
            "in `GET /status` over the point, read before it and once the ledger stopped moving "
            "after it; a point_conflict is one optimistic attempt whose version had moved (the "
            "UPDATE matched no row), so a 409 stands for %s of them; db_retries are transactions "
            "rerun after SQLSTATE 40001 or 40P01. committed: the ledger rows the point added, and "
            "their difference to the 200s (positive: charges committed for clients that had "
            "already gone, the 499s; negative would be an acknowledged charge that is not "
            "durable). pgbench cannot retry: its optimistic transactions whose UPDATE matched no "
            "row commit without a ledger row (\"0-row tx\": the transactions it processed minus "
            "the ledger rows it added); \"pgbench charges/s\" is its tps times the share that did "
            "add a row, and \"stockade / pgbench\" compares charges with charges."
            % (int(num(retries)) + 1 if num(retries, None) is not None else "?"),
            "", "### where the time goes", "",
            "Per charge, per strategy and point. stockade: a worker is busy workers / (charges/s) "
            "per charge (\"worker ms\", retries and their backoff included); of that, \"SQL ms\" "
            "is PostgreSQL's execution time of all its statements over the ledger rows committed "
            "(pg_stat_statements; the WAL flush at COMMIT is not in it), \"read\" the mean time "
            "of the account read (`SELECT balance, version`, FOR UPDATE for pessimistic; "
            "conditional has none) and \"update\" the mean time of the `UPDATE point_accounts` "
            "CTE: row-lock waits show in the FOR UPDATE (pessimistic) or in the UPDATE "
            "(optimistic, conditional). pgbench: the same for the same transaction with no HTTP, "
            "FastCGI or JSON around it; \"ms/tx\" is its average latency. CPU busy is the share "
            "of both CPUs (st = stockade, pg = PostgreSQL, ngx = nginx, rest = wrk, the kernel "
            "and anything else).",
            "",
            "| strategy | accounts | conns | stockade worker ms/charge | SQL ms/charge | read mean "
            "ms | update mean ms | CPU busy (split) | pgbench ms/tx | SQL ms/charge | read mean ms "
            "| update mean ms | CPU busy |",
            "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    out += times
    out += ["", "<details><summary>top statements per point (pg_stat_statements, role "
            "stockade)</summary>"]
    for label, p, g in pairs:
        pgss_details(out, p, "stockade, " + label)
        pgss_details(out, g, "pgbench, " + label)
    out += ["", "</details>"]
    data = []
    for pattern in ("hot", "cold"):
        for conns in (16, 64):
            line = ["%s/%s" % (pattern, conns)]
            for i in (0, 1):
                line += [rate(rates.get((s, pattern, conns), (0, 0))[i]) for s in strategies]
            data.append(line)
    plots.bars(out, "points", "charges/s (accounts/connections); pgbench at -c %s, charges that "
               "added a ledger row" % workers,
               ["point"] + ["stockade-" + s for s in strategies] + ["pgbench-" + s for s in strategies],
               data, "charges/s")


# ---------------------------------------------------------------------------
# The HTTP ceilings (the ceilings scenario, and every coupon rush).

CEILING_TITLE = {
    "nginx": "nginx `return 200`",
    "hello": "nginx → FastCGI hello (fcgi_hello)",
    "redis": "nginx → FastCGI hello + 1 Redis EVALSHA (fcgi_hello -r)",
}


def ceilings_of(sec):
    """{(KIND, CONNS): req/s} of a section's ceiling points."""
    found = {}
    for p in sec.having(role="ceiling"):
        f = wrk_figures(p) if p["tool"] == "wrk" else rush_figures(p)
        found[(p["kind"], p["conns"])] = f["rps"]
    return found


def render_ceilings_table(out, sec):
    out += ["| ceiling | client | conns | req/s | p50 ms | p99 ms | HTTP ≥400 | socket errors / "
            "no answer | statuses (nginx log) | CPU busy (split) | check |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for p in sec.having(role="ceiling"):
        kind = p["kind"]
        if p["tool"] == "wrk":
            f = wrk_figures(p)
            out.append(row(CEILING_TITLE[kind], "wrk GET, %s s" % p["seconds"], p["conns"],
                           rate(f["rps"]), f["p50"], f["p99"], f["non2xx"], f["sockerr"],
                           statuses(p["statuses"]), cpu(p.get("cpu")), p["check"]))
        else:
            f = rush_figures(p)
            out.append(row(CEILING_TITLE[kind[5:]], "rush POST, %s requests" % f["done"],
                           p["conns"], rate(f["rps"]), f["p50"], f["p99"], f["ge400"],
                           f["errors"], statuses(p["statuses"]), cpu(p.get("cpu")), p["check"]))


def render_ceilings(out, sec, plots):
    out += ["", "## ceilings", "",
            "The HTTP ceilings of the coupon rush, at each of %s concurrent clients: nginx "
            "answering by itself (`return 200`); nginx passing the request over FastCGI (a new "
            "unix-socket connection per request, `fastcgi_keep_conn off`, stockade's FastCGI "
            "parameters) to `bench/fcgi_hello.c`, %s pre-forked libfcgi processes answering "
            "`{\"ok\":true}`; and the same with one Redis EVALSHA per request (the reads of "
            "stockade's gate script on a sold-out gate: GET, GET, SISMEMBER). wrk GETs for %s s; "
            "rush POSTs once per token of %s, as in the coupon rush, so that rush's own cost is "
            "in the ceiling too." % (sec.param("conns"), sec.param("workers"),
                                     sec.param("seconds"), sec.param("users")),
            ""]
    render_ceilings_table(out, sec)


# ---------------------------------------------------------------------------
# The coupon rush: coupons, issue, storm.

RUSH_INTRO = {
    "storm": "The sold-out storm: the coupon rush below with a policy of one coupon, so that "
             "every request but one is refused; with the gate on, \"req/s after the last 201\" "
             "is the gate's pure refusal rate (target: ≥ 0.7 × rush → hello + EVALSHA). ",
    "issue": "Issuance alone: the coupon rush below with a policy as large as the crowd and the "
             "gate off, so that every request issues a coupon and \"issued/s\" is each "
             "strategy's steady rate (target: the best ≥ 3 × pessimistic, exactly N and one per "
             "user). ",
}


def coupon_others(r):
    """A rush's answers other than 201 and 409 sold_out, or -."""
    o = []
    for k in sorted(r or {}):
        if k in ("status_201", "status_409", "code_409_sold_out"):
            continue
        if k.startswith("status_"):
            o.append("%s:%s" % (k[7:], r[k]))
        elif k.startswith("code_409_"):
            o.append("409:%s:%s" % (k[9:], r[k]))
    return " ".join(o) or "-"


def render_coupon_rush(out, sec, plots):
    name = sec.name
    conns_list = words(sec.param("conns"))
    strategies, gates = words(sec.param("strategies")), words(sec.param("gates"))
    workers, seconds = sec.param("workers"), sec.param("seconds")
    users, total = sec.param("users"), sec.param("total")
    out += ["", "## " + name, "",
            "%sA first-come-first-served rush: %s distinct users (bearer tokens of users %s.., "
            "minted by `rush mint` in %s s) each send one `POST /api/v1/coupons/ID/issue` (no "
            "body, no Idempotency-Key) for a policy of %s coupons, at most CONNS at once "
            "(`bench/rush.c`, libcurl's multi interface, kept-alive connections; timeout %s), "
            "for CONNS in %s. Exactly %s answers must be 201 and %s must be 409 `sold_out`. "
            "Each point gets a fresh policy (created through the admin API, so its gate starts "
            "warm); stockade is restarted with `coupon_strategy = X` and `coupon_gate = Y` for "
            "each pair (PostgreSQL, Redis and nginx keep running; `coupon_cache_ttl` stays at "
            "its default, 1 s)."
            % (RUSH_INTRO.get(name, ""), users, sec.param("first_user"),
               sec.param("mint_seconds"), total, sec.param("timeout"), " ".join(conns_list),
               sec.param("want_201"), sec.param("want_sold_out")),
            "", "### ceilings", ""]
    render_ceilings_table(out, sec)
    ceil = ceilings_of(sec)
    pgi = {p["strategy"]: p["tps"] for p in sec.having(role="pgbench", txn="issue")}
    pgr = {p["strategy"]: p["tps"] for p in sec.having(role="pgbench", txn="refusal")}
    rush_rows, where_rows, rps, iss = [], [], {}, {}
    for p in sec.having(role="rush"):
        s, g, c = p["strategy"], p["gate"], p["conns"]
        f = rush_figures(p)
        r = p.get("rush") or {}
        irate, rrate = rush_rates(p)
        rps[(s, g, c)], iss[(s, g, c)] = f["rps"], irate
        rush_rows.append(row(
            s, g, c, r.get("status_201", 0), r.get("code_409_sold_out", 0), coupon_others(r),
            rate(f["rps"]), ratio(f["rps"], ceil.get(("rush-redis", c), 0)),
            ratio(f["rps"], ceil.get(("redis", c), 0)), rate(irate), ratio(irate, pgi.get(s, 0)),
            rate(rrate), ratio(rrate, ceil.get(("rush-redis", c), 0)), ratio(rrate, pgr.get(s, 0)),
            f["p50"], f["p99"], f["max"], f["errors"], p["check"]))
        k = p.get("counters") or {}
        calls = p.get("calls") or {}
        db = p.get("db") or {}
        attempts = k.get("coupon_db_attempts", "?")
        done = num(r.get("done"))
        share = "%.1f%%" % (num(attempts) * 100 / done) if done > 0 else "n/a"
        redis_issued = p.get("redis_issued")
        where_rows.append(row(
            s, g, c, "**%s**" % attempts, share, k.get("coupon_gate_passed", "?"),
            k.get("coupon_gate_refused", "?"), k.get("coupon_gate_bypassed", "?"),
            k.get("coupon_gate_compensations", "?"), k.get("coupon_gate_rebuilds", "?"),
            "%s / %s / %s / %s" % tuple(calls.get(x, "?") for x in
                                        ("lock", "take", "take_conditional", "explain")),
            "%s / %s" % (calls.get("limits", "?"), calls.get("verify", "?")),
            "%s / %s / %s" % (db.get("issued", "?"), db.get("coupons", "?"), db.get("users", "?")),
            "-" if redis_issued is None else redis_issued, orq(p.get("db_conns")),
            cpu(p.get("cpu"))))
    out += ["", "The ceilings above were measured in this run, just before the rush. rush's POSTs "
            "are the fairer yardstick for the rush's req/s (same client, same requests): the "
            "gate's answer costs at least one FastCGI round trip and one EVALSHA, which is what "
            "`fcgi_hello -r` does.", "",
            "### the rush", "",
            "| strategy | gate | conns | 201 issued | 409 sold_out | other answers | req/s | vs "
            "rush → hello + EVALSHA | vs wrk → hello + EVALSHA | issued/s (until the last 201) | "
            "vs pgbench issue tps | req/s after the last 201 | vs rush → hello + EVALSHA | vs "
            "pgbench refusal tps | p50 ms | p99 ms | max ms | no answer | check |",
            "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            "---:|---|"]
    out += rush_rows
    out += ["", "req/s: the rush's requests over its duration (first request sent to last "
            "answer). issued/s: the 201 answers over the time from the start to the last 201 (the "
            "issue phase). req/s after the last 201: the answers (all of them 409 sold_out) that "
            "came after the last 201, over the time that remained: the sold-out crowd alone, "
            "which the gate answers from Redis (compare with rush → hello + EVALSHA) and which, "
            "with the gate off, is one transaction each (compare with pgbench running that "
            "refusal, below). p50/p99/max: libcurl's total time per request, every request of "
            "the rush. no answer: transfers that got no HTTP answer (timeouts included). A point "
            "is checked against the database (issued_quantity = coupons = distinct users = 201 "
            "answers, all of them users of the rush), against Redis (gate redis: "
            "`{coupon:ID}:issued` = 201 answers) and against stockade's log (one access line per "
            "request).",
            "", "### where the requests went", "",
            "Per point, from the growth of stockade's counters in `GET /status` (summed over the "
            "workers) and from pg_stat_statements (role stockade, reset before the point).", "",
            "| strategy | gate | conns | reached PostgreSQL (coupon_db_attempts) | of the requests "
            "| gate passed | gate refused | gate bypassed | compensations | rebuilds | pgss calls: "
            "lock / take / take_conditional / explain | pgss calls: gate policy reads / sold-out "
            "checks | DB: issued_quantity / coupons / users | Redis issued | stockade DB conns | "
            "CPU busy (split) |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---|"]
    out += where_rows
    out += ["", "reached PostgreSQL: issue transactions run in the database (`coupon_db_attempts`: "
            "the gate's passed plus bypassed requests); every one of them is BEGIN, the "
            "strategy's statements, COMMIT or ROLLBACK. gate refused: requests answered by the "
            "gate alone (sold_out, already_issued, not_open), never a transaction. The gate's "
            "policy reads (`coupon_limits`: total and window, at most one per worker per "
            "`coupon_cache_ttl`) and its sold-out checks (`coupon_issued`: a sold_out verdict of "
            "the gate checked against issued_quantity, at most once a second per worker and "
            "policy, so that a lost undo cannot keep coupons from being issued) are the only "
            "other coupon SQL the rush causes, besides the foreign-key checks of the inserts. "
            "lock / take / take_conditional / explain: calls of the strategy's statements "
            "(src/coupon_issue.c: pessimistic locks the policy row and, when there is a coupon left, "
            "takes it; conditional runs its guarded UPDATE and, after a refusal, explains it "
            "with an unlocked read).",
            "", "### the database alone (pgbench)", "",
            "`pgbench -M prepared -c %s -j 2 -T %s` (as many connections as stockade has "
            "workers) running the statements of sql/queries/coupon_issue.sql "
            "(`bench/pgbench/coupon-*.pgb`), as the role stockade. issue: every transaction a new "
            "user on one policy of 10,000,000 (the hot row of the rush, without the sell-out); "
            "refusal: what a request that reaches the database of a sold-out policy costs "
            "(pessimistic: BEGIN, the row lock, ROLLBACK; conditional: BEGIN, the guarded UPDATE "
            "that matches nothing, the explaining read, ROLLBACK)." % (workers, seconds), "",
            "| strategy | transaction | tps | latency avg ms | failed | database after | check |",
            "|---|---|---:|---:|---:|---|---|"]
    for p in sec.pgbench_and_skipped:
        if p["type"] == "skipped":
            out.append(row(p["strategy"], p["why"], "", "", "", "", ""))
            continue
        db = p.get("db") or {}
        s = p["strategy"]
        if p["txn"] == "issue":
            what = "issue (`coupon-%s.sql`), policy of 10,000,000" % s
            after = "%s coupons issued (issued_quantity %s, %s users)" % (
                db.get("coupons", "?"), db.get("issued", "?"), db.get("users", "?"))
        else:
            what = "refusal (`coupon-%s-sold-out.sql`), sold-out policy of 1" % s
            after = "issued_quantity %s, %s coupon" % (db.get("issued", "?"), db.get("coupons", "?"))
        out.append(row(s, what, rate(p["tps"]), pg_lat(p), pg_failed(p), after, p["check"]))
    pairs = [(s, g) for s in strategies for g in gates]
    header = ["conns", "wrk-nginx", "wrk-hello", "wrk-hello+EVALSHA", "rush-hello+EVALSHA"]
    data = []
    for c in conns_list:
        c = int(c)
        data.append([c] + [rate(ceil.get((k, c), 0)) for k in ("nginx", "hello", "redis",
                                                                 "rush-redis")]
                    + [rate(rps.get((s, g, c), 0)) for s, g in pairs])
    plots.bars(out, name, "coupon rush: requests/s (%s users, %s coupons) by concurrent "
               "clients, next to the HTTP ceilings" % (users, total),
               header + ["%s-gate-%s" % sg for sg in pairs], data)
    data = []
    for c in conns_list:
        c = int(c)
        data.append([c] + [rate(iss.get((s, g, c), 0)) for s, g in pairs]
                    + [rate(pgi.get(s, 0)) for s in strategies])
    plots.bars(out, name + "-issued", "coupons issued per second until the last 201, by "
               "concurrent clients; pgbench at -c %s" % workers,
               ["conns"] + ["%s-gate-%s" % sg for sg in pairs] + ["pgbench-" + s for s in strategies],
               data, "issued/s")


# ---------------------------------------------------------------------------
# shop


def shop_class_cells(shop, cls):
    """The cells of a class of a shop point: requests, share, req/s, p50,
    p90, p99, max, answers."""
    c = (shop.get("classes") or {}).get(cls, {})
    total = num((shop.get("shop") or {}).get("requests"))
    share = "%.1f%%" % (num(c.get("requests")) * 100 / total) if total > 0 else "n/a"
    answers = sorted("%s=%s" % (k, v) for k, v in c.items()
                     if k.startswith("status_") or k.startswith("code_"))

    def lat(k):
        return ms(c[k]) if k in c else "n/a"

    return [c.get("requests", 0), share, rate(c.get("rps", 0)), lat("p50_us"),
            ms(c.get("p90_us", 0)), lat("p99_us"), lat("max_us"), " ".join(answers)]


def render_memory(out, p):
    if not p or not p.get("rows"):
        out += ["", "Memory: **could not read GET /status or /proc**."]
        return
    out += ["", "### memory after the shop", "",
            "From `/proc/PID/smaps_rollup` of each stockade process (pids from `GET /status`), "
            "right after the shop, in KiB. Rss counts every resident page the process maps, its "
            "share of the shared libraries and of the pages it shares with the master since fork "
            "included; Pss divides each shared page among the processes that map it; Private is "
            "what the process alone holds (what one more worker costs); Anonymous its heap and "
            "stacks.", "",
            "| process | pid | requests served | Rss KiB | Pss KiB | Private KiB | Anonymous KiB |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for r in p["rows"]:
        out.append(row(r["role"], r["pid"], "-" if r["requests"] is None else r["requests"],
                       r["rss_kib"], r["pss_kib"], r["private_kib"], r["anon_kib"]))
    workers = [r for r in p["rows"] if r["role"] == "worker"]
    if workers:
        n = len(workers)

        def mean_mib(k):
            return "%.1f" % (float("%.0f" % (sum(r[k] for r in workers) / n)) / 1024)

        out += ["", "Workers (%d): mean Rss **%s MiB** (largest %.1f MiB; target ≤ 4 MiB), mean "
                "Pss %s MiB, mean Private %s MiB, mean Anonymous %s MiB."
                % (n, mean_mib("rss_kib"), max(r["rss_kib"] for r in workers) / 1024,
                   mean_mib("pss_kib"), mean_mib("private_kib"), mean_mib("anon_kib"))]
    if p.get("mappings"):
        out += ["", "Where the first worker's Rss is (/proc/%s/smaps, Rss by mapping, largest "
                "first):" % p["worker"], "", "| mapping | Rss KiB | Private KiB |", "|---|---:|---:|"]
        for m in p["mappings"]:
            out.append(row("`%s`" % m["name"], m["rss_kib"], m["private_kib"]))


def render_shop(out, sec, plots):
    out += ["", "## shop", "",
            "A mixed shop for %s s: %s shoppers (`bench/shop.c`, libcurl's multi interface, "
            "kept-alive connections, timeout %s) each keep one request in flight, choosing each "
            "at random by the mix browse/order/pay/coupon = %s %%: browse is `GET "
            "/api/v1/products?after=A` (the page of the shop's %s products of 5 options, whatever "
            "earlier scenarios created) or `GET /api/v1/products/ID` (one of them), order is one "
            "unit of a random option by one of %s shoppers (users %s..), pay pays the oldest "
            "unpaid order of the run as its owner (with points: every shopper was charged "
            "1,000,000 once), coupon is `POST /api/v1/coupons/ID/issue` for a policy of %s by the "
            "next of the coupon rush's %s users. stockade runs with its defaults (every strategy "
            "at its default, %s workers). The ceiling is wrk against nginx → FastCGI hello at "
            "the same number of connections, measured just before."
            % (sec.param("seconds"), sec.param("clients"), sec.param("timeout"), sec.param("mix"),
               sec.param("products"), sec.param("users"), sec.param("first_user"),
               sec.param("coupons"), sec.param("coupon_users"), sec.param("workers")), ""]
    hello = sec.one(role="ceiling")
    ceil = wrk_figures(hello)["rps"] if hello else 0
    p = sec.one(role="shop")
    if p:
        s = p.get("shop") or {}
        classes = p.get("classes") or {}
        out += ["| class | requests | share | req/s | p50 ms | p90 ms | p99 ms | max ms | answers |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for cls in ("browse", "order", "pay", "coupon"):
            out.append(row(cls, *shop_class_cells(p, cls)))
        out.append(row("**all**", s.get("requests", 0), "100%",
                       "**%s** (%s × nginx → FastCGI hello: %s)"
                       % (rate(s.get("rps", 0)), ratio(s.get("rps", 0), ceil), rate(ceil)),
                       "", "", "", "",
                       "no answer: %s; pay placed as an order (none unpaid yet): %s"
                       % (s.get("errors", "n/a"), s.get("pay_as_order", "n/a"))))
        db = p.get("db") or {}

        def answers(cls, k):
            return classes.get(cls, {}).get(k, 0)

        out += ["", "Checked: the database gained %s orders of the shoppers (order answers 201: "
                "%s), %s paid (pay answers 200: %s), %s ledger rows, and the policy has %s coupons "
                "(coupon answers 201: %s); statuses in nginx's log: %s; stockade's database "
                "connections mid-run: %s; CPU %s; check: %s."
                % (db.get("orders", "?"), answers("order", "status_201"), db.get("paid", "?"),
                   answers("pay", "status_200"), db.get("ledger", "?"), db.get("coupons", "?"),
                   answers("coupon", "status_201"), statuses(p["statuses"]),
                   orq(p.get("db_conns")), cpu(p.get("cpu")), p["check"])]
        if hello and hello["check"] != "ok":
            out += ["", "The ceiling's check: %s." % hello["check"]]
    render_memory(out, sec.one(role="memory"))


# ---------------------------------------------------------------------------
# scale


def render_scale(out, sec, plots):
    conns = sec.param("conns")
    out += ["", "## scale", "",
            "stockade restarted with each number of workers in %s (everything else at its "
            "defaults: coupon_strategy = pessimistic, coupon_gate = redis); at each, the coupon "
            "rush (%s users on a fresh policy of %s, `bench/rush.c`) and then the mixed shop (%s "
            "s, mix %s, a fresh policy of %s), both at %s concurrent clients. Each worker holds "
            "one PostgreSQL connection: the connections seen mid-run must be workers + 1 (the "
            "reaper) whatever the load. stockade Pss: the sum of Pss over the master, the "
            "workers and the reaper after the shop (what the whole daemon costs in memory)."
            % (sec.param("workers"), sec.param("users"), sec.param("total"), sec.param("seconds"),
               sec.param("mix"), sec.param("coupons"), conns), "",
            "| workers | rush req/s | issued/s | rush p99 ms | rush check | shop req/s | shop p99 "
            "ms (browse / order / pay / coupon) | shop check | DB conns (rush / shop) | stockade "
            "Pss MiB | CPU busy during the shop (split) |",
            "|---:|---:|---:|---:|---|---:|---|---|---|---:|---|"]
    data = []
    for w in words(sec.param("workers")):
        w = int(w)
        rush, shop = sec.one(role="rush", workers=w), sec.one(role="shop", workers=w)
        mem = sec.one(role="memory", workers=w)
        if not rush and not shop:
            continue
        f = rush_figures(rush) if rush else rush_figures({})
        r = (rush or {}).get("rush") or {}
        last = num(r.get("last_2xx_us"))
        rrate = "%.0f" % (num(r.get("status_201")) * 1e6 / last) if last > 0 else "0"
        s = (shop or {}).get("shop") or {}
        classes = (shop or {}).get("classes") or {}
        p99 = " / ".join(ms(classes[c]["p99_us"]) if "p99_us" in classes.get(c, {}) else "n/a"
                         for c in ("browse", "order", "pay", "coupon"))
        pss = ("%.1f" % (sum(x["pss_kib"] for x in mem["rows"]) / 1024)
               if mem and mem.get("rows") else "n/a")
        out.append(row(w, rate(f["rps"]), rrate, f["p99"], rush["check"] if rush else "?",
                       rate(s.get("rps", 0)), p99, shop["check"] if shop else "?",
                       "%s / %s" % (orq((rush or {}).get("db_conns")),
                                    orq((shop or {}).get("db_conns"))),
                       pss, cpu((shop or {}).get("cpu"))))
        data.append((w, rate(f["rps"]), rate(s.get("rps", 0))))
    plots.bars(out, "scale", "requests/s by number of workers (%s clients)" % conns,
               ["workers", "coupon-rush", "mixed-shop"], data)


# ---------------------------------------------------------------------------
# A scenario this report does not know: every point in one table.


def render_generic(out, sec, plots):
    out += ["", "## " + sec.name, "", "| point | tool | req/s or tps | statuses (nginx log) | "
            "CPU busy (split) | check |", "|---|---|---:|---|---|---|"]
    for p in sec.points:
        if p["tool"] == "wrk":
            r = wrk_figures(p)["rps"]
        elif p["tool"] == "rush":
            r = rush_figures(p)["rps"]
        elif p["tool"] == "shop":
            r = (p.get("shop") or {}).get("rps", 0)
        else:
            r = p.get("tps", "")
        out.append(row(p["point"], p["tool"], rate(r) if r != "" else "",
                       statuses(p.get("statuses")), cpu(p.get("cpu")), p["check"]))


RENDER = {
    "foundation": render_foundation,
    "orders": render_orders,
    "points": render_points,
    "coupons": render_coupon_rush,
    "issue": render_coupon_rush,
    "storm": render_coupon_rush,
    "shop": render_shop,
    "scale": render_scale,
    "ceilings": render_ceilings,
}


# ---------------------------------------------------------------------------


def read_records(path):
    records = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit("report.py: %s:%d: %s" % (path, n, e))
    return records


def render(records, plot_dir):
    """The results markdown of records, as a list of lines."""
    runs = [r for r in records if r.get("type") == "run"]
    if not runs:
        sys.exit("report.py: no run record (the first line bench/run writes)")
    run = runs[0]
    out = []
    render_header(out, run)
    plots = Plots(plot_dir, run["stamp"])
    sections, end = [], None
    for r in records:
        t = r.get("type")
        if t == "scenario":
            sections.append(Section(r))
        elif t in ("point", "skipped", "audit") and sections:
            sec = sections[-1]
            if t == "point":
                sec.points.append(r)
                if r.get("role") == "pgbench":
                    sec.pgbench_and_skipped.append(r)
            elif t == "skipped":
                sec.pgbench_and_skipped.append(r)
            else:
                sec.audit = r
        elif t == "end":
            end = r
    for sec in sections:
        RENDER.get(sec.name, render_generic)(out, sec, plots)
        render_audit(out, sec)
    if end is None:
        out += ["", "**INCOMPLETE RUN**: the records end here (bench/run is still running, or "
                "was killed); the figures above are all there is."]
    elif end["status"] != 0:
        out += ["", "**INCOMPLETE RUN**: bench/run stopped with status %s after %s s; the figures "
                "above are all there is." % (end["status"], end["seconds"])]
    else:
        out += ["", "The run took %s s." % end["seconds"]]
    return out


def main():
    ap = argparse.ArgumentParser(
        description="Render the results markdown of a bench/run from its points.jsonl.")
    ap.add_argument("--plots", metavar="DIR",
                    help="draw the plots (gnuplot) as DIR/STAMP-NAME.png and link them")
    ap.add_argument("points", help="the records (bench/run's points.jsonl, or a saved copy)")
    args = ap.parse_args()
    out = render(read_records(args.points), args.plots)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
