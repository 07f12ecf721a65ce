"""bench/report/figures.py: the figures of the point records, whatever
their scenario: wrk's, rush's, pgbench's and pg_stat_statements'."""

from .markdown import md_code, ms, num, one_decimal, row


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


def pgss_pairs_details(out, pairs):
    """For each (label, stockade point, pgbench point), both points' top
    statements, folded in one <details> block."""
    out += ["", "<details><summary>top statements per point (pg_stat_statements, role "
            "stockade)</summary>"]
    for label, p, g in pairs:
        pgss_details(out, p, "stockade, " + label)
        pgss_details(out, g, "pgbench, " + label)
    out += ["", "</details>"]


def pg_lat(p):
    return "%.3f" % p["lat_ms"] if p and p.get("lat_ms") is not None else "n/a"


def pg_failed(p):
    return "n/a" if not p or p.get("failed") is None else p["failed"]

