"""bench/report/: the results file of a bench/run, from its records; the
package behind bench/report.py, which is its command line.

    records.py     the records read (one JSON object a line) and grouped
                   into the run, its scenarios' sections and its end
    render.py      the whole results markdown: the header, each section
                   (RENDER: scenario name -> its renderer), each audit and
                   how the run ended
    header.py      the header, from the run record
    markdown.py    number formats and table rows
    figures.py     the figures of a point record: wrk, rush, pgbench,
                   pg_stat_statements
    plots.py       gnuplot's bar charts
    foundation.py  }
    orders.py      }
    points.py      } one module per scenario, or per group of scenarios
    coupons.py     } (coupons.py: ceilings, coupons, issue and storm),
    shop.py        } each rendering its section
    scale.py       }
    targets.py     the plots of issue 17's targets, across runs: the
                   work of bench/plot-targets, not of a results file

Every figure comes from a record (but target 3's in targets.py, which
have none: bench/results/targets-3-popular.tsv); these modules only
aggregate and lay out.  Standard library only.
"""
