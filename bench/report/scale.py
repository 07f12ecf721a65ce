"""bench/report/scale.py: the scale scenario's section (the coupon rush and
the mixed shop by number of workers)."""

from .figures import rush_figures
from .markdown import cpu, ms, num, orq, rate, row, words


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

