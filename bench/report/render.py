"""bench/report/render.py: the results markdown of a run's records: the
header, then one section per scenario in the order they ran, each followed
by its audit, then how the run ended."""

from .coupons import render_ceilings, render_coupon_rush
from .figures import rush_figures, wrk_figures
from .foundation import render_foundation
from .growth import render_growth
from .header import render_header
from .markdown import cpu, orq, rate, row, statuses
from .orders import render_orders
from .plots import Plots
from .points import render_points
from .records import group
from .scale import render_scale
from .shop import render_shop


def render_audit(out, sec):
    """The line after a section: its scenario's audit."""
    a = sec.audit
    if not a:
        return
    out += ["", "After %s: audit (`%s`) **%s**; stockade's database connections in "
            "pg_stat_activity: **%s** (workers + reaper = %s)."
            % (sec.name, a["audit_sql"], a["audit"], orq(a.get("db_conns")), a["want_conns"])]


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


# Each scenario's section, by name; a scenario not named here gets
# render_generic's table.
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
    "growth": render_growth,
}


def render(records, plot_dir):
    """The results markdown of records, as a list of lines."""
    run, sections, end = group(records)
    out = []
    render_header(out, run)
    plots = Plots(plot_dir, run["stamp"])
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
