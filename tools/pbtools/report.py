"""tools/report: charts and REPORT.md for one run directory.

Every number in REPORT.md is read from the run's JSON; the prose is assembled
from those numbers, and a sentence whose numbers are missing is left out rather
than written with a blank. Sections exist only for the case kinds the run has.

The sections live in report_*.py, one idea each, as classes Report mixes in:
report_run (header, Errors, Machine, All cases), report_measured (How this was
measured, Foreign load), report_matrix (throughput, spectrum, costs, threads,
spread), report_sweep (p99 vs offered load, knees), report_nagle, report_reading
(the Reading's comparisons); report_markdown holds table() and the marks. Their
methods use the report's state (run, groups, patterns, protocols) and helpers
(chart(), flag(), legend(), focus(), say()).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import sys

from . import analysis, charts, claims, gnuplot, report_scaling
from . import units as u
from .files import write_atomic
from .report_markdown import LEGEND, LOWER_BOUND, MARK_ORDER, case_marks
from .report_experiments import ExperimentSections
from .report_external import ExternalSections
from .report_kernel import KernelSections
from .report_matrix import MatrixSections
from .report_measured import MeasuredSections
from .report_nagle import NagleSections
from .report_reading import ReadingSections
from .report_run import RunSections
from .report_sweep import SweepSections
from .rundir import Case, Run, load_run, num

CHART_EXTS = (".svg", ".png", ".gp")


class Report(
    RunSections,
    MeasuredSections,
    MatrixSections,
    SweepSections,
    KernelSections,
    NagleSections,
    ReadingSections,
    ExperimentSections,
    ExternalSections,
):
    def __init__(self, run: Run, charts_dir: str, formats, focus: int | None, draw: bool):
        self.run = run
        self.charts_dir = charts_dir
        self.formats = formats
        self.focus_override = focus
        self.draw = draw
        self.patterns = run.patterns()
        self.pal = charts.Palette(self.patterns)
        self.charts: list[gnuplot.Chart] = []
        self.reading: list[str] = []
        self._used: set = set()
        self.groups = analysis.matrix_groups(run)
        self.protocols = {k[1] for k in self.groups} | {c.protocol for c in run.of_kind("sweep")}
        self.repetitions = self.repetition_count()

    def repetition_count(self) -> int:
        """Repetitions per case: run.json's "repetitions" (the harness's setting), else the
        most any case file has."""
        n = num(self.run.run.get("repetitions"))
        if n is not None and n >= 1:
            return int(n)
        return max((c.n_reps for c in self.run.cases), default=1)

    @property
    def ranged(self) -> bool:
        return self.repetitions > 1

    def flag(self, case: Case, text: str) -> str:
        """A table cell with the case's marks (errors, verdict, foreign load, bring-up);
        legend() lists the marks used since the last table."""
        if text == u.DASH:
            return text
        marks = case_marks(case)
        if text.startswith(LOWER_BOUND):
            marks.append(LOWER_BOUND)
        self._used.update(marks)
        marks = [m for m in marks if m != LOWER_BOUND]
        return f"{text} {''.join(marks)}" if marks else text

    def legend(self) -> str:
        """The legend lines for the marks the table above used (empty when none)."""
        used = [m for m in MARK_ORDER if m in self._used]
        self._used.clear()
        if not used:
            return ""
        return "\n" + "\n".join(f"- {m} {LEGEND[m]}" for m in used) + "\n"

    # --- charts ---
    def chart(self, chart: gnuplot.Chart | None) -> str:
        """Queues a chart and returns a placeholder for the markdown that embeds it;
        embed_charts() renders the queue and fills the placeholders in."""
        if chart is None:
            return ""
        self.charts.append(chart)
        return f"@@chart:{chart.name}@@"

    def embed_charts(self, text: str) -> str:
        if self.draw:
            # One gnuplot process per chart, several at once: most of the report's
            # time is gnuplot starting up and writing files.
            with concurrent.futures.ThreadPoolExecutor(
                max_workers=max(2, os.cpu_count() or 2)
            ) as pool:
                list(
                    pool.map(
                        lambda c: gnuplot.render(c, self.charts_dir, self.formats), self.charts
                    )
                )
        rel = os.path.relpath(self.charts_dir, self.run.path)
        for chart in self.charts:
            if not self.draw:
                md = ""
            elif chart.error:
                md = f"*(chart {chart.name} could not be drawn: {chart.error})*\n\n"
            else:
                main = f"{rel}/{chart.name}.{self.formats[0]}"
                links = ", ".join(
                    f"[{f.upper()}]({rel}/{chart.name}.{f})" for f in self.formats[1:]
                )
                md = f"![{chart.title}]({main})\n" + (f"<sub>{links}</sub>\n\n" if links else "\n")
            text = text.replace(f"@@chart:{chart.name}@@", md)
        return text

    def focus(self, cases) -> int | None:
        conns = {c.connections for c in cases}
        if self.focus_override is not None and self.focus_override in conns:
            return self.focus_override
        return analysis.focus_connections(cases)

    def slug(self, workload, protocol) -> str:
        return analysis.group_slug(workload, protocol, self.protocols)

    def build(self) -> str:
        body = [
            self.throughput_section(),
            self.latency_section(),
            self.sweep_section(),
            self.cost_section(),
            self.threads_section(),
            self.spread_section(),
            self.kernel_section(),
            report_scaling.section(self),
            self.nagle_section(),
            self.upside_section(),
            self.experiments_section(),
            self.external_section(),
            self.errors_section(),
        ]
        self.read_external()
        measured = self.measured_section()
        for c in self.run.cases:
            if c.bringup_incomplete:
                self.say(
                    1,
                    f"**Bring-up, {c.id}:** {self.bringup_text(c)}: the case ran with the connections "
                    "that came up, so its numbers are for fewer connections than its name says.",
                )
        head = self.header()
        reading = ["## Reading\n"]
        if self.reading:
            reading += [f"- {text}" for _, _, text in sorted(self.reading)]
        else:
            reading.append("- Not enough cases for comparisons.")
        wall = self.run.wall_seconds()
        reading.append(f"- **This run** took {u.duration(wall)} on {self.machine_line()}.")
        if not self.run.cases:
            body.insert(0, "No cases in this run directory: nothing to chart.\n")
        return self.embed_charts(
            head
            + "\n".join(reading)
            + "\n\n"
            + claims.section(self.run)
            + measured
            + "".join(s for s in body if s)
            + self.machine_section()
            + "\n"
            + self.all_cases_section()
        )


def clean_charts(charts_dir: str) -> None:
    """Removes what a previous report drew, so no stale chart survives a re-run."""
    if not os.path.isdir(charts_dir):
        return
    for f in os.listdir(charts_dir):
        if f.endswith(CHART_EXTS):
            os.unlink(os.path.join(charts_dir, f))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="report",
        description=(
            "Draws RUN_DIR/charts/ (SVG and PNG, with gnuplot) and writes RUN_DIR/REPORT.md from a "
            "patternbench run directory."
        ),
    )
    ap.add_argument("run_dir")
    ap.add_argument(
        "--focus-connections",
        type=int,
        metavar="N",
        help="connection count for the per-workload spectrum, cost and spread views "
        "(default: the middle count measured for the most patterns)",
    )
    ap.add_argument("--no-png", action="store_true", help="SVG only")
    ap.add_argument(
        "--no-charts", action="store_true", help="REPORT.md with tables only; no gnuplot"
    )
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.run_dir):
        print(f"report: {args.run_dir}: not a directory", file=sys.stderr)
        return 2
    run = load_run(args.run_dir)
    charts_dir = os.path.join(run.path, "charts")
    draw = not args.no_charts
    if draw and not gnuplot.gnuplot_path():
        print(
            "report: gnuplot not found (tools/install-deps installs gnuplot-nox); writing tables only",
            file=sys.stderr,
        )
        draw = False
    if draw:
        clean_charts(charts_dir)
    formats = ("svg",) if args.no_png else ("svg", "png")
    rep = Report(run, charts_dir, formats, args.focus_connections, draw)
    text = rep.build()
    write_atomic(os.path.join(run.path, "REPORT.md"), text)
    failed = [c for c in rep.charts if c.error]
    for w in run.warnings:
        print(f"report: warning: {w}", file=sys.stderr)
    for c in failed:
        print(f"report: chart {c.name}: {c.error}", file=sys.stderr)
    if not args.quiet:
        drawn = sum(len(c.outputs) for c in rep.charts)
        print(
            f"report: {os.path.join(run.path, 'REPORT.md')}: {len(run.cases)} cases, "
            f"{drawn} chart files in {charts_dir if draw else '(none drawn)'}"
        )
    # A chart that failed to draw (or no gnuplot at all) is a broken deliverable.
    return 1 if failed or (not draw and not args.no_charts) else 0
