"""bench/report/targets.py: one plot per target of issue 17 ("Performance"),
drawn from the measured runs that docs/benchmarks.md cites, as
bench/results/targets-N-NAME.png (bench/plot-targets is its command line).

Every figure comes from a run's records (bench/results/STAMP.jsonl), except
target 3's, which were timed with psql and exist only in docs/benchmarks.md:
they are copied, with where they come from, into
bench/results/targets-3-popular.tsv and read from there.  Nothing is
extrapolated; a point that was not measured is left out (a gap).  Which
runs: the ones each section of docs/benchmarks.md names (RUNS_* below).
"""

import os

from .figures import rush_rates, wrk_figures
from .growth import READS, top_statement
from .markdown import num, words
from .plots import Plots
from .records import group, read_records

# Target 1 (docs/benchmarks.md, "Issue 17: ..."): three rounds alternating
# the binary before the one-round-trip change (4bf32cf) and after (357b770).
RUNS_1 = (("before", ("044056", "044855", "045637")),
          ("after", ("044509", "045317", "050005")))
# Target 2 ("Target 2: the best issuance against pessimistic, and the queue").
RUNS_2 = ("062152", "063049", "063605", "064236", "065024")
QUEUE_CONSUMERS_DEFAULT = 4  # docs/configuration.md, queue_consumers
# ...and on a quiet machine ("Quiet runs"): pessimistic, sharded and queue
# (130951), then pessimistic and sharded at each coupon_shards.
RUNS_2_QUIET = ("130951", "141655", "141931", "141424", "142203", "142433")
COUPON_SHARDS_DEFAULT = 16  # docs/configuration.md, coupon_shards
# Target 4 ("The catalogue microcache (target 4) ..."): the page and list
# points of one run, and four separate shop runs.  The records do not say
# whether nginx's microcache was on (BENCH_CATALOGUE_CACHE is not in the run
# record): which was which is what docs/benchmarks.md says of them.  Paired
# in the order they ran: (off, on).
RUN_4 = "051525"
RUN_4_QUIET = "141135"  # catalogue and shop, one quiet run
SHOP_PAIRS_4 = (("051742", "051525"), ("052434", "052033"))
# Target 5 ("Cost vs data size (target 5)"): loaded, then quiet.
RUN_5 = "061725"
RUN_5_QUIET = "142749"  # 10^5 and 10^7, alone on the machine
POPULAR_3 = "targets-3-popular.tsv"

# The series' colours: "before" or "off" in warm shades, "after" or "on" in
# blues, so that the rounds of one side read as one group.
WARM = ("#c0504d", "#e08a5a", "#f2c078")
COOL = ("#1f5f9f", "#4f8fcf", "#9cc3e6")


def q(s):
    """s as one quoted gnuplot column (labels and series names have spaces;
    a \\n in it breaks the label's line)."""
    return '"%s"' % s.replace('"', "'")


def colours(cs):
    """The series' colours, and room for two-line labels."""
    return (["set linetype %d lc rgb '%s'" % (i, c) for i, c in enumerate(cs, 1)]
            + ["set bmargin 5"])


def hline(y, label, x0="graph 0", x1="graph 1"):
    """A dashed horizontal line at y (a target), from x0 to x1, labelled
    unless label is None (when the axis's label says what it is)."""
    line = ["set arrow from %s, first %s to %s, first %s nohead dt 2 lw 2 lc rgb 'black' front"
            % (x0, y, x1, y)]
    if label is None:
        return line
    return line + ["set label %s at %s, first %s offset 0.5,0.6 front" % (q(label), x0, y)]


def load_range(values):
    """'A-B' of the 1-minute load averages given (floats)."""
    lo, hi = min(values), max(values)
    return "%.1f" % lo if lo == hi else "%.1f-%.1f" % (lo, hi)


def first_load(run):
    return num(words(run["machine"]["load"])[0])


class Runs:
    """The runs of bench/results by stamp (20261207-HHMMSS-vm), read once."""

    def __init__(self, results):
        self.results, self.cache = results, {}

    def get(self, hhmmss):
        if hhmmss not in self.cache:
            path = os.path.join(self.results, "20261207-%s-vm.jsonl" % hhmmss)
            self.cache[hhmmss] = group(read_records(path))
        return self.cache[hhmmss]

    def section(self, hhmmss, name):
        run, sections, _ = self.get(hhmmss)
        return run, [s for s in sections if s.name == name][-1]


def marked(label, points):
    """label, with a * when a point behind it has a check other than ok."""
    bad = any(p is not None and p.get("check") != "ok" for p in points)
    return label + ("*" if bad else "")


# ---------------------------------------------------------------------------
# Target 1: pessimistic issue (and orders) against pgbench of the baseline.


def pessimistic_ratios(runs, hhmmss):
    """{point label: (ratio, points)} of one run: stockade / pgbench."""
    out = {}
    _, sec = runs.section(hhmmss, "issue")
    pgi = {p["strategy"]: p["tps"] for p in sec.having(role="pgbench", txn="issue")}
    for p in sec.having(role="rush", strategy="pessimistic"):
        irate = rush_rates(p)[0]
        out["issue\\n%s clients" % p["conns"]] = (num(irate) / num(pgi["pessimistic"]), [p])
    _, sec = runs.section(hhmmss, "orders")
    for p in sec.having(role="stockade", strategy="pessimistic"):
        g = sec.one(role="pgbench", strategy="pessimistic", pattern=p["pattern"],
                    conns=p["conns"])
        what = "hot option" if p["pattern"] == "hot" else "100 options"
        out["orders\\n%s\\n%s clients" % (what, p["conns"])] = (
            num(wrk_figures(p)["rps"]) / num(g["tps"]), [p, g])
    return out


def target_1(plots, runs):
    series, loads = [], []
    for side, stamps in RUNS_1:
        for st in stamps:
            series.append(("%s %s" % (side, st), pessimistic_ratios(runs, st)))
            loads.append(first_load(runs.get(st)[0]))
    labels = list(series[0][1])
    rows = [[q(marked(label, [p for _, r in series for p in r[label][1]]))]
            + ["%.3f" % r[label][0] for _, r in series] for label in labels]
    return plots.bars(
        [], "1-pessimistic",
        "Target 1: pessimistic stockade / pgbench, 3 rounds alternating "
        "(2 vCPU VM, loaded: load avg %s at start)" % load_range(loads),
        ["point"] + [q(s) for s, _ in series], rows,
        "stockade / pgbench (same run)",
        colours(WARM + COOL) + ["set yrange [0:1.6]"]
        + hline(0.8, "issue target 0.8", "first -0.5", "first 0.5")
        + hline(1, "1.0 = pgbench"))


# ---------------------------------------------------------------------------
# Target 2: queue and sharded against pessimistic, per run and connections.


def conf_value(run, key, default):
    """The value of key in the run's BENCH_EXTRA_CONF (its base_conf), as an
    int, or default."""
    for line in (run.get("base_conf") or "").splitlines():
        k, _, v = line.partition("=")
        if k.strip() == key:
            return int(v)
    return default


def issuance_plot(plots, runs, stamps, name, title, what, queue_series):
    """One bar pair per run of stamps and clients: queue's and sharded's
    issued/s over pessimistic's; what(run) is the label's middle line."""
    rows, loads = [], []
    for st in stamps:
        run, sec = runs.section(st, "issue")
        loads.append(first_load(run))
        for conns in words(sec.param("conns")):
            pts = {p["strategy"]: p for p in sec.having(role="rush", conns=int(conns))}
            pess = num(rush_rates(pts["pessimistic"])[0])

            def vs(s):
                p = pts.get(s)
                return "%.3f" % (num(rush_rates(p)[0]) / pess) if p else "NaN"
            label = "%s\\n%s\\n%s conns" % (st, what(run), conns)
            rows.append([q(marked(label, list(pts.values()))), vs("queue"), vs("sharded")])
    return plots.bars(
        [], name, title % load_range(loads),
        ["run", q(queue_series), q("sharded / pessimistic")], rows,
        "issued/s / pessimistic issued/s",
        colours((COOL[1], WARM[0])) + ["set key inside left top", "set yrange [0:5]",
                                       "set xtics font ',9'"]
        + hline(3, "target 3x") + hline(1, "1.0 = pessimistic"))


def target_2(plots, runs):
    def consumers(run):
        n = conf_value(run, "queue_consumers", QUEUE_CONSUMERS_DEFAULT)
        return "%d consumer%s" % (n, "s" * (n > 1))
    return issuance_plot(
        plots, runs, RUNS_2, "2-issuance",
        "Target 2: issued/s over pessimistic's, same run, 20,000 users, gate off, 8 workers "
        "(2 vCPU VM, loaded: load avg %s at start)", consumers, "queue / pessimistic")


def target_2_quiet(plots, runs):
    return issuance_plot(
        plots, runs, RUNS_2_QUIET, "2-issuance-quiet",
        "Target 2 on a quiet machine: issued/s over pessimistic's, same run, by coupon_shards "
        "(2 vCPU VM, load avg %s at start)",
        lambda run: "%d shards" % conf_value(run, "coupon_shards", COUPON_SHARDS_DEFAULT),
        "queue / pessimistic (4 consumers)")


# ---------------------------------------------------------------------------
# Target 3: the popular statement, 007 against 008 (figures from the TSV).


def read_tsv(path):
    """The rows of a tab-separated file with a header, # lines skipped, as
    dicts."""
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n").split("\t") for line in f
                 if line.strip() and not line.startswith("#")]
    return [dict(zip(lines[0], r)) for r in lines[1:]]


def target_3(plots, results):
    med = {}
    for r in read_tsv(os.path.join(results, POPULAR_3)):
        med[(int(r["orders"]), int(r["days"]), r["round"], r["rollup"])] = r["median_ms"]
    rows = []
    for orders, days, rnd in sorted({k[:3] for k in med}):
        label = "10^%d\\n%d days\\nround %s" % (len(str(orders)) - 1, days, rnd)
        rows.append([q(label), med[(orders, days, rnd, "007")], med[(orders, days, rnd, "008")]])
    return plots.bars(
        [], "3-popular",
        "Target 3: GET /products/popular's statement at 10^6 and 10^7 paid orders, 007 vs 008 "
        "alternating (2 vCPU VM, loaded: load avg 16-21)",
        ["window", q("007 (hour and day rows)"), q("008 (spans)")], rows,
        "median ms (log scale); dashed: the target, 5 ms at 10^7",
        colours((WARM[0], COOL[0])) + ["set logscale y", "set yrange [1:2000]",
                                       "set mytics 10", "set grid mytics",
                                       "set key inside left top"]
        + hline(5, None, "first 5.5", "first 11.5"))


# ---------------------------------------------------------------------------
# Target 4: the catalogue microcache, against the hello ceiling.


def shop_ratio(runs, hhmmss):
    run, sec = runs.section(hhmmss, "shop")
    hello, p = sec.one(role="ceiling"), sec.one(role="shop")
    return num(p["shop"]["rps"]) / num(wrk_figures(hello)["rps"]), [hello, p], first_load(run)


def target_4(plots, runs):
    run, sec = runs.section(RUN_4, "catalogue")
    loads = [first_load(run)]
    hello = num(wrk_figures(sec.one(target="hello"))["rps"])
    rows = []
    for target, label in (("page", "product page"), ("list", "product list")):
        pts = [sec.one(target=target, cache=c) for c in (0, 1)]
        rows.append([q(marked("%s\\n(%s)" % (label, RUN_4), pts))]
                    + ["%.3f" % (num(wrk_figures(p)["rps"]) / hello) for p in pts])
    for off, on in SHOP_PAIRS_4:
        (a, pa, la), (b, pb, lb) = shop_ratio(runs, off), shop_ratio(runs, on)
        loads += [la, lb]
        rows.append([q(marked("mixed shop\\n(off %s, on %s)" % (off, on), pa + pb)),
                     "%.3f" % a, "%.3f" % b])
    return plots.bars(
        [], "4-catalogue",
        "Target 4: req/s over the FastCGI hello ceiling of the same run, nginx microcache "
        "off / on (2 vCPU VM, shared: load avg %s at start)" % load_range(loads),
        ["point", q("cache off"), q("cache on")], rows,
        "req/s / hello req/s (same run)",
        colours((WARM[0], COOL[0])) + ["set key inside right top", "set yrange [0:3]"]
        + hline(0.35, "shop target 0.35", "first 1.5", "first 3.5")
        + hline(1, "1.0 = hello"))


def target_4_quiet(plots, runs):
    """One quiet run: page and list off and on against the catalogue's hello
    ceiling, the shop (cache on, the default) against its own."""
    run, sec = runs.section(RUN_4_QUIET, "catalogue")
    hello = num(wrk_figures(sec.one(target="hello"))["rps"])
    rows = []
    for target, label in (("page", "product page"), ("list", "product list")):
        pts = [sec.one(target=target, cache=c) for c in (0, 1)]
        rows.append([q(marked(label, pts))]
                    + ["%.3f" % (num(wrk_figures(p)["rps"]) / hello) for p in pts])
    ratio, pts, _ = shop_ratio(runs, RUN_4_QUIET)
    rows.append([q(marked("mixed shop", pts)), "NaN", "%.3f" % ratio])
    return plots.bars(
        [], "4-catalogue-quiet",
        "Target 4, quiet run %s: req/s over the same run's FastCGI hello, "
        "microcache off / on (2 vCPU VM, load avg %s)"
        % (RUN_4_QUIET, load_range([first_load(run)])),
        ["point", q("cache off"), q("cache on")], rows,
        "req/s / hello req/s (same run)",
        colours((WARM[0], COOL[0])) + ["set key inside left top", "set yrange [0:2.5]"]
        + hline(0.6, "page/list target 0.6", "first -0.5", "first 1.5")
        + hline(0.35, "shop target 0.35", "first 1.5", "first 2.5")
        + hline(1, "1.0 = hello"))


# ---------------------------------------------------------------------------
# Target 5: the read endpoints at each size.

SHORT_5 = {"healthz": "/healthz\\n(reference)", "page": "product\\npage",
           "list": "product\\nlist", "popular3": "popular\\n3 days",
           "popular30": "popular\\n30 days", "orders": "orders\\nfirst page",
           "orders_deep": "orders\\noldest page", "history": "points\\nfirst page",
           "history_deep": "points\\noldest page"}


def target_5(plots, runs, stamp=RUN_5, suffix="", how="loaded"):
    run, sec = runs.section(stamp, "growth")
    sizes = [int(s) for s in words(sec.param("sizes"))]
    loads = [first_load(run)] + [num(sec.one(role="load", size=s)["loadavg"]) for s in sizes]
    header = ["endpoint"] + [q("10^%d orders" % (len(str(s)) - 1)) for s in sizes]
    extra = (colours(("#9cc3e6", "#4f8fcf", "#1f3f7f")) + ["set logscale y",
                                                            "set key inside right top"])
    title = ("Target 5: %%s by data size (%s; wrk, %s conns, cache off; 2 vCPU VM, %s: "
             "load avg %s)" % (stamp, sec.param("conns"), how, load_range(loads)))
    rps, pg = [], []
    for target in ["healthz"] + [t for t, _ in READS]:
        pts = [sec.one(role="read", size=s, target=target) for s in sizes]
        label = q(marked(SHORT_5[target], pts))
        rps.append([label] + [wrk_figures(p)["rps"] if p else "NaN" for p in pts])
        if target != "healthz":
            pg.append([label] + [top_statement(p)[0] if p else "NaN" for p in pts])
    return [plots.bars([], "5-growth-rps" + suffix, title % "req/s per endpoint", header, rps,
                       "requests/s (log scale)", extra + ["set yrange [10:100000]"]),
            plots.bars([], "5-growth-pg" + suffix, title % "each endpoint's statement in PostgreSQL",
                       header, pg, "mean ms, pg_stat_statements (log scale)",
                       extra + ["set yrange [0.01:1000]"])]


def draw_all(results):
    """Draws every plot into results (where the runs' records are); returns
    the paths drawn."""
    plots = Plots(results, "targets")
    if not plots.term:
        raise SystemExit("plot-targets: gnuplot with a PNG terminal is needed")
    runs = Runs(results)
    drawn = [target_1(plots, runs), target_2(plots, runs), target_2_quiet(plots, runs),
             target_3(plots, results), target_4(plots, runs),
             target_4_quiet(plots, runs)] + target_5(plots, runs)
    drawn += target_5(plots, runs, RUN_5_QUIET, "-quiet", "quiet")
    return [p for p in drawn if p]
