"""The Nagle run's charts: the TCP_NODELAY x write pattern x TCP_QUICKACK matrix
(latency and segments per request) and Nagle's upside (many small writes)."""

from __future__ import annotations

from .charts_style import footer, latency_range, positive
from .gnuplot import Chart, datablock, log_latency_tics, quote, ticlabel
from .rundir import STALL_US, WRITE_ORDER, Case, onoff, pattern_key


# --- Nagle ----------------------------------------------------------------------------


def multiplot_head(title: str, left: float, right: float, height: int, bottom: int) -> str:
    """The start of a two-panel Nagle chart: its title, and the first panel's margins
    (left and right in screen fractions; 60 pixels at the top, `bottom` below)."""
    return (
        f"set multiplot title {quote(title)}\n"
        f"set lmargin at screen {left}\n"
        f"set rmargin at screen {right}\n"
        f"set tmargin at screen {1 - 60 / height:.4f}\n"
        f"set bmargin at screen {bottom / height:.4f}\n"
    )


def nagle_order(c: Case):
    wp = c.write_pattern or ""
    return (
        c.client_nodelay is not False,
        c.server_nodelay is not False,
        WRITE_ORDER.index(wp) if wp in WRITE_ORDER else len(WRITE_ORDER),
        wp,
        bool(c.quickack),
        c.id,
    )


def nagle(name: str, cases: list[Case], run_patterns, pal) -> Chart | None:
    cases = sorted(cases, key=nagle_order)
    if not cases:
        return None
    n = len(cases)
    lat_rows, seg_rows, stall_rows = [], [], []
    ys = []
    for i, c in enumerate(cases):
        p50, p99 = positive(c.latency("p50")), positive(c.latency("p99"))
        ys += [v for v in (p50, p99) if v is not None]
        lat_rows.append((i, p50, p99))
        frac = c.c("stall_fraction")
        stalls = c.c("stalls")
        if frac is not None or stalls is not None or c.generator_bound:
            text = (
                f"stalls {100 * frac:.0f}%"
                if frac is not None
                else f"stalls {stalls:.0f}"
                if stalls is not None
                else ""
            )
            text += "  ◇ generator-bound" if c.generator_bound else ""
            stall_rows.append((p99 or p50 or 1, i, text))
        seg_rows.append(
            (
                i,
                c.c("segs_out_per_req"),
                c.c("segs_in_per_req"),
                c.c("srv_segs_out_per_req"),
                c.c("srv_segs_in_per_req"),
            )
        )
    lo, hi = latency_range(ys + [STALL_US])
    hi = max(hi, 1e5)
    tics = ", ".join(f"{ticlabel(c.nagle_label)} {i}" for i, c in enumerate(cases))
    patterns = sorted({c.pattern for c in cases}, key=pattern_key)
    seg_series = [
        (2, "client out", "#1f77b4", -0.27),
        (3, "client in", "#aec7e8", -0.09),
        (4, "server out", "#ff7f0e", 0.09),
        (5, "server in", "#ffbb78", 0.27),
    ]
    seg_plots = [
        f"$seg using (${col}/2):($1+{off}):(0):(${col}):($1+{off}-0.08):($1+{off}+0.08) "
        f"with boxxyerror fs solid 0.9 noborder lc rgb '{colr}' title {quote(title)}"
        for col, title, colr, off in seg_series
    ]
    segmax = max([v for r in seg_rows for v in r[1:] if v is not None] + [1.0])
    height = max(420, 120 + 30 * n)
    body = [datablock("lat", lat_rows), datablock("seg", seg_rows)]
    if stall_rows:
        body.append(datablock("stall", stall_rows))
    stall_plot = (
        ", $stall using 1:2:3 with labels left offset 1.2,0 font ',8' notitle" if stall_rows else ""
    )
    body.append(
        f"""
{multiplot_head("TCP_NODELAY x write pattern x TCP_QUICKACK: server " + ", ".join(patterns) + ", frame protocol", 0.28, 0.66, height, 95)}set title 'latency per exchange (p50 dot, p99 triangle)'
set logscale x 10
set xrange [{lo:g}:{hi * 10:g}]
set xtics {log_latency_tics(lo, hi * 10)}
set yrange [{n - 0.5}:-0.5]
set ytics ({tics}) font ',9'
set grid xtics
set object 1 rect from {STALL_US:g}, graph 0 to graph 1, graph 1 behind fc rgb '#fbd5d5' fs solid 1.0 noborder
set label 2 'stalls: 30 ms and more' at {STALL_US * 1.1:g}, graph 0.03 left font ',9' textcolor rgb '#a02020'
set key at screen 0.66, screen {45 / height:.4f} horizontal font ',9'
{footer(run_patterns, patterns, 'this experiment runs on ' + ', '.join(patterns))}
plot $lat using 2:1:($3-$2):(0) with vectors nohead lw 2 lc rgb '#888888' notitle, \\
     $lat using 2:1 with points pt 7 ps 1.2 lc rgb '#d62728' title 'p50', \\
     $lat using 3:1 with points pt 9 ps 1.3 lc rgb '#7a0000' title 'p99'{stall_plot}
unset object 1
unset label
unset logscale x
set lmargin at screen 0.70
set rmargin at screen 0.98
set title 'segments per request (TCP_INFO)'
set xrange [0:{segmax * 1.15:g}]
set xtics auto
set format y ''
set ytics ({', '.join(f"'' {i}" for i in range(n))})
set key at screen 0.98, screen {45 / height:.4f} horizontal font ',9'
plot {', '.join(seg_plots)}
unset multiplot
"""
    )
    return Chart(name, "Nagle matrix", "".join(body), 1200, height)


def nagle_upside(name: str, cases: list[Case], run_patterns, pal) -> Chart | None:
    cases = sorted(cases, key=lambda c: (c.client_nodelay is not False, c.id))
    if not cases:
        return None
    labels = []
    for c in cases:
        labels.append(
            f"client nodelay {onoff(c.client_nodelay)}"
            + (f" ({c.write_pattern})" if c.write_pattern else "")
            + (" ◇ generator-bound" if c.generator_bound else "")
        )
    rows = [(i, c.c("segs_out_per_req"), c.c("rps"), c.latency("p50")) for i, c in enumerate(cases)]
    n = len(cases)
    tics = ", ".join(f"{ticlabel(t)} {i}" for i, t in enumerate(labels))
    patterns = sorted({c.pattern for c in cases}, key=pattern_key)
    height = max(360, 160 + 50 * n)
    seg_max = max([r[1] for r in rows if r[1] is not None] + [1.0])
    rps_max = max([r[2] for r in rows if r[2] is not None] + [1.0])
    body = [
        datablock("up", rows),
        f"""
{multiplot_head("Nagle's upside: one request sent as many small writes (server " + ", ".join(patterns) + ")", 0.22, 0.58, height, 70)}set yrange [{n - 0.5}:-0.5]
set ytics ({tics})
set grid xtics
set title 'client segments out per request'
set xrange [0:{seg_max * 1.2:g}]
set style fill solid 0.85 noborder
{footer(run_patterns, patterns, 'this experiment runs on ' + ', '.join(patterns))}
plot $up using ($2/2):1:(0):2:($1-0.3):($1+0.3) with boxxyerror lc rgb '#1f77b4' notitle, \\
     $up using 2:1:(sprintf('%.1f', $2)) with labels left offset 0.5,0 font ',9' notitle
unset label
set lmargin at screen 0.64
set rmargin at screen 0.97
set title 'throughput, requests/s'
set xrange [0:{rps_max * 1.3:g}]
set format y ''
set ytics ({', '.join(f"'' {i}" for i in range(n))})
plot $up using ($3/2):1:(0):3:($1-0.3):($1+0.3) with boxxyerror lc rgb '#2ca02c' notitle, \\
     $up using 3:1:(sprintf('%.0f', $3)) with labels left offset 0.5,0 font ',9' notitle
unset multiplot
""",
    ]
    return Chart(name, "Nagle's upside", "".join(body), 1000, height)
