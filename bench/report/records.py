"""bench/report/records.py: the records of a run (bench/lib/record.sh), one
JSON object a line, read and grouped into the run, its scenarios' sections
and how it ended."""

import json
import sys


def read_records(path):
    records = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit("report.py: %s:%d: %s" % (path, n, e))
    return records


# ---------------------------------------------------------------------------
# A scenario's section: its opening record, its points (by name, in order),
# its skipped points and its audit.


class Section:
    def __init__(self, start):
        self.start = start
        self.name = start["scenario"]
        self.points = []
        self.pgbench_and_skipped = []  # the coupon rush's pgbench table, in order
        self.audit = None

    def param(self, key, default="?"):
        v = self.start.get(key)
        return default if v is None else v

    def having(self, **tags):
        """The points whose fields match tags, in the order they ran."""
        return [p for p in self.points
                if all(p.get(k) == v for k, v in tags.items())]

    def one(self, **tags):
        found = self.having(**tags)
        return found[-1] if found else None


def group(records):
    """The run record, the sections of the scenarios in the order they ran,
    and the end record (None while bench/run runs, or when it was killed)."""
    runs = [r for r in records if r.get("type") == "run"]
    if not runs:
        sys.exit("report.py: no run record (the first line bench/run writes)")
    sections, end = [], None
    for r in records:
        t = r.get("type")
        if t == "scenario":
            sections.append(Section(r))
        elif t in ("point", "skipped", "audit") and sections:
            sec = sections[-1]
            if t == "point":
                sec.points.append(r)
                if r.get("role") == "pgbench":
                    sec.pgbench_and_skipped.append(r)
            elif t == "skipped":
                sec.pgbench_and_skipped.append(r)
            else:
                sec.audit = r
        elif t == "end":
            end = r
    return runs[0], sections, end
