"""bench/report/coupons.py: the sections of the coupon rush's scenarios:
the HTTP ceilings (the ceilings scenario, and every coupon rush), and the
rush itself (coupons, issue, storm)."""

from .figures import pg_failed, pg_lat, rush_figures, rush_rates, wrk_figures
from .markdown import cpu, num, orq, rate, ratio, row, statuses, words


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

