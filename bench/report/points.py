"""bench/report/points.py: the points scenario's section (POST
/api/v1/points/charge per point_strategy, next to pgbench)."""

from .figures import pg_lat, pgss_pairs_details, pgss_mean, pgss_sum, wrk_figures
from .markdown import (cpu, num, one_decimal, orq, rate, ratio, row, statuses,
                       with_pgbench, words)


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
    pgss_pairs_details(out, pairs)
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

