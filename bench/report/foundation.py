"""bench/report/foundation.py: the foundation scenario's section (the
ceiling, /healthz and /whoami)."""

from .figures import wrk_figures
from .markdown import cpu, orq, rate, ratio, row, statuses


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

