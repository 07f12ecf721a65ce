"""bench/report/shop.py: the shop scenario's section (the mixed shop, and
the memory of stockade's processes after it)."""

from .figures import wrk_figures
from .markdown import cpu, ms, num, orq, rate, ratio, row, statuses


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

