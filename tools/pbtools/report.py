"""tools/report: charts and REPORT.md for one run directory.

Every number in REPORT.md is read from the run's JSON; the prose is assembled
from those numbers, and a sentence whose numbers are missing is left out rather
than written with a blank. Sections exist only for the case kinds the run has.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import math
import os
import sys

from . import analysis, charts, claims, gnuplot
from . import units as u
from .rundir import LATENCY_COUNTERS, Case, Run, dig, load_run, num, pattern_key, thread_values, workload_key

CHART_EXTS = (".svg", ".png", ".gp")


# --- markdown helpers --------------------------------------------------------------

def table(headers, rows, align=None) -> str:
    """A GitHub markdown table. align: string of 'l'/'r' per column."""
    align = align or "l" + "r" * (len(headers) - 1)
    def cell(v):
        return str(v).replace("|", "\\|").replace("\n", " ")
    out = ["| " + " | ".join(cell(h) for h in headers) + " |",
           "|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|"]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def server(pattern: str) -> str:
    """How prose names a pattern: by its binary."""
    return f"server-{pattern}" if pattern and not pattern.startswith("server-") else pattern


# Marks on table cells, the same symbols in every table; the chart point of a verdict
# has the same shape (charts.py). Each table lists the marks it used under it.
MARK_ERRORS = "⚠"
MARK_GEN_BUSY = "◇"
MARK_GEN_LATE = "△"
MARK_SATURATED = "□"
MARK_FOREIGN = "※"
MARK_BRINGUP = "◔"
LOWER_BOUND = "≥"
MARK_ORDER = [MARK_ERRORS, MARK_GEN_BUSY, MARK_GEN_LATE, MARK_SATURATED, MARK_FOREIGN, MARK_BRINGUP,
              LOWER_BOUND]
LEGEND = {
    MARK_ERRORS: "the case had errors; its numbers are not trustworthy (see [Errors](#errors))",
    MARK_GEN_BUSY: "**generator-bound**: a load-generator thread was busy for more than 90% of the window, "
                   "so the rate and latencies describe the generator as much as the server; compare server "
                   "CPU per request instead",
    MARK_GEN_LATE: "**generator late**: open loop, the generator sent its requests late (p99 send lateness "
                   "over the bound), so the server was not offered the planned rate",
    MARK_SATURATED: "**server saturated**: achieved under 99% of the offered rate while the generator sent "
                    "on time: the server's limit, a finding rather than a fault",
    MARK_FOREIGN: "**foreign load**: other work used more than 5% of a CPU during the window "
                  "(see [Foreign load](#foreign-load))",
    MARK_BRINGUP: "not every connection came up within the bring-up timeout; the case ran with those that did "
                  "(see [How this was measured](#how-this-was-measured))",
    LOWER_BOUND: "**lower bound**: the open-loop plan had requests that were never sent (overload); they count "
                 "only what they had waited when the run ended, so the real percentile is higher",
}
VERDICT_MARK = {"generator-busy": MARK_GEN_BUSY, "generator-late": MARK_GEN_LATE,
                "server-saturated": MARK_SATURATED}
VERDICT_TEXT = {"generator-busy": "generator busy", "generator-late": "generator late",
                "server-saturated": "server saturated", "ok": "ok"}


def case_marks(case: Case) -> list[str]:
    """The marks a case's cells carry, in legend order."""
    marks = []
    if case.has_errors:
        marks.append(MARK_ERRORS)
    kind = case.verdict()[0]
    if case.generator_bound or kind == "generator-busy":
        marks.append(MARK_GEN_BUSY)
    elif kind in VERDICT_MARK:
        marks.append(VERDICT_MARK[kind])
    if case.foreign_load:
        marks.append(MARK_FOREIGN)
    if case.bringup_incomplete:
        marks.append(MARK_BRINGUP)
    return marks


def lat(case: Case, key: str) -> str:
    """A latency percentile cell, median [min-max] over the repetitions ("p50", "p99",
    "p99.9"; other percentiles exist only in the repetition of record's histogram):
    "≥ 1.23 ms" when unsent requests make it a lower bound."""
    text = u.measure(u.latency, case.measure(key)) if key in LATENCY_COUNTERS else u.latency(case.latency(key))
    return f"{LOWER_BOUND} {text}" if case.latency_is_lower_bound and text != u.DASH else text


def val(case: Case, counter: str, fmt) -> str:
    """A counter cell: the median and, with repetitions, its [min-max]."""
    return u.measure(fmt, case.measure(counter))


def rate(case: Case) -> str:
    return val(case, "rps", u.compact_rate)


def said(m, fmt) -> str:
    """A number in a sentence: as in the tables, median [min-max]."""
    return u.measure(fmt, m)


# Every closed-loop latency table and chart carries this: in a closed loop each
# connection has one request in flight, so latency and throughput are two views of
# one number, and patterns compared at the same connection count run at different rates.
CLOSED_LOOP_NOTE = ("closed loop: latency = connections / throughput (Little's law); "
                    "patterns at different throughput")
ONE_REPETITION_NOTE = "one repetition per case: no ranges, differences are not tested"


def closed_loop(case: Case) -> bool:
    return not case.offered_rps and (case.loadgen or {}).get("mode") != "open"


def onoff(b) -> str:
    return u.DASH if b is None else ("on" if b else "off")


class Report:
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

    def compare_text(self, a: Case, b: Case, counter: str, fmt, higher_is_better: bool = True,
                     what: str = "") -> tuple[str, "analysis.Difference | None"]:
        """"X [..] vs Y [..] (1.4x)" or "... : no measurable difference", by THE noise rule
        (analysis.differs). a and b are named by the caller."""
        d = analysis.differs(a, b, counter)
        ta, tb = said(a.measure(counter), fmt), said(b.measure(counter), fmt)
        if d is None:
            return f"{ta} vs {tb}", None
        if not d.differ:
            return f"{ta} vs {tb}: no measurable difference" + (" (ranges overlap)" if d.tested else ""), d
        hi, lo = (b, a) if d.sign > 0 else (a, b)
        ratio = u.times(hi.measure(counter).value, lo.measure(counter).value)
        return f"{ta} vs {tb} ({u.ratio(ratio)})", d

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

    def say(self, priority: int, text: str) -> None:
        """A bullet for the Reading section; lower priority numbers come first."""
        self.reading.append((priority, len(self.reading), text))

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
            with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
                list(pool.map(lambda c: gnuplot.render(c, self.charts_dir, self.formats), self.charts))
        rel = os.path.relpath(self.charts_dir, self.run.path)
        for chart in self.charts:
            if not self.draw:
                md = ""
            elif chart.error:
                md = f"*(chart {chart.name} could not be drawn: {chart.error})*\n\n"
            else:
                main = f"{rel}/{chart.name}.{self.formats[0]}"
                links = ", ".join(f"[{f.upper()}]({rel}/{chart.name}.{f})" for f in self.formats[1:])
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

    # --- sections ---
    def header(self) -> str:
        run, si, rj = self.run, self.run.sysinfo, self.run.run
        lines = [f"# patternbench report: {run.name}\n",
                 "Generated by `tools/report` from the JSON files in this directory; every number "
                 "below is read from them. How to read each chart: "
                 "[results/README.md](../README.md).\n"]
        if not self.ranged:
            lines.append(f"> **{ONE_REPETITION_NOTE[0].upper()}{ONE_REPETITION_NOTE[1:]}.** Each number is one "
                         f"run; the Reading still orders patterns by a {100 * analysis.FALLBACK_THRESHOLD:g}% "
                         "threshold, which is not a test against the machine's noise.\n")
        else:
            lines.append(f"Every number is the **median of {self.repetitions} repetitions** with its "
                         "[min-max] range (the repetitions ran in one shuffled order, interleaved with the "
                         "other cases). The Reading calls two numbers different only when their ranges do "
                         "not overlap; otherwise it says *no measurable difference*.\n")
        facts = []
        if rj.get("profile"):
            facts.append(f"profile **{rj['profile']}**")
        wall = run.wall_seconds()
        facts.append(f"wall time **{u.duration(wall)}**")
        if rj.get("started"):
            facts.append(f"started {rj['started']}")
        lines.append("- Run: " + ", ".join(facts) + ".")
        lines.append("- Machine: " + self.machine_line() + ".")
        placement = self.placement_line()
        if placement:
            lines.append("- CPU placement: " + placement)
        kinds = [k for k in ["matrix", "sweep", "baseline", "nagle", "nagle-upside"] if run.of_kind(k)]
        lines.append(f"- {len(run.cases)} cases ({', '.join(f'{len(run.of_kind(k))} {k}' for k in kinds) or 'none'}); "
                     f"patterns: {', '.join(server(p) for p in self.patterns) or 'none'}.")
        if rj.get("command"):
            lines.append(f"- Command: `{rj['command']}`")
        # The load average is not quoted: the run's own server, generator and harness
        # threads raise it, so it cried wolf on every run. Foreign load is measured per
        # case instead (measurement.foreign).
        foreign = self.foreign_line()
        if foreign:
            lines.append(f"- Foreign load: {foreign}")
        gen = [c for c in run.cases if c.generator_bound]
        if gen:
            lines.append(f"- {len(gen)} case(s) were generator-bound ({MARK_GEN_BUSY}): their rates are not "
                         "ranked; the Reading compares server CPU per request there.")
        out = "\n".join(lines) + "\n\n"
        bad = [c for c in run.cases if c.has_errors]
        failed = [(n, e) for n, _, e in run.gbench_only if e]
        if bad or failed:
            out += (f"> **Errors:** {len(bad)} case(s) reported errors and {len(failed)} could not run; "
                    "their rows are marked ⚠ and their numbers are not trustworthy. See [Errors](#errors).\n\n")
        if run.warnings:
            out += "> **Incomplete run directory:** " + "; ".join(run.warnings) + ".\n\n"
        return out

    def machine_line(self) -> str:
        si = self.run.sysinfo
        cpu = dig(si, "cpu", "model") or dig(self.first_loadgen(), "host", "cpu_model") or "unknown CPU"
        n = dig(si, "cpu", "logical") or dig(self.first_loadgen(), "host", "cpus")
        kernel = dig(si, "kernel", "release") or dig(self.first_loadgen(), "host", "kernel")
        hz = dig(si, "kernel_hz", "value")
        mem = num(dig(si, "memory", "total_kb"))
        parts = [f"{cpu}" + (f", {n} CPUs" if n else "")]
        if mem:
            parts.append(f"{u.memory_kb(mem)} RAM")
        if kernel:
            parts.append(f"Linux {kernel}" if "linux" not in str(kernel).lower() else str(kernel))
        parts.append(f"HZ={hz}" if hz else "HZ unknown")
        host = si.get("hostname") or dig(self.first_loadgen(), "host", "hostname")
        if host:
            parts.append(f"host {host}")
        return ", ".join(parts)

    def placement_line(self) -> str:
        rj, si = self.run.run, self.run.sysinfo
        s = rj.get("server_cpus") or dig(si, "placement", "server_cpus")
        c = rj.get("client_cpus") or dig(si, "placement", "client_cpus")
        why = rj.get("placement_reason") or dig(si, "placement", "reason")
        if not (s or c or why):
            return ""
        text = f"servers on CPU(s) {s or 'any'}, load generator on CPU(s) {c or 'any'}."
        return text + (f" Why: {why}" if why else "")

    def first_loadgen(self):
        for c in self.run.cases:
            if c.loadgen:
                return c.loadgen
        return None

    def throughput_section(self) -> str:
        if not self.groups:
            return ""
        out = ["## Throughput vs connections\n",
               "Closed loop: each connection keeps one request in flight, so throughput is what the "
               "pattern can serve, unless the load generator runs out of CPU first: a generator-bound "
               f"case ({MARK_GEN_BUSY}, an open diamond in the chart) measures the generator. One line per "
               "pattern; ⚠ marks a case with errors.\n"]
        for (wl, pr), cases in self.groups.items():
            conns = sorted({c.connections for c in cases if c.connections is not None})
            out.append(f"### {wl}" + (f" ({pr})" if len(self.protocols) > 1 else "") + "\n")
            out.append(self.chart(charts.throughput(f"throughput-{self.slug(wl, pr)}", wl, pr, cases,
                                                    self.patterns, self.pal)))
            rows = []
            for (p,), cs in analysis.group(cases, "pattern").items():
                cell = {c.connections: self.flag(c, rate(c)) for c in cs}
                rows.append([p] + [cell.get(n, u.DASH) for n in conns])
            out.append(table(["pattern"] + [f"{n} conns req/s" for n in conns], rows) + self.legend())
            self.read_throughput(wl, cases)
        return "\n".join(out) + "\n"

    def read_throughput(self, wl, cases):
        f = self.focus(cases)
        at = {c.pattern: c for c in cases if c.connections == f and c.c("rps")}
        if len(at) < 2:
            return
        bound = [c for c in at.values() if c.generator_bound]
        if bound:
            self.read_generator_bound(wl, f, at, bound)
            return
        ranked = sorted(at.values(), key=lambda c: -c.c("rps"))
        best = ranked[0]
        head = f"**Throughput, {wl} at {f} connections:** "
        diffs = {c.pattern: analysis.differs(best, c, "rps") for c in ranked[1:]}
        apart = [c for c in ranked[1:] if diffs[c.pattern] and diffs[c.pattern].differ]
        same = [c for c in ranked[1:] if c not in apart]
        if not apart:
            self.say(6, head + "no measurable difference between the patterns ("
                     + ", ".join(f"{server(c.pattern)} {said(c.measure('rps'), u.compact_rate)}" for c in ranked)
                     + (" req/s: the ranges overlap)." if self.ranged else
                        f" req/s, within {100 * analysis.FALLBACK_THRESHOLD:g}%; one repetition, untested)."))
            return
        text = (head + f"{server(best.pattern)} serves the most, {said(best.measure('rps'), u.compact_rate)} "
                "req/s: " + ", ".join(f"{u.ratio(u.times(best.c('rps'), c.c('rps')))} {server(c.pattern)}'s "
                                      f"{said(c.measure('rps'), u.compact_rate)}" for c in apart))
        if same:
            text += ("; no measurable difference from " + ", ".join(
                f"{server(c.pattern)} ({said(c.measure('rps'), u.compact_rate)})" for c in same))
        self.say(6, text + ".")

    def read_generator_bound(self, wl, f, at, bound):
        """A cell where the generator was the limit: its rates rank how cheaply the
        generator drives each server, so compare what the server spent per request."""
        def busy(c):
            b = c.gen_busy()
            return f", {100 * b:.0f}% busy" if b is not None else ""
        names = ", ".join(f"{server(c.pattern)} ({said(c.measure('rps'), u.compact_rate)} req/s{busy(c)})"
                          for c in sorted(bound, key=lambda c: pattern_key(c.pattern)))
        text = (f"**Throughput, {wl} at {f} connections:** the load generator was the limit for {names}: "
                "a generator thread was busy for nearly the whole window, so these rates measure how cheaply "
                "the generator drives each server, and the patterns are not ranked on them.")
        have = sorted((c for c in at.values() if c.c("cpu_us_per_req")), key=lambda c: c.c("cpu_us_per_req"))
        if len(have) >= 2:
            parts = ", ".join(f"{server(c.pattern)} {said(c.measure('cpu_us_per_req'), u.plain)} us "
                              f"(≈ {u.rate(1e6 / c.c('cpu_us_per_req'))} req/s)" for c in have)
            text += (" Server CPU per request instead, with the rate one fully busy server CPU could give at "
                     f"that cost (1,000,000 / CPU us per request): {parts}.")
            d = analysis.differs(have[0], have[1], "cpu_us_per_req")
            if d is not None and d.differ:
                text += f" {server(have[0].pattern)} is the cheapest per request."
            else:
                text += (f" {server(have[0].pattern)} and {server(have[1].pattern)}: no measurable difference "
                         "in CPU per request.")
        self.say(6, text)

    def latency_section(self) -> str:
        if not self.groups:
            return ""
        out = ["## Latency percentile spectrum\n",
               "Each line is one case's full latency distribution, read from its HDR histogram. "
               "The x axis stretches the tail (50%, 90%, 99%, 99.9%, ... are equally spaced), so a "
               "tail that is invisible in averages takes up most of the picture. The dashed line is "
               "the loopback floor: a blocking ping-pong on one connection, measured in the same run.\n",
               f"**{CLOSED_LOOP_NOTE[0].upper()}{CLOSED_LOOP_NOTE[1:]}.** Each connection keeps one request "
               "in flight, so at N connections latency is N / throughput: a pattern that serves less has a "
               "higher latency by construction, and these tables do not compare patterns at equal load. "
               "That is what the open-loop sweeps ([p99 vs offered load](#p99-vs-offered-load)) do, and the "
               "Reading's latency claims rest on them.\n"]
        if self.ranged:
            out.append("The chart draws each pattern's *repetition of record* (the run whose req/s is the "
                       "median of its repetitions): a real distribution, not a blend. The tables give the median "
                       "and [min-max] of p50, p99 and p99.9 over the repetitions; p90, p99.99 and the maximum "
                       "exist only in the chart's run, so they are read off the chart, not tabled without a "
                       "range.\n")
        keys = ("p50", "p99", "p99.9") if self.ranged else ("p50", "p90", "p99", "p99.9", "p99.99", "max")
        for (wl, pr), cases in self.groups.items():
            f = self.focus(cases)
            sel = [c for c in cases if c.connections == f]
            base = analysis.baseline_for(self.run, pr)
            what = f"{wl}, {f} connections" + (f" ({pr})" if len(self.protocols) > 1 else "")
            closed = all(closed_loop(c) for c in sel)
            out.append(f"### {what}\n")
            out.append(self.chart(charts.spectrum(f"latency-spectrum-{self.slug(wl, pr)}", what, sel, base,
                                                  self.patterns, self.pal,
                                                  note="; ".join(x for x in (
                                                      CLOSED_LOOP_NOTE if closed else "",
                                                      "each line: the repetition with the median req/s"
                                                      if self.ranged else "") if x))))
            if closed:
                out.append(f"*{CLOSED_LOOP_NOTE}.*\n")
            rows = []
            for c in sorted(sel, key=lambda c: pattern_key(c.pattern)):
                rows.append([c.pattern] + [self.flag(c, lat(c, k)) for k in keys] + [self.flag(c, rate(c))])
                if c.latency_is_lower_bound:
                    self._used.add(LOWER_BOUND)
            if base is not None:
                rows.append([f"loopback baseline ({base.pattern})"] + [lat(base, k) for k in keys] + [rate(base)])
            out.append(table(["pattern", *keys, "req/s"], rows) + self.legend())
            conns = sorted({c.connections for c in cases if c.connections is not None})
            if len(conns) > 1:
                out.append(f"p99 at every connection count ({wl}"
                           + (f"; {CLOSED_LOOP_NOTE}" if closed else "") + "):\n")
                rows = []
                for (p,), cs in analysis.group(cases, "pattern").items():
                    cell = {c.connections: self.flag(c, lat(c, "p99")) for c in cs}
                    rows.append([p] + [cell.get(n, u.DASH) for n in conns])
                out.append(table(["pattern"] + [f"{n} conns p99" for n in conns], rows) + self.legend())
            self.read_latency(wl, f, sel, base)
        return "\n".join(out) + "\n"

    def sweep_cases(self, workload: str, protocol: str | None = None) -> list[Case]:
        return [c for c in self.run.of_kind("sweep") if c.workload == workload
                and (protocol is None or c.protocol == protocol)]

    def at_equal_load(self, workload: str, protocol: str, a_pattern: str, b_pattern: str):
        """(rate, case a, case b, text) from the workload's open-loop sweep: both patterns'
        p99 at the same offered rate, by the noise rule; None without a usable pair."""
        sw = self.sweep_cases(workload, protocol)
        ca = [c for c in sw if c.pattern == a_pattern]
        cb = [c for c in sw if c.pattern == b_pattern]
        r = analysis.equal_load_rate(ca, cb)
        if r is None:
            return None
        a = next(c for c in ca if c.offered_rps == r)
        b = next(c for c in cb if c.offered_rps == r)
        text, d = self.compare_text(a, b, "p99", u.latency)
        return r, a, b, text, d

    def read_latency(self, wl, f, sel, base):
        # A busy generator reads replies late: its latencies are partly its own.
        left_out = [c for c in sel if c.latency("p99") is not None and c.generator_bound]
        have = [c for c in sel if c.latency("p99") is not None and not c.generator_bound]
        if len(have) < 2:
            return
        aside = (f" ({', '.join(server(c.pattern) for c in left_out)} left out: generator-bound)"
                 if left_out else "")
        by_p99 = sorted(have, key=lambda c: c.latency("p99"))
        best, worst = by_p99[0], by_p99[-1]
        closed = all(closed_loop(c) for c in sel)
        label = "closed loop, patterns at different throughput" if closed else "open loop"
        single = next((c for c in have if c.pattern == "single"), None)
        if single is not None and wl == "blocking-tail":
            self.read_head_of_line(single, by_p99, f, aside, label)
            return
        d = analysis.differs(best, worst, "p99")
        if d is not None and not d.differ:
            text = (f"**p99, {wl} at {f} connections ({label}):** no measurable difference between "
                    f"{server(best.pattern)} {said(best.measure('p99'), u.latency)} and {server(worst.pattern)} "
                    f"{said(worst.measure('p99'), u.latency)}")
        else:
            text = (f"**p99, {wl} at {f} connections ({label}):** lowest {server(best.pattern)} "
                    f"{said(best.measure('p99'), u.latency)}, highest {server(worst.pattern)} "
                    f"{said(worst.measure('p99'), u.latency)} "
                    f"({u.ratio(u.times(worst.latency('p99'), best.latency('p99')))})")
        text += aside.replace(' (', '; ').replace(')', '') + "."
        if closed:
            swept = {c.pattern for c in self.sweep_cases(wl, best.protocol)}
            pair = [c for c in by_p99 + left_out if c.pattern in swept]
            eq = (self.at_equal_load(wl, best.protocol, pair[0].pattern, pair[-1].pattern)
                  if len(pair) >= 2 else None)
            if eq:
                r, a, b, cmp_text, _ = eq
                text += (f" At equal load (open loop, {u.rate(r)} req/s offered to each): "
                         f"{server(a.pattern)} vs {server(b.pattern)} p99 {cmp_text}.")
            else:
                text += f" No {wl} sweep has both patterns, so this is not a comparison at equal load."
        self.say(7, text)
        if base is not None and base.latency("p50") and wl in ("tiny",) and best.latency("p50"):
            one = [c for c in self.groups.get((wl, best.protocol), []) if c.connections == 1 and c.latency("p50")
                   and not c.generator_bound]
            if one:
                fastest = min(one, key=lambda c: c.latency("p50"))
                self.say(
                    8, f"**Loopback floor:** the blocking ping-pong baseline has p50 "
                    f"{said(base.measure('p50'), u.latency)} and p99 {said(base.measure('p99'), u.latency)}; at 1 "
                    f"connection the fastest pattern, {server(fastest.pattern)}, adds "
                    f"{u.latency(max(0.0, fastest.latency('p50') - base.latency('p50')))} "
                    f"to the p50 ({said(fastest.measure('p50'), u.latency)}).")

    HOW_ISOLATED = {
        "thread-per-conn": "a connection's sleep blocks only its own thread",
        "worker-queue": "the sleep runs on a worker while the I/O loop keeps serving",
        "reactor-pool": "a sleep stalls one loop of several, and only the connections on it",
        "reuseport": "a sleep stalls one loop of several, and only the connections on it",
        "multi-accept": "a sleep stalls one loop of several, and only the connections on it",
    }

    def read_head_of_line(self, single: Case, by_p99, f, aside, label):
        """blocking-tail: does a sleeping request delay everyone on server-single? Claimed
        from the open-loop sweep, pattern against pattern at the same offered rate, by
        the noise rule; the closed-loop figures follow, labelled."""
        others = [c for c in by_p99 if c is not single]
        closed = ", ".join(f"{said(c.measure('p99'), u.latency)} for {c.pattern} "
                           f"({u.ratio(u.times(single.latency('p99'), c.latency('p99')))})" for c in others)
        closed_text = (f"{label}, {f} connections: server-single's p99 is {said(single.measure('p99'), u.latency)} "
                       f"vs {closed}{aside}")
        sweep = self.sweep_cases("blocking-tail", single.protocol)
        pairs = []
        for c in others:
            eq = self.at_equal_load("blocking-tail", single.protocol, "single", c.pattern)
            if eq:
                pairs.append((c.pattern, eq))
        if not pairs:
            why = ("no blocking-tail sweep in this run" if not sweep
                   else "the blocking-tail sweep has no rate both patterns ran without the generator limiting")
            self.say(0, f"**Blocking tail ({closed_text}).** Not compared at equal load ({why}): in a closed "
                        "loop the slower pattern has the higher latency by construction, so this is no evidence "
                        "of head-of-line blocking on its own.")
            return
        by_rate: dict = {}
        higher = []
        for p, (r, a, b, _, d) in pairs:
            if d is not None and d.differ:
                how = f"{u.ratio(u.times(max(a.c('p99_us'), b.c('p99_us')), min(a.c('p99_us'), b.c('p99_us'))))} " \
                      + ("lower" if d.sign < 0 else "higher")
            else:
                how = "no measurable difference" + (", ranges overlap" if d is not None and d.tested else "")
            by_rate.setdefault(r, (a, []))[1].append(f"server-{p} {said(b.measure('p99'), u.latency)} ({how})")
            if d is not None and d.differ and d.sign < 0:   # single (a) above the other (b)
                higher.append(p)
        parts = [f"at {u.rate(r)} req/s offered to each, server-single {said(a.measure('p99'), u.latency)} vs "
                 + ", ".join(others_text) for r, (a, others_text) in sorted(by_rate.items(), key=lambda kv: -kv[0])]
        text = "**Head-of-line blocking (blocking-tail, open loop, p99 at equal offered load):** " + "; ".join(parts) + "."
        if higher:
            how = self.HOW_ISOLATED.get(higher[0])
            text += (" Each slow request sleeps on the only event loop, and every other connection's reply "
                     "waits behind it" + (f"; in server-{higher[0]} {how}." if how else "."))
        else:
            text += (" No pattern's p99 is measurably below server-single's at the same rate: this run does not "
                     "show head-of-line blocking beyond the noise.")
        text += f" ({closed_text[0].upper()}{closed_text[1:]}.)"
        self.say(0, text)

    def verdict_cell(self, c: Case) -> str:
        """The sweep table's verdict: the kind, with "(k of n)" when the repetitions disagree."""
        counts = c.verdict_counts()
        parts = []
        for kind, k in counts.items():
            mark = VERDICT_MARK.get(kind)
            if mark:
                self._used.add(mark)
            part = (f"{mark} " if mark else "") + VERDICT_TEXT[kind]
            if len(counts) > 1:
                part += f" ({k} of {c.n_reps})"
            parts.append(part)
        return ", ".join(parts)

    @staticmethod
    def knee_definition(objective_us: float) -> str:
        return (f"**Knee** (circled): the highest offered rate at which the pattern meets this workload's latency "
                f"objective: **p99 ≤ {u.latency(objective_us)}** (the median over the repetitions), achieved ≥ "
                f"{100 * analysis.KNEE_ACHIEVED_FRACTION:g}% of offered, and no repetition generator-late or "
                "generator-busy (those points describe the generator). Every point is judged on its own against "
                "this fixed bound, so a noisy point moves nothing but itself. `+` after a knee: no higher rate "
                "was measured failing (none tried, or only generator-limited ones), so the real knee may be "
                "higher. The dashed line is the objective; bars are each point's [min-max] p99 over the "
                "repetitions.")

    def sweep_section(self) -> str:
        sweeps = self.run.of_kind("sweep")
        if not sweeps:
            return ""
        out = ["## p99 vs offered load\n",
               "Open loop: requests are sent on a fixed schedule whatever the server does, and latency "
               "counts from the scheduled send time (coordinated-omission corrected), so every pattern is "
               "compared at the same offered rate: **this is where latency is compared at equal load**. "
               "One chart per workload. Each point has a verdict, with its own mark in the table and the "
               f"chart: {MARK_SATURATED} server saturated (the server's limit: achieved < 99% of offered while "
               f"the sends were on time), {MARK_GEN_LATE} generator late (p99 send lateness over the bound) and "
               f"{MARK_GEN_BUSY} generator busy (a generator thread > 90% busy); the last two describe the "
               "generator, not the server.\n"]
        for (wl, pr), cases in analysis.group(sweeps, "workload", "protocol").items():
            objective = analysis.knee_objective_us(wl)
            knees = analysis.sweep_knees(cases, wl)
            conns = sorted({c.connections for c in cases if c.connections})
            out.append(f"### {wl}" + (f" ({pr})" if len(self.protocols) > 1 else "") + "\n")
            out.append(self.chart(charts.sweep(f"p99-vs-load-{self.slug(wl, pr)}", wl, pr, cases, knees,
                                               self.patterns, self.pal)))
            out.append(self.knee_definition(objective)
                       + (f" {u.count(conns[0])} connections." if len(conns) == 1 else "") + "\n")
            rows = []
            for p, k in knees.items():
                fail = next((pt for pt in k.points if k.rate is None or pt.rate > k.rate), None)
                first_fail = next((pt for pt in k.points if (k.rate is None or pt.rate > k.rate)
                                   and not pt.generator), None)
                if k.rate is None:
                    above = (f"no rate met it (lowest {u.rate(k.points[0].rate)} req/s: p99 "
                             f"{u.latency(k.points[0].p99)})" if k.points else u.DASH)
                elif first_fail is not None:
                    above = f"{u.rate(first_fail.rate)} req/s: " + self.why_fails(first_fail, objective)
                elif fail is not None:
                    above = "only generator-limited rates above: " + ", ".join(
                        u.rate(pt.rate) for pt in k.above)
                else:
                    above = "highest rate tried"
                knee_case = next((pt.case for pt in k.points if pt.rate == k.rate), None)
                rows.append([p, u.latency(objective),
                             (u.rate(k.rate) + ("+" if k.lower_bound else "")) if k.rate else "none",
                             lat(knee_case, "p99") if knee_case else u.DASH, above])
            out.append(table(["pattern", "objective p99", "knee req/s", "p99 at knee", "above the knee"], rows,
                             "lrrrl"))
            rows = []
            for (p,), cs in analysis.group(cases, "pattern").items():
                k = knees.get(p)
                for c in sorted(cs, key=lambda c: c.offered_rps or 0):
                    kind, reason = c.verdict()
                    note = []
                    if k and k.rate is not None and c.offered_rps == k.rate:
                        note.append("knee" + ("+" if k.lower_bound else ""))
                    if reason and kind != "ok":
                        note.append(reason)
                    if (c.unsent or 0) > 0:
                        note.append(f"{u.count(c.unsent)} planned requests never sent")
                    if c.has_errors:
                        note.append(f"{c.c('errors'):.0f} errors")
                    if c.foreign_load:
                        note.append("foreign load")
                    pt = analysis.SweepPoint(c.offered_rps, c.latency("p99"), c.c("rps"), c.generator_limited)
                    rows.append([p, u.rate(c.offered_rps), self.flag(c, rate(c)), lat(c, "p50"),
                                 lat(c, "p99"), lat(c, "p99.9"), self.verdict_cell(c),
                                 "yes" if pt.meets(objective) else "no", "; ".join(note)])
                    if c.latency_is_lower_bound:
                        self._used.add(LOWER_BOUND)
            out.append(table(["pattern", "offered req/s", "achieved req/s", "p50", "p99", "p99.9", "verdict",
                              "meets objective", "note"], rows, "lrrrrrlll") + self.legend())
            self.read_sweep(wl, knees, objective)
        return "\n".join(out) + "\n"

    @staticmethod
    def why_fails(pt, objective: float) -> str:
        why = []
        if pt.p99 is None:
            why.append("no p99")
        elif pt.p99 > objective:
            why.append(f"p99 {u.latency(pt.p99)}")
        if pt.achieved is not None and pt.achieved < analysis.KNEE_ACHIEVED_FRACTION * pt.rate:
            why.append(f"achieved {100 * pt.achieved / pt.rate:.1f}% of offered")
        return ", ".join(why) or "fails"

    def read_sweep(self, wl, knees, objective):
        ks = sorted((k for k in knees.values() if k.rate is not None), key=lambda k: -k.rate)
        none = [k for k in knees.values() if k.rate is None and k.points]
        if not ks and not none:
            return
        parts = []
        for k in ks:
            t = f"{server(k.pattern)} {u.rate(k.rate)}{'+' if k.lower_bound else ''} req/s"
            if k.lower_bound and k.above:
                kinds: dict = {}
                for pt in k.above:
                    for kind in pt.case.verdict_counts() if pt.case else {}:
                        if kind in ("generator-late", "generator-busy"):
                            kinds.setdefault(kind, []).append(u.rate(pt.rate))
                what = " and ".join(f"{VERDICT_TEXT[kind]} at {', '.join(r)} req/s" for kind, r in kinds.items())
                t += f" ({what}: the generator, not the server, stopped the sweep)" if what else ""
            elif k.lower_bound:
                t += " (the highest rate tried)"
            parts.append(t)
        for k in none:
            lowest = k.points[0]
            parts.append(f"{server(k.pattern)} none (p99 {u.latency(lowest.p99)} already at "
                         f"{u.rate(lowest.rate)} req/s)")
        text = f"**Knees, {wl} open loop (p99 ≤ {u.latency(objective)}):** " + "; ".join(parts) + "."
        same = [k for k in ks if k.rate == ks[0].rate] if ks else []
        if len(same) > 1 and len(same) == len(ks):
            text += " The knees are at the same offered rate: the sweep's steps do not separate them."
        self.say(3, text)

    def cost_section(self) -> str:
        if not self.groups:
            return ""
        cats = []
        for (wl, pr), cases in self.groups.items():
            f = self.focus(cases)
            label = f"{wl}\n{f} conns" + (f" {pr}" if len(self.protocols) > 1 else "")
            cats.append((label, {c.pattern: c for c in cases if c.connections == f}))

        def getter(counter):
            return lambda k, p: k[p].measure(counter) if p in k else None

        def bound(k, p):
            return p in k and k[p].generator_bound
        out = ["## Server cost per request\n",
               "Server CPU time (user + system, from /proc) and context switches, divided by the "
               "requests served, at each workload's middle connection count. Voluntary switches are "
               "a thread blocking (a read with nothing to read, a sleep); involuntary ones are the "
               "scheduler taking the CPU away.\n",
               self.chart(charts.cost_bars("cpu-per-request", "Server CPU time per request (us)",
                                           [("CPU us per request", getter("cpu_us_per_req"))], cats,
                                           self.patterns, self.pal, bound)),
               self.chart(charts.cost_bars("ctxsw-per-request", "Server context switches per request",
                                           [("voluntary per request", getter("vcsw_per_req")),
                                            ("involuntary per request", getter("ivcsw_per_req"))],
                                           cats, self.patterns, self.pal, bound))]
        rows = []
        for label, by_p in cats:
            for p in sorted(by_p, key=pattern_key):
                c = by_p[p]
                rows.append([label.replace("\n", ", "), p, self.flag(c, val(c, "cpu_us_per_req", u.plain)),
                             val(c, "vcsw_per_req", u.plain), val(c, "ivcsw_per_req", u.plain),
                             val(c, "peak_threads", u.count), val(c, "peak_rss_kb", u.memory_kb)])
        out.append(table(["workload", "pattern", "CPU us/req", "vol. cs/req", "invol. cs/req",
                          "peak threads", "peak RSS"], rows, "llrrrrr") + self.legend())
        for label, by_p in cats:
            have = [c for c in by_p.values() if c.c("cpu_us_per_req")]
            if len(have) >= 2:
                lo = min(have, key=lambda c: c.c("cpu_us_per_req"))
                hi = max(have, key=lambda c: c.c("cpu_us_per_req"))
                if hi is not lo:
                    where = label.replace(chr(10), ' at ')
                    text, d = self.compare_text(hi, lo, "cpu_us_per_req", u.plain)
                    if d is not None and not d.differ:
                        self.say(9, f"**CPU per request, {where}:** {server(hi.pattern)} vs {server(lo.pattern)} "
                                    f"{text} us.")
                        break
                    self.say(
                        9, f"**CPU per request, {where}:** cheapest {server(lo.pattern)} "
                        f"{said(lo.measure('cpu_us_per_req'), u.plain)} us, dearest {server(hi.pattern)} "
                        f"{said(hi.measure('cpu_us_per_req'), u.plain)} us "
                        f"({u.ratio(u.times(hi.c('cpu_us_per_req'), lo.c('cpu_us_per_req')))})"
                        + (f"; {server(hi.pattern)} also switches context {u.plain(hi.c('vcsw_per_req'))} times per "
                           "request voluntarily (a thread that blocks on every read)"
                           if (hi.c("vcsw_per_req") or 0) >= 0.5 else "") + ".")
                    break  # one workload is enough for the reading; the table has the rest
        return "\n".join(out) + "\n"

    def threads_section(self) -> str:
        idle = [(k, cs) for k, cs in self.groups.items() if k[0] == "idle-heavy"]
        if not idle:
            return ""
        out = ["## Threads and memory with many idle connections\n",
               "The idle-heavy workload holds many connections open and sends on few of them: what "
               "each pattern pays for a connection that does nothing.\n"]
        for (wl, pr), cases in idle:
            rows = []
            for c in sorted(cases, key=lambda c: (pattern_key(c.pattern), c.connections or 0)):
                rows.append([c.pattern, u.count(c.connections), self.flag(c, val(c, "peak_threads", u.count)),
                             val(c, "peak_rss_kb", u.memory_kb), rate(c), lat(c, "p99")])
                if c.latency_is_lower_bound:
                    self._used.add(LOWER_BOUND)
            out.append(table(["pattern", "connections", "peak threads", "peak RSS", "req/s", "p99"], rows)
                       + self.legend())
            if all(closed_loop(c) for c in cases):
                out.append(f"*p99: {CLOSED_LOOP_NOTE}.*\n")
            top = max(cases, key=lambda c: (c.connections or 0))
            f = top.connections
            at = {c.pattern: c for c in cases if c.connections == f}
            tpc = at.get("thread-per-conn")
            rest = [c for p, c in at.items() if p != "thread-per-conn" and c.c("peak_rss_kb")]
            if tpc and tpc.c("peak_threads") is not None:
                text = (f"**Idle-heavy, {f} connections:** {server('thread-per-conn')} held "
                        f"{said(tpc.measure('peak_threads'), u.count)} threads and "
                        f"{said(tpc.measure('peak_rss_kb'), u.memory_kb)} RSS")
                if rest:
                    lean = min(rest, key=lambda c: c.c("peak_rss_kb"))
                    d = analysis.differs(lean, tpc, "peak_rss_kb")
                    text += (f"; {server(lean.pattern)} served the same connections with "
                             f"{said(lean.measure('peak_threads'), u.count)} thread(s) and "
                             f"{said(lean.measure('peak_rss_kb'), u.memory_kb)}"
                             + (f" ({u.ratio(u.times(tpc.c('peak_rss_kb'), lean.c('peak_rss_kb')))} less memory)"
                                if d is None or d.differ else " (no measurable difference in memory)"))
                text += ". Every connection costs a thread: its stack, its kernel task, and a context switch each time it wakes."
                self.say(1, text)
        return "\n".join(out) + "\n"

    def spread_section(self) -> str:
        if not self.groups:
            return ""
        out = ["## Load spread across threads\n",
               "Per-thread requests (top) and accepted connections (bottom) divided by the mean over "
               "the threads that do that work, so 1.0 is a perfectly even share. Jain's index is 1 "
               "when all threads do the same work and 1/n when one thread does all of it; max/min is "
               "the busiest thread over the idlest.\n"]
        rows = []
        for (wl, pr), cases in self.groups.items():
            f = self.focus(cases)
            sel = [c for c in cases if c.connections == f]
            what = f"{wl}, {f} connections" + (f" ({pr})" if len(self.protocols) > 1 else "")
            out.append(self.chart(charts.spread(f"spread-{self.slug(wl, pr)}", what, sel, self.patterns, self.pal)))
            for c in sorted(sel, key=lambda c: pattern_key(c.pattern)):
                def cell(counter, fmt):
                    v, na = c.fairness(counter)
                    if na:
                        return "n/a"
                    m = c.measure(counter)
                    return u.measure(fmt, m) if m is not None and m.value == v else fmt(v)
                rows.append([f"{wl}, {f} conns", c.pattern,
                             self.flag(c, u.count(len(c.threads()) or None)) if c.threads() else u.DASH,
                             c.threads_source() or u.DASH,
                             cell("jain_requests", u.index), cell("maxmin_requests", u.plain),
                             cell("jain_accepts", u.index), cell("maxmin_accepts", u.plain)])
        out.append(table(["workload", "pattern", "threads", "counted over", "Jain requests", "max/min requests",
                          "Jain accepts", "max/min accepts"], rows, "llrlrrrr") + self.legend())
        out.append("n/a: fewer than two threads do that work, where an index is 1 by construction. \"window\": "
                   "the measured window's per-thread deltas (server snapshots); \"lifetime\": the server's "
                   "whole life, warm-up and connection bring-up included. Keep-alive connections are all "
                   "accepted during bring-up, before the window, so over the window only connection churn has "
                   "accepts to share.\n")
        self.read_fairness()
        return "\n".join(out) + "\n"

    def read_fairness(self):
        why = {
            "reuseport": "the kernel hashes each connection to one listener: even on average, lumpy in "
                         "small numbers, and blind to how busy each loop is",
            "multi-accept": "EPOLLEXCLUSIVE wakes one waiting loop, in practice the one that waited "
                            "last, so accepts crowd onto few threads",
            "reactor-pool": "the acceptor hands connections out round-robin",
            "worker-queue": "workers take requests from one queue, so work goes to whoever is free",
        }
        parts, even = [], []
        for p in self.patterns:
            cs = [c for c in self.run.of_kind("matrix") if c.pattern == p and len(c.threads()) > 1]
            js = [(c.fairness("jain_accepts")[0], c) for c in cs if c.fairness("jain_accepts")[0] is not None
                  and (c.connections or 0) > 1 and len(thread_values(c.threads(), "accepted")) > 1]
            jr = [(c.fairness("jain_requests")[0], c) for c in cs if c.fairness("jain_requests")[0] is not None
                  and (c.connections or 0) > 1]
            if not js and not jr:
                continue
            if min(j for j, _ in js + jr) >= 0.99:
                even.append(server(p))
                continue
            text = f"{server(p)}"
            if jr:
                j, c = min(jr, key=lambda t: t[0])
                text += f" requests Jain {u.index(j)} at worst ({c.workload}, {c.connections} conns)"
            if js:
                j, c = min(js, key=lambda t: t[0])
                text += (f"{',' if jr else ''} accepts Jain {u.index(j)}"
                         f" (max/min {u.plain(c.fairness('maxmin_accepts')[0])}, {c.workload}, {c.connections} conns)")
            if p in why:
                text += f": {why[p]}"
            parts.append(text)
        if even:
            parts.append(f"{', '.join(even)} stayed at Jain 0.99 or above in every case")
        if parts:
            self.say(2, "**Fairness:** " + "; ".join(parts) + ".")

    def nagle_section(self) -> str:
        cases = sorted(self.run.of_kind("nagle"), key=charts.nagle_order)
        if not cases:
            return ""
        out = ["## TCP_NODELAY, write patterns and delayed ACK\n",
               "Each row is one combination of client TCP_NODELAY, server TCP_NODELAY, how the client "
               "writes a request (one write; split: header and body in two writes; writev; cork/MSG_MORE) "
               "and TCP_QUICKACK. Left: p50 and p99 per exchange on a log scale, the shaded band is "
               "30 ms and more (a stall). Right: TCP segments per request from TCP_INFO, both sides.\n",
               self.chart(charts.nagle("nagle", cases, self.patterns, self.pal))]
        rows = []
        for c in cases:
            rows.append([onoff(c.client_nodelay), onoff(c.server_nodelay), c.write_pattern or u.DASH,
                         onoff(c.quickack), self.flag(c, lat(c, "p50")), lat(c, "p99"),
                         val(c, "stalls", u.count), val(c, "stall_fraction", u.percent),
                         val(c, "segs_out_per_req", u.plain), val(c, "segs_in_per_req", u.plain),
                         val(c, "srv_segs_out_per_req", u.plain), val(c, "srv_segs_in_per_req", u.plain),
                         rate(c)])
        out.append(table(["client nodelay", "server nodelay", "writes", "quickack", "p50", "p99",
                          "stalls ≥30 ms", "stalled", "client segs out/req", "client segs in/req",
                          "server segs out/req", "server segs in/req", "req/s"], rows, "llllrrrrrrrrr")
                   + self.legend())
        if all(closed_loop(c) for c in cases):
            out.append(f"*p50, p99: {CLOSED_LOOP_NOTE} (here: configurations of one pattern).*\n")
        out.append("### What the numbers say\n")
        out.append(self.nagle_explanation(cases))
        return "\n".join(out) + "\n"

    def nagle_explanation(self, cases) -> str:
        def stalled(c):
            f = c.c("stall_fraction")
            return (f is not None and f >= 0.5) or (f is None and (c.latency("p50") or 0) >= 30_000)

        def clean(c):
            f = c.c("stall_fraction")
            return (f is None or f < 0.05) and c.latency("p50") is not None and c.latency("p50") < 30_000

        def median_of(cs, fn):
            vs = sorted(v for v in (fn(c) for c in cs) if v is not None)
            return vs[len(vs) // 2] if vs else None

        hz = num(dig(self.run.sysinfo, "kernel_hz", "value"))
        tick_ms = 1000.0 / hz if hz else None
        paras = []
        split_nagle = [c for c in cases if c.write_pattern == "split" and c.client_nodelay is False]
        stalls = [c for c in cases if stalled(c)]
        if split_nagle:
            st = [c for c in split_nagle if stalled(c)]
            p50 = median_of(st or split_nagle, lambda c: c.latency("p50"))
            frac = median_of(st or split_nagle, lambda c: c.c("stall_fraction"))
            text = (f"**Split writes with Nagle on** (client TCP_NODELAY off, {len(split_nagle)} case(s)): "
                    f"median p50 {u.latency(p50)}, {u.percent(frac)} of exchanges stalled. ")
            if st:
                text += (f"The client writes {self.split_sizes(st[0])}: the first write leaves at once (nothing "
                         "is in flight), the second is held by Nagle, because a small segment may not be sent "
                         "while earlier data is unacknowledged. The server has half a request, so it has no reply "
                         "to carry an ACK; it delays the ACK until its delayed-ACK timer fires. Linux's "
                         "minimum delayed-ACK timeout is 40 ms (TCP_DELACK_MIN, HZ/25 jiffies) and the timer "
                         "runs on the kernel tick")
                if tick_ms:
                    text += (f": with HZ={hz:.0f} a tick is {tick_ms:g} ms, so an exchange should take "
                             f"40 to {40 + tick_ms:g} ms, and the measured p50 is {u.latency(p50)}.")
                else:
                    text += f" (this machine's HZ is unknown), and the measured p50 is {u.latency(p50)}."
            else:
                text += ("These cases did not stall here: the kernel's quick-ACK mode (a fresh or "
                         "recently idle connection ACKs at once) can hide the effect in short runs.")
            paras.append(text)
        fixes = []
        for label, sel in [("client TCP_NODELAY on, split writes",
                            lambda c: c.write_pattern == "split" and c.client_nodelay is True),
                           ("writev", lambda c: c.write_pattern == "writev"),
                           ("cork / MSG_MORE", lambda c: c.write_pattern == "cork"),
                           ("one write", lambda c: c.write_pattern == "single")]:
            cs = [c for c in cases if sel(c)]
            if cs:
                n_clean = sum(1 for c in cs if clean(c))
                fixes.append(f"{label}: median p50 {u.latency(median_of(cs, lambda c: c.latency('p50')))}, "
                             f"{n_clean} of {len(cs)} case(s) without stalls, "
                             f"{u.plain(median_of(cs, lambda c: c.c('segs_out_per_req')))} client segments out per request")
        if fixes:
            paras.append("**What avoids it:** " + "; ".join(fixes) + ". TCP_NODELAY sends the body at once "
                         "instead of waiting for the ACK. writev hands header and body to the kernel in one call "
                         "and cork (MSG_MORE) holds the header until the body joins it: either way the whole "
                         "request leaves as one segment and nothing is left waiting for an ACK.")
        seg_stall = median_of(stalls, lambda c: c.c("segs_in_per_req"))
        seg_clean = median_of([c for c in cases if clean(c) and c.write_pattern in ("writev", "cork", "single")],
                              lambda c: c.c("segs_in_per_req"))
        if seg_stall is not None and seg_clean is not None:
            paras.append(f"**Segments:** stalled exchanges bring the client {u.plain(seg_stall)} segments per "
                         f"request (the server's lone delayed ACK, then the reply) against {u.plain(seg_clean)} "
                         "when the request leaves whole and the reply carries the ACK.")
        # TCP_QUICKACK: pair each quickack-on case with its quickack-off twin.
        pairs = []
        for c in cases:
            if c.quickack:
                twin = next((d for d in cases if d.quickack is False and d.client_nodelay == c.client_nodelay
                             and d.server_nodelay == c.server_nodelay and d.write_pattern == c.write_pattern), None)
                if twin:
                    pairs.append((twin, c))
        hit = [(off, on) for off, on in pairs if stalled(off)]
        if hit:
            off, on = hit[0]
            f_off, f_on = off.c("stall_fraction"), on.c("stall_fraction")
            text = (f"**TCP_QUICKACK** ({off.write_pattern} writes, client nodelay {onoff(off.client_nodelay)}): "
                    f"stalled {u.percent(f_off)} → {u.percent(f_on)}, p50 {u.latency(off.latency('p50'))} → "
                    f"{u.latency(on.latency('p50'))}. ")
            if f_off is not None and f_on is not None and f_on < 0.5 * f_off:
                text += ("Quick ACKs removed most stalls: the ACK that releases the held body is sent at once "
                         "instead of after the delayed-ACK timer.")
            else:
                text += ("It changes little: TCP_QUICKACK makes the socket it is set on ACK at once, but the ACK "
                         "the stalled client waits for is the server's, and the option is not sticky (the kernel "
                         "returns to delayed ACKs, so it must be set again after every read). Setting it on the "
                         "receiving side of the split request, or not splitting, is the cure.")
            paras.append(text)
        elif pairs:
            paras.append("**TCP_QUICKACK:** no case stalled without it, so it had nothing to change here.")
        srv = [(a, b) for a in cases for b in cases if a.server_nodelay is True and b.server_nodelay is False
               and a.client_nodelay == b.client_nodelay and a.write_pattern == b.write_pattern
               and a.quickack == b.quickack]
        # The telling pair is the stalling configuration: does server nodelay rescue it?
        srv.sort(key=lambda ab: not stalled(ab[0]))
        if srv:
            a, b = srv[0]
            text = (f"**Server TCP_NODELAY** ({a.write_pattern} writes, client nodelay {onoff(a.client_nodelay)}): "
                    f"p50 {u.latency(a.latency('p50'))} with it on, {u.latency(b.latency('p50'))} off. ")
            ratio = u.times(max(a.latency("p50") or 0, b.latency("p50") or 0),
                            min(a.latency("p50") or 0, b.latency("p50") or 0))
            if ratio is not None and ratio < 1.5:
                text += ("The server's setting does not matter here: it answers with one write, and Nagle never "
                         "holds a write when nothing is unacknowledged. It would if replies left in pieces.")
            else:
                text += ("The server's setting matters here, so its replies leave in more than one write and "
                         "Nagle holds the later ones.")
            paras.append(text)
        if stalls:
            worst = max(stalls, key=lambda c: c.latency("p50") or 0)
            best = min((c for c in cases if clean(c)), key=lambda c: c.latency("p50") or math.inf, default=None)
            if best is not None and best.latency("p50"):
                self.say(
                    4, f"**Nagle:** {len(stalls)} of {len(cases)} Nagle cases stalled; the worst "
                    f"({worst.nagle_label}) has p50 {u.latency(worst.latency('p50'))}, "
                    f"{u.ratio(u.times(worst.latency('p50'), best.latency('p50')))} the best "
                    f"({best.nagle_label}, {u.latency(best.latency('p50'))}): a delayed ACK per exchange.")
        return "\n\n".join(paras) + "\n" if paras else "No Nagle case has the numbers needed for a reading.\n"

    @staticmethod
    def split_sizes(case: Case) -> str:
        """"a 10-byte and then a 100-byte piece", from the loadgen config when it has it."""
        cfg = dig(case.loadgen, "config") or {}
        at, body = num(cfg.get("split_at")), num(cfg.get("request_size"))
        if at and body is not None and (cfg.get("protocol") or "frame") == "frame":
            total = 32 + body  # the frame header is 32 bytes
            if 0 < at < total:
                return f"each request in two pieces, {at:.0f} bytes and then {total - at:.0f} bytes"
        return "each request in two pieces (header, then body)"

    def upside_section(self) -> str:
        cases = sorted(self.run.of_kind("nagle-upside"), key=lambda c: (c.client_nodelay is not False, c.id))
        if not cases:
            return ""
        out = ["## Nagle's upside: many small writes\n",
               "One request written as many small writes. With TCP_NODELAY each write can become its own "
               "segment; with Nagle the kernel coalesces what was written while an ACK is outstanding.\n",
               self.chart(charts.nagle_upside("nagle-upside", cases, self.patterns, self.pal))]
        rows = [[onoff(c.client_nodelay), c.write_pattern or u.DASH, val(c, "segs_out_per_req", u.plain),
                 val(c, "srv_segs_in_per_req", u.plain), self.flag(c, rate(c)),
                 val(c, "cpu_us_per_req", u.plain), lat(c, "p50"), lat(c, "p99")]
                for c in cases]
        out.append(table(["client nodelay", "writes", "client segs out/req", "server segs in/req", "req/s",
                          "server CPU us/req", "p50", "p99"], rows, "llrrrrrr") + self.legend())
        if all(closed_loop(c) for c in cases):
            out.append(f"*p50, p99: {CLOSED_LOOP_NOTE} (here: nodelay on vs off).*\n")
        derived = [c for c in cases if c.extra.get("rps_derived")]
        if derived:
            out.append("req/s of " + ", ".join(c.id for c in derived) + ": the case file's rate was 0 with every "
                       "request answered (the window's replies were never counted), so it is the loadgen's "
                       "requests over its window here.\n")
        on = next((c for c in cases if c.client_nodelay is True), None)
        off = next((c for c in cases if c.client_nodelay is False), None)
        if on and off and on.c("segs_out_per_req") and off.c("segs_out_per_req"):
            text = (f"With TCP_NODELAY on the client sent {u.plain(on.c('segs_out_per_req'))} segments per request, "
                    f"with Nagle {u.plain(off.c('segs_out_per_req'))} "
                    f"({u.ratio(u.times(on.c('segs_out_per_req'), off.c('segs_out_per_req')))} fewer)")
            if on.c("rps") and off.c("rps"):
                faster = off if off.c("rps") > on.c("rps") else on
                d = analysis.differs(on, off, "rps")
                text += (f"; throughput {said(off.measure('rps'), u.compact_rate)} req/s with Nagle vs "
                         f"{said(on.measure('rps'), u.compact_rate)} without "
                         + (f"({'Nagle' if faster is off else 'nodelay'} "
                            f"{u.ratio(u.times(faster.c('rps'), (on if faster is off else off).c('rps')))} faster)"
                            if d is None or d.differ else "(no measurable difference)"))
            if on.c("cpu_us_per_req") and off.c("cpu_us_per_req"):
                text += (f"; server CPU {said(off.measure('cpu_us_per_req'), u.plain)} us per request with Nagle "
                         f"vs {said(on.measure('cpu_us_per_req'), u.plain)} without")
            text += ". Every segment costs a trip through both TCP stacks; coalescing small writes is what Nagle is for."
            out.append(text + "\n")
            self.say(5, "**Nagle's upside:** " + text)
        return "\n".join(out) + "\n"

    def errors_section(self) -> str:
        bad = [c for c in self.run.cases if c.has_errors or c.extra.get("gbench_error")]
        failed = [(n, e) for n, _, e in self.run.gbench_only if e]
        if not bad and not failed:
            return ""
        rows = []
        for c in bad:
            errs = dig(c.loadgen, "errors") or {}
            kinds = ", ".join(f"{k} {v}" for k, v in errs.items() if k != "total" and num(v))
            srv = dig(c.server, "stats", "total", "errors") or {}
            skinds = ", ".join(f"{k} {v}" for k, v in srv.items() if num(v)) if isinstance(srv, dict) else ""
            sample = "; ".join((c.loadgen or {}).get("error_samples") or [])[:160]
            rows.append([c.id, u.count(c.c("errors")), kinds or u.DASH, skinds or u.DASH,
                         c.extra.get("gbench_error") or sample or u.DASH])
        for n, e in failed:
            rows.append([n, u.DASH, u.DASH, u.DASH, f"did not run: {e}"])
        return ("## Errors\n\n" + table(["case", "errors", "client errors by class", "server errors",
                                          "message"], rows, "lrlll") + "\n")

    # --- how the numbers were taken ---

    def foreign_cases(self):
        return [c for c in self.run.cases if c.foreign_load]

    def foreign_measured(self) -> bool:
        return any(c.foreign() is not None or c.c("foreign_cpu") is not None for c in self.run.cases)

    def foreign_line(self) -> str:
        if not self.foreign_measured():
            return ""
        bad = self.foreign_cases()
        if not bad:
            return "no case had foreign load above 5% of a CPU."
        return (f"{len(bad)} case(s) had other work above 5% of a CPU in their window ({MARK_FOREIGN}); "
                "see [Foreign load](#foreign-load).")

    def measured_section(self) -> str:
        """Per case class: where the server's figures come from, how late the window's
        snapshots were, whether every connection came up, and the generator's own
        receive delay. Only what the case files carry; nothing for older runs."""
        def median(vs):
            vs = sorted(vs)
            return vs[len(vs) // 2] if vs else None
        order = ["matrix", "sweep", "baseline", "nagle", "nagle-upside"]
        rows = []
        for kind in [k for k in order if self.run.of_kind(k)]:
            cs = self.run.of_kind(kind)
            sources: dict = {}
            for c in cs:
                src = dig(c.server, "window", "source") or dig(c.server, "accounting")
                if src:
                    sources[src] = sources.get(src, 0) + 1
            acct = ", ".join(f"{k} ×{n}" for k, n in sorted(sources.items(), key=lambda kv: -kv[1])) or u.DASH
            delays = [num(v) for c in cs for m in self.measurements(c)
                      for v in (dig(m, "snapshot_delay_us") or []) if num(v) is not None]
            snap = (f"{u.latency(median(delays))} median, {u.latency(max(delays))} max" if delays else u.DASH)
            ups = [c.bringup() for c in cs if c.bringup()]
            if ups:
                done = sum(1 for b in ups if b.get("complete") is not False)
                slow = max((num(b.get("seconds")) or 0) for b in ups)
                bring = f"{done} of {len(ups)} complete, slowest {slow:.2f} s"
                if len(ups) < len(cs):
                    bring += f" ({len(cs) - len(ups)} without: connection per request or own client)"
            else:
                bring = u.DASH
            p50s = [num(dig(c.loadgen, "generator", "recv_delay_us", "p50")) for c in cs]
            p99s = [num(dig(c.loadgen, "generator", "recv_delay_us", "p99")) for c in cs]
            p50s, p99s = [v for v in p50s if v is not None], [v for v in p99s if v is not None]
            recv = (f"{u.latency(median(p50s))} / {u.latency(median(p99s))} (worst p99 {u.latency(max(p99s))})"
                    if p50s and p99s else u.DASH)
            rows.append([kind, u.count(len(cs)), acct, snap, bring, recv])
        reps = self.repetitions_paragraph()
        if all(all(v == u.DASH for v in r[2:]) for r in rows) and not reps:
            return ""
        out = ["## How this was measured\n", reps,
               "Per case class. **Server figures**: `server-snapshot` is the server's own counters, "
               "snapshotted on SIGUSR1 at both edges of the measured window (exact requests, per-thread "
               "deltas); `proc-stat` is the fallback, /proc/<pid>/stat CPU ticks (one tick = 1/HZ s) and "
               "requests from the generator. **Snapshot delay**: from the signal to the snapshot, how far "
               "the window's edges moved. **Bring-up**: every connection made one round trip before the "
               "warm-up. **Generator receive delay**: the time a reply waited in the generator's socket "
               "before it was read (kernel receive timestamp to read), p50 / p99, median over the cases: "
               "what the generator adds to every latency.\n",
               table(["class", "cases", "server figures", "snapshot delay", "bring-up",
                      "generator receive delay p50 / p99"], rows, "lrllll")]
        short = [c for c in self.run.cases if c.bringup_incomplete]
        if short:
            out.append("Connections that did not come up (a finding of the case, not an error; the case ran "
                       "with those that did):\n")
            for c in short:
                out.append(f"- {c.id}: {self.bringup_text(c)}")
            out.append("")
        out.append(self.foreign_section())
        return "\n".join(out) + "\n"

    @staticmethod
    def measurements(c: Case) -> list[dict]:
        """Every repetition's measurement block (the case's own for a single run)."""
        ms = [r.get("measurement") for r in c.repetitions if isinstance(r.get("measurement"), dict)]
        return ms or ([c.measurement] if isinstance(c.measurement, dict) else [])

    def repetitions_paragraph(self) -> str:
        rj = self.run.run
        seed, runs = rj.get("seed"), num(rj.get("runs"))
        n = self.repetitions
        if n <= 1:
            text = (f"**Repetitions: 1** per case ({ONE_REPETITION_NOTE}). The numbers below are one run each; "
                    "run the default profile (3 repetitions) to see the spread.")
        else:
            text = (f"**Repetitions: {n}** per case"
                    + (f", {u.count(runs)} runs in all" if runs else "")
                    + ", run in one order shuffled"
                    + (f" with seed **{seed}**" if seed is not None else " (seed not recorded)")
                    + " (`--seed` repeats the order), so a slow drift of the machine spreads over every case "
                    "instead of hitting one. Each case file holds the median of every counter, its [min-max] "
                    "range and each repetition's own record; the *repetition of record* (the median req/s) "
                    "gives the histogram the spectrum charts draw. Two numbers differ when their ranges do not "
                    f"overlap; with {n} repetitions each, two cases that are really the same have separate "
                    f"ranges {self.false_alarm_text(n)} by chance, so one such difference is a hint, a "
                    "pattern of them is a finding.")
        short = [c.id for c in self.run.cases if c.repetitions and c.n_reps < n]
        if short:
            text += f" Fewer repetitions than planned: {', '.join(short)}."
        return text + "\n"

    @staticmethod
    def false_alarm_text(n: int) -> str:
        """How often n-vs-n ranges of one distribution fail to overlap: 2 of the C(2n, n)
        equally likely orders put all of one side above the other."""
        p = 2 / math.comb(2 * n, n)
        return f"{100 * p:.0f}% of the time" if p >= 0.01 else f"{100 * p:.2g}% of the time"

    @staticmethod
    def bringup_text(c: Case) -> str:
        b = c.bringup() or {}
        secs = num(b.get("seconds"))
        return (f"{u.count(num(b.get('up')))} of {u.count(num(b.get('connections')))} connections accepted"
                + (f" within {secs:.1f} s" if secs is not None else ""))

    def foreign_section(self) -> str:
        out = ["### Foreign load\n"]
        if not self.foreign_measured():
            out.append("Not measured in this run (its case files have no `measurement.foreign`).\n")
            return "\n".join(out)
        bad = self.foreign_cases()
        if not bad:
            out.append("No case had foreign load above 5% of a CPU: whatever else ran on the machine used "
                       "less than that over every measured window.\n")
            return "\n".join(out)
        out.append(f"CPU time used during the window by work other than the server, the generator and the "
                   f"harness, above 5% of one CPU; these cases are marked {MARK_FOREIGN} in the tables and "
                   "their numbers carry that noise. Machine-wide busy time (/proc/stat, 10 ms ticks) minus "
                   "the server's and the harness's own; *generator wait* is how long the generator's "
                   "threads sat on a run queue in the window, the direct measure of a preempted "
                   "generator:\n")
        rows = []
        for c in bad:
            f = c.foreign() or {}
            ms = self.measurements(c)
            flagged = sum(1 for m in ms if dig(m, "foreign", "flag") is True)
            m = c.measure("foreign_cpu")
            cpus = u.measure(u.plain, m) if m is not None else u.plain(num(f.get("cpus")))
            steals = [num(dig(m, "foreign", "steal_s")) for m in ms]
            steals = [x for x in steals if x is not None]
            steal = (u.ranged(lambda x: f"{u.plain(x)} s", sorted(steals)[len(steals) // 2], min(steals),
                              max(steals), len(steals)) if steals else u.DASH)
            waits = [num(dig(m, "foreign", "generator_wait_s")) for m in ms]
            waits = sorted(x * 1e3 for x in waits if x is not None)
            wait = (u.ranged(lambda x: f"{x:.1f} ms", waits[len(waits) // 2], waits[0], waits[-1],
                             len(waits)) if waits else u.DASH)
            rows.append([c.id, cpus, steal, wait, f"{flagged} of {len(ms)}" if ms else u.DASH])
        out.append(table(["case", "foreign CPUs", "steal", "generator wait", "repetitions flagged"],
                         rows, "lrrrr"))
        return "\n".join(out)

    def machine_section(self) -> str:
        si = self.run.sysinfo
        rows = []

        def add(k, v):
            if v not in (None, "", [], {}):
                rows.append([k, v])
        add("CPU", dig(si, "cpu", "model"))
        add("logical CPUs", dig(si, "cpu", "logical"))
        add("physical cores", dig(si, "cpu", "physical_cores"))
        add("online CPUs", dig(si, "cpu", "online"))
        add("frequency governor", dig(si, "cpu", "governor"))
        add("memory", u.memory_kb(num(dig(si, "memory", "total_kb"))) if dig(si, "memory", "total_kb") else None)
        add("OS", si.get("os"))
        add("kernel", " ".join(str(x) for x in (dig(si, "kernel", "release"), dig(si, "kernel", "version")) if x))
        hz = dig(si, "kernel_hz", "value")
        add("kernel HZ", f"{hz} ({dig(si, 'kernel_hz', 'source')})" if hz else "unknown")
        add("clock source", si.get("clocksource"))
        add("open files (ulimit -n)", dig(si, "limits", "nofile_soft"))
        for k, v in (si.get("sysctls") or {}).items():
            add(k, str(v).replace("\t", " ") if v is not None else "unknown")
        for k, v in (si.get("tools") or {}).items():
            add(f"tool: {k}", v)
        add("git commit", dig(si, "git", "commit"))
        add("server CPUs", self.run.run.get("server_cpus") or dig(si, "placement", "server_cpus"))
        add("client CPUs", self.run.run.get("client_cpus") or dig(si, "placement", "client_cpus"))
        add("placement reason", self.run.run.get("placement_reason") or dig(si, "placement", "reason"))
        add("started", self.run.run.get("started"))
        add("finished", self.run.run.get("finished"))
        add("wall time", u.duration(self.run.wall_seconds()) if self.run.wall_seconds() is not None else None)
        if not rows:
            return "## Machine\n\nNo sysinfo.json in this run.\n"
        return "## Machine\n\n" + table(["", "value"], rows, "ll") + "\n"

    def all_cases_section(self) -> str:
        if not self.run.cases and not self.run.gbench_only:
            return ""
        order = {k: i for i, k in enumerate(["matrix", "sweep", "baseline", "nagle", "nagle-upside"])}
        cases = sorted(self.run.cases, key=lambda c: (order.get(c.kind, 9), workload_key(c.workload),
                                                       pattern_key(c.pattern), c.connections or 0,
                                                       c.offered_rps or 0, c.id))
        rows = [[c.id, c.kind, c.pattern, c.workload, u.count(c.connections), u.rate(c.offered_rps),
                 self.flag(c, rate(c)), lat(c, "p50"), lat(c, "p99"),
                 lat(c, "p99.9"), val(c, "cpu_us_per_req", u.plain), val(c, "errors", u.count)]
                for c in cases]
        if any(c.latency_is_lower_bound for c in cases):
            self._used.add(LOWER_BOUND)
        for n, counters, e in self.run.gbench_only:
            rows.append([n, u.DASH, u.DASH, u.DASH, u.DASH, u.DASH, u.rate(num(counters.get("rps"))), u.DASH,
                         u.DASH, u.DASH, u.DASH, "did not run" if e else "no case file"])
        return ("## All cases\n\n<details><summary>" + f"{len(rows)} cases</summary>\n\n"
                + table(["case", "kind", "pattern", "workload", "conns", "offered", "req/s", "p50", "p99",
                         "p99.9", "CPU us/req", "errors"], rows, "llllrrrrrrrr") + self.legend()
                + f"\nLatencies of rows without an offered rate: {CLOSED_LOOP_NOTE}. Sweep rows are open loop, "
                "at the offered rate.\n"
                + "\n</details>\n")

    def build(self) -> str:
        body = [self.throughput_section(), self.latency_section(), self.sweep_section(), self.cost_section(),
                self.threads_section(), self.spread_section(), self.nagle_section(), self.upside_section(),
                self.errors_section()]
        measured = self.measured_section()
        for c in self.run.cases:
            if c.bringup_incomplete:
                self.say(1, f"**Bring-up, {c.id}:** {self.bringup_text(c)}: the case ran with the connections "
                            "that came up, so its numbers are for fewer connections than its name says.")
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
        return self.embed_charts(head + "\n".join(reading) + "\n\n" + claims.section(self.run) + measured
                                 + "".join(s for s in body if s)
                                 + self.machine_section() + "\n" + self.all_cases_section())


def clean_charts(charts_dir: str) -> None:
    """Removes what a previous report drew, so no stale chart survives a re-run."""
    if not os.path.isdir(charts_dir):
        return
    for f in os.listdir(charts_dir):
        if f.endswith(CHART_EXTS):
            os.unlink(os.path.join(charts_dir, f))


def write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="report", description=(
        "Draws RUN_DIR/charts/ (SVG and PNG, with gnuplot) and writes RUN_DIR/REPORT.md from a "
        "patternbench run directory."))
    ap.add_argument("run_dir")
    ap.add_argument("--focus-connections", type=int, metavar="N",
                    help="connection count for the per-workload spectrum, cost and spread views "
                         "(default: the middle count measured for the most patterns)")
    ap.add_argument("--no-png", action="store_true", help="SVG only")
    ap.add_argument("--no-charts", action="store_true", help="REPORT.md with tables only; no gnuplot")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.run_dir):
        print(f"report: {args.run_dir}: not a directory", file=sys.stderr)
        return 2
    run = load_run(args.run_dir)
    charts_dir = os.path.join(run.path, "charts")
    draw = not args.no_charts
    if draw and not gnuplot.gnuplot_path():
        print("report: gnuplot not found (tools/install-deps installs gnuplot-nox); writing tables only",
              file=sys.stderr)
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
        print(f"report: {os.path.join(run.path, 'REPORT.md')}: {len(run.cases)} cases, "
              f"{drawn} chart files in {charts_dir if draw else '(none drawn)'}")
    # A chart that failed to draw (or no gnuplot at all) is a broken deliverable.
    return 1 if failed or (not draw and not args.no_charts) else 0
