"""bench/report/markdown.py: the formats of the figures and the markdown
table rows, the same as bench/run's terminal lines and the results files
written before this report existed."""


def num(x, default=0.0):
    """x as a float, or default when it is missing or not a number."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return default


def rate(x):
    """A rate rounded to an integer."""
    return "%.0f" % num(x)


def ratio(a, b):
    """a/b with two decimals, or n/a."""
    a, b = num(a), num(b)
    return "%.2f" % (a / b) if b > 0 else "n/a"


def ms(us):
    """Microseconds as milliseconds with two decimals."""
    return "%.2f" % (num(us) / 1000)


def one_decimal(x):
    """x rounded to one decimal, as bench/run's awk did before rate()."""
    return float("%.1f" % x)


def orq(x):
    """x, or ? when it is missing."""
    return "?" if x is None or x == "" else str(x)


def words(x):
    """A list-of-words parameter ("16 64" or 64) as a list of strings."""
    return str(x).split() if x is not None else []


def statuses(st):
    """{"201": 12000, "499": 60} as "201:12000 499:60"."""
    return " ".join("%s:%s" % (k, st[k]) for k in sorted(st or {}))


def cpu(c, split=True):
    """lib/cpu.sh's figures: "98% (st 0, pg 0, ngx 48, rest 50)"."""
    if not c:
        return "n/a"
    busy = "%.0f%%" % c["busy"]
    if not split:
        return busy
    if "stockade" not in c:
        return busy + " (split n/a)"
    return "%s (st %.0f, pg %.0f, ngx %.0f, rest %.0f)" % (
        busy, c["stockade"], c["postgres"], c["nginx"], c["rest"])


def md_code(text):
    """text in backquotes, its pipes escaped for a table cell."""
    return "`%s`" % str(text).replace("|", "\\|")


def row(*cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def with_pgbench(check, pg):
    """A stockade point's check, followed by its pgbench point's when that
    one is not ok."""
    if pg and pg.get("check", "ok") != "ok":
        return "%s; pgbench %s" % (check, pg["check"])
    return check

