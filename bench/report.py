#!/usr/bin/env python3
"""bench/report.py: the results file of a bench/run, from its records.

    bench/report.py [--plots DIR] POINTS.jsonl > RESULTS.md

POINTS.jsonl holds the records bench/run wrote (bench/lib/record.sh), one
JSON object a line: the run (machine, software, BENCH_* values), each
scenario's start, every measured point with its figures and its check, the
audit after each scenario, and how the run ended.  bench/run keeps a copy
next to the results file (bench/results/DATE-HOST.jsonl), so a results file
can be rendered again, with other tables, without running anything.

The markdown goes to standard output: the header, then one section per
scenario, in the order they ran.  Every figure comes from a record; the
report only aggregates (ratios, per-order and per-charge times, rates over a
phase of a rush) and lays out.  With --plots DIR and gnuplot installed,
each scenario's bar charts are drawn as DIR/STAMP-NAME.png and linked by
their file name (so DIR is where the results file goes); without them, no
plots.  Standard library only.

This file is the command line; the work is done by the package next to it,
bench/report/ (records.py reads the records, render.py lays out the results
file, one module per scenario or group of scenarios renders its section;
bench/report/__init__.py lists them).  `import report` below finds that
package, not this file: a directory with an __init__.py comes before a
module of the same name.  Nothing is compiled into bench/report/__pycache__.
"""

import argparse
import sys

sys.dont_write_bytecode = True  # before the package is imported

from report.records import read_records  # noqa: E402
from report.render import render  # noqa: E402


def main():
    ap = argparse.ArgumentParser(
        description="Render the results markdown of a bench/run from its points.jsonl.")
    ap.add_argument("--plots", metavar="DIR",
                    help="draw the plots (gnuplot) as DIR/STAMP-NAME.png and link them")
    ap.add_argument("points", help="the records (bench/run's points.jsonl, or a saved copy)")
    args = ap.parse_args()
    out = render(read_records(args.points), args.plots)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
