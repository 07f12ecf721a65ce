"""bench/report/orders.py: the orders scenario's section (POST
/api/v1/orders per stock_strategy, next to pgbench)."""

from .figures import (pg_failed, pg_lat, pgss_calls, pgss_pairs_details, pgss_mean,
                      pgss_sum, wrk_figures)
from .markdown import cpu, num, orq, rate, ratio, row, statuses, with_pgbench


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
    pgss_pairs_details(out, pairs)
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

