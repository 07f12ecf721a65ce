"""bench/report/growth.py: the growth scenario's section (cost vs data
size, issue 17 target 5): the load, the read endpoints and the timed
operations at each size, and how much each grew from the first size to
the last."""

from .figures import wrk_figures
from .markdown import md_code, num, rate, ratio, row, words

READS = [("page", "GET /api/v1/products/{id}"), ("list", "GET /api/v1/products"),
         ("popular3", "GET /api/v1/products/popular?days=3"),
         ("popular30", "GET /api/v1/products/popular?days=30"),
         ("orders", "GET /api/v1/orders (first page)"),
         ("orders_deep", "GET /api/v1/orders?after= (the oldest page)"),
         ("history", "GET /api/v1/points/history (first page)"),
         ("history_deep", "GET /api/v1/points/history?after= (the oldest page)")]
TIMED = [("audit_since", "`stockade audit --since` (the last hour)"),
         ("reaper", "reaper: pending orders expired, from their expiry until the last"),
         ("purge", "reaper: expired idempotency keys purged (the DELETE, "
          "pg_stat_statements)"),
         ("audit_full", "`stockade audit` (everything)")]


def top_statement(p):
    """The mean ms of the point's costliest statement, and its text."""
    s = (p.get("pgss") or [{}])[0]
    return ("%.3f" % num(s.get("mean_ms")) if s else "n/a"), s.get("query", "")


def growth_cell(first, last, higher_is_worse):
    """How many times costlier the last size is than the first."""
    a, b = num(first), num(last)
    if a <= 0 or b <= 0:
        return "n/a"
    x = b / a if higher_is_worse else a / b
    return ("**%.2fx**" if x > 2 else "%.2fx") % x


def render_load(out, sec, sizes):
    out += ["", "| orders | loaded | load s | VACUUM ANALYZE s | database GiB | load average |",
            "|---:|---:|---:|---:|---:|---:|"]
    for s in sizes:
        p = sec.one(role="load", size=s)
        if p:
            out.append(row(s, p["orders"], "%.1f" % (num(p["load_ms"]) / 1000),
                           "%.1f" % (num(p["vacuum_ms"]) / 1000),
                           "%.2f" % (num(p["db_bytes"]) / 2 ** 30), p["loadavg"]))


def render_reads(out, sec, sizes):
    out += ["", "Read endpoints: req/s, its share of GET /healthz measured just before at the "
            "same size (the machine is shared: the sizes are measured minutes apart), p50 / "
            "p99 ms, and the mean ms in PostgreSQL of the costliest statement "
            "(pg_stat_statements). Growth, from the first size to the last: of the time per "
            "request (req/s), of the same against /healthz, and of the statement's mean in "
            "PostgreSQL, the figure the other work on the machine moves least (above 2x in "
            "bold).", "",
            "| endpoint | " + " | ".join("%s orders" % s for s in sizes)
            + " | growth (req/s) | growth (vs /healthz) | growth (pg ms) | checks |",
            "|---|" + "---:|" * len(sizes) + "---:|---:|---:|---|"]
    ref = {}
    for s in sizes:
        p = sec.one(role="read", size=s, target="healthz")
        ref[s] = wrk_figures(p)["rps"] if p else 0
    stmts = []
    for target, title in [("healthz", "GET /healthz (the reference)")] + READS:
        cells, rps, share, pg, checks = [], [], [], [], []
        for s in sizes:
            p = sec.one(role="read", size=s, target=target)
            if not p:
                cells.append("")
                continue
            f = wrk_figures(p)
            mean, query = top_statement(p)
            cells.append("%s (%s; %s / %s; pg %s)" % (rate(f["rps"]), ratio(f["rps"], ref[s]),
                                                      f["p50"], f["p99"], mean))
            rps.append(f["rps"])
            share.append(num(f["rps"]) / ref[s] if ref[s] else 0)
            pg.append(mean)
            if p["check"] != "ok":
                checks.append("%s: %s" % (s, p["check"]))
            if s == sizes[-1] and target != "healthz":
                stmts.append((title, query))
        out.append(row(title, *cells,
                       growth_cell(rps[0], rps[-1], False) if rps else "n/a",
                       growth_cell(share[0], share[-1], False) if share else "n/a",
                       growth_cell(pg[0], pg[-1], True) if pg else "n/a",
                       "; ".join(checks) or "ok"))
    out += ["", "The costliest statement of each endpoint at the last size:", ""]
    out += ["- %s: %s" % (t, md_code(q)) for t, q in stmts]


def render_timed(out, sec, sizes):
    out += ["", "Timed operations, ms (growth: the last size over the first):", "",
            "| operation | " + " | ".join("%s orders" % s for s in sizes) + " | growth | checks |",
            "|---|" + "---:|" * len(sizes) + "---:|---|"]
    for target, title in TIMED:
        cells, vals, checks = [], [], []
        for s in sizes:
            p = sec.one(size=s, target=target)
            if not p:
                cells.append("")
                continue
            if p["check"] != "ok":
                # Failed or interrupted: no figure, and no growth from it.
                cells.append("n/a")
                checks.append("%s: %s" % (s, p["check"]))
                continue
            v = p["statement_ms"] if target == "purge" else p["ms"]
            extra = " (wall %s)" % p["ms"] if target == "purge" else ""
            cells.append("%s%s" % (v, extra))
            vals.append(v)
        out.append(row(title, *cells, growth_cell(vals[0], vals[-1], True) if vals else "n/a",
                       "; ".join(checks) or "ok"))


def render_growth(out, sec, plots):
    sizes = [int(s) for s in words(sec.param("sizes"))]
    out += ["", "## growth", "",
            "The shop of `bench/growth-data.sql` grown to each size of paid orders (one every "
            "26 s back from %s, so the last hour and the last 30 days hold the same orders at "
            "every size; 1,000 users, 1,000 options, 100 products), with their lines, stock "
            "movements and ledger rows; then at each size every read endpoint through nginx "
            "(catalogue microcache off), %s connections, %s wrk threads, %s s each, user %s's "
            "orders and history; `stockade audit --since %s`; the reaper expiring %s pending "
            "orders and purging as many expired idempotency keys; the full audit."
            % (sec.param("t0"), sec.param("conns"), sec.param("threads"),
               sec.param("seconds"), sec.param("user"), sec.param("since"),
               sec.param("pending"))]
    render_load(out, sec, sizes)
    render_reads(out, sec, sizes)
    render_timed(out, sec, sizes)
