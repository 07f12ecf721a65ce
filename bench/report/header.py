"""bench/report/header.py: the results file's header, from the run record
(the machine, the software, the BENCH_* values)."""

CHECK_NOTE = (
    "Every point starts after a CHECKPOINT. Socket errors are wrk's (connect, read, write, "
    "timeout); \"HTTP ≥400\" is wrk's count of error answers; statuses are every answer of "
    "the point as nginx logged it (499: requests in flight when wrk stopped, at most one per "
    "connection, expected). A point with anything unexpected says **ERRORS** in its last "
    "column.")


def autogroup(machine):
    """", autogroup on/off" from the record (older records do not say)."""
    a = machine.get("autogroup")
    return "" if a is None else ", sched_autogroup %s" % ("on" if a else "off")


def render_header(out, run):
    env = " ".join('%s="%s"' % (k, v) if " " in v else "%s=%s" % (k, v)
                   for k, v in run["env"])
    m = run["machine"]
    load = "%s, %s threads, timeout %s, %s s per point, loopback; %s, -M prepared" % (
        run["wrk"], run["threads"], run["timeout"], run["seconds"], run["pgbench"])
    if run.get("curl"):
        load += "; bench/rush.c and bench/shop.c (%s)" % run["curl"]
    dirty = " + %d uncommitted changes" % run["dirty"] if run["dirty"] else ""
    out += [
        "# stockade benchmark, %s on %s" % (run["date"], run["host"]), "",
        "Command: `bench/run %s` with %s." % (" ".join(run["scenarios"]), env), "",
        "| | |", "|---|---|",
        "| machine | %s CPUs (%s), %s RAM, kernel %s%s; load average at the start: %s |"
        % (m["cpus"], m["cpu"], m["mem"], m["kernel"], autogroup(m), m["load"]),
        "| nginx | %s (worker_processes 2, fastcgi_keep_conn off, access log on) |" % run["nginx"],
        "| PostgreSQL | %s; fsync, full_page_writes and synchronous_commit **on** "
        "(STACK_PG_FAST=0); data on %s |" % (run["postgres"], run["fs"]),
        "| Redis | %s (unix socket, no persistence) |" % run["redis"],
        "| load | %s |" % load,
        "| stockade | %s, git %s%s; workers = %s (+ 1 reaper), log_level = info (one access "
        "line per request) |" % (run["stockade"], run["git"], dirty, run["workers"]),
    ]
    if run.get("stale"):
        out.append("| **warning** | the binary is older than these sources: %s|" % run["stale"])
    out += [
        "| stockade config | every key at its default except workers and: `%s`; defaults: "
        "stock_strategy = pessimistic, point_strategy = optimistic, point_retries = 5, "
        "db_retries = 3, coupon_strategy = pessimistic, coupon_gate = redis, "
        "coupon_cache_ttl = 1s; each scenario lists what it changes |" % run["base_conf"],
        "", CHECK_NOTE,
    ]

