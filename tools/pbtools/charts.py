"""The report's charts, as gnuplot scripts (see gnuplot.py for rendering).

Every builder returns a Chart, or None when the run has nothing for it. Every
chart ends with a footer naming all patterns of the run and those it has no data
for, so a reader never has to guess whether a missing line means "not measured"
or "off the scale".

The builders live by section: charts_matrix.py (throughput, costs, load spread),
charts_latency.py (percentile spectrum, p99 vs offered load), charts_nagle.py;
what every chart shares (colours, footer, marks) is charts_style.py.
"""

from .charts_latency import spectrum, spectrum_points, sweep
from .charts_matrix import cost_bars, spread, throughput
from .charts_nagle import nagle, nagle_order, nagle_upside
from .charts_style import Palette

__all__ = [
    "Palette",
    "throughput",
    "cost_bars",
    "spread",
    "spectrum",
    "spectrum_points",
    "sweep",
    "nagle",
    "nagle_order",
    "nagle_upside",
]
