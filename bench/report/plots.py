"""bench/report/plots.py: the bar charts, drawn by gnuplot."""

import os
import shutil
import subprocess
import sys
import tempfile


class Plots:
    """gnuplot bar charts as DIR/STAMP-NAME.png, when DIR is given and
    gnuplot can draw PNGs."""

    def __init__(self, directory, stamp):
        self.dir, self.stamp, self.term = directory, stamp, None
        if not directory or not shutil.which("gnuplot"):
            return
        for term, full in (("pngcairo", 'pngcairo size 960,540 noenhanced font ",10"'),
                           ("png", "png size 960,540 noenhanced")):
            r = subprocess.run(["gnuplot", "-e", "set terminal " + term],
                               capture_output=True)
            if r.returncode == 0:
                self.term = full
                break

    def bars(self, out, name, title, header, rows, ylabel="requests/s", extra=()):
        """A clustered bar chart: header names the series (the first word
        names the labels), each row is a label and a value per series.
        extra: more gnuplot commands, run just before the plot (a log
        scale, a target line, the series' colours).  Appends its link to
        out and returns the PNG's path when it was drawn, else None."""
        if not self.term or not rows:
            return None
        png = os.path.join(self.dir, "%s-%s.png" % (self.stamp, name))
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, name + ".dat")
            with open(data, "w") as f:
                f.write(" ".join(header) + "\n")
                for r in rows:
                    f.write(" ".join(str(c) for c in r) + "\n")
            script = "\n".join([
                "set terminal " + self.term,
                "set output '%s'" % png.replace("'", "''"),
                "set title '%s'" % title.replace("'", "''"),
                "set style data histograms",
                "set style histogram clustered gap 1",
                "set style fill solid 0.85 border -1",
                "set boxwidth 0.9",
                "set ylabel '%s'" % ylabel,
                "set yrange [0:*]",
                "set grid ytics",
                "set key outside right top",
            ] + list(extra) + [
                "plot for [i=2:%d] '%s' using i:xtic(1) title columnheader(i)"
                % (len(header), data.replace("'", "''")),
            ]) + "\n"
            r = subprocess.run(["gnuplot"], input=script, text=True,
                               capture_output=True)
        if r.returncode != 0:
            print("report.py: gnuplot failed for %s: %s" % (name, r.stderr.strip()[:300]),
                  file=sys.stderr)
            return None
        out += ["", "![%s](%s)" % (name, os.path.basename(png))]
        return png

