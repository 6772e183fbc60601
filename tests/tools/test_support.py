"""What the result tools' tests share: running a tool as a user does, the fixture
run (fixtures/run-small, written by make_fixture.py) and its case files, reading
REPORT.md back (sections, tables, numbers with their ranges) and editing a copy of
a run's case files. No tests here; the test_*.py files beside it hold them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(REPO, "tools")
FIXTURE = os.path.join(HERE, "fixtures", "run-small")
sys.path.insert(0, TOOLS)

HAVE_GNUPLOT = shutil.which("gnuplot") is not None
PATTERNS = ["single", "thread-per-conn", "reuseport"]
SWEEP_WORKLOADS = ["tiny", "cpu", "blocking-tail"]
WORKLOADS = ["tiny", "blocking-tail", "churn", "idle-heavy"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tool(name, *args, check=True):
    r = subprocess.run(
        [sys.executable, os.path.join(TOOLS, name), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and r.returncode != 0:
        raise AssertionError(
            f"tools/{name} {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
        )
    return r


def fixture_cases():
    out = {}
    for f in os.listdir(os.path.join(FIXTURE, "cases")):
        with open(os.path.join(FIXTURE, "cases", f), encoding="utf-8") as fh:
            doc = json.load(fh)
        out[doc["case"]["id"]] = doc
    return out


def copy_fixture(tmp, name="run"):
    dst = os.path.join(tmp, name)
    shutil.copytree(FIXTURE, dst)
    return dst


# --- reading REPORT.md back ----------------------------------------------------------

UNITS = {
    "us": 1,
    "ms": 1e3,
    "s": 1e6,
    "KiB": 1,
    "MiB": 1024,
    "GiB": 1024**2,
    "k": 1e3,
    "M": 1e6,
    "%": 1,
}


def _one(text: str, unit: str | None = None) -> tuple[float, str | None] | None:
    m = re.fullmatch(r"(-?[\d.]+)\s*(us|ms|s|KiB|MiB|GiB|%|x|k|M)?", text.replace(",", "").strip())
    if not m:
        return None
    u = m.group(2) or unit
    return float(m.group(1)) * UNITS.get(u, 1), u


def parse_ranged(cell: str):
    """ "81.7k [79.9k-83.0k]" -> (81700, 79900, 83000); "9.50 ms [9.31-9.77]" -> in us
    (the range shares the median's unit unless it names its own); a plain "1.23 ms"
    -> (1230, None, None). None when the cell is not a number."""
    cell = re.sub(r"[⚠◇△□※◔≥+]", "", cell).strip()
    m = re.fullmatch(r"(.*?)\s*\[(.*)\]", cell)
    main = _one(m.group(1) if m else cell)
    if main is None:
        return None
    if not m:
        return main[0], None, None
    parts = re.split(r"(?<=[\d%a-zA-Z])-(?=[\d])| to ", m.group(2))
    if len(parts) != 2:
        return None
    lo, hi = _one(parts[0], main[1]), _one(parts[1], main[1])
    if lo is None or hi is None:
        return None
    return main[0], lo[0], hi[0]


def parse_number(cell: str) -> float | None:
    """The median of a cell: "12,345" -> 12345; "1.23 ms" -> 1230 (us); "70.0 MiB [..]" -> 71680 (KiB)."""
    r = parse_ranged(cell)
    return None if r is None else r[0]


def sections(md: str) -> dict:
    """{heading text: body} for ## and ### headings (### nested under its ##)."""
    out, current, parent = {}, None, None
    for line in md.splitlines():
        m = re.match(r"(#{2,3}) (.*)", line)
        if m:
            if len(m.group(1)) == 2:
                parent = m.group(2)
                current = parent
            else:
                current = f"{parent} / {m.group(2)}"
            out[current] = []
            continue
        if current is not None:
            out[current].append(line)
            if parent and current != parent:
                out[parent].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def tables(text: str) -> list[list[dict]]:
    """Markdown tables in text, each as a list of {header: cell} rows."""
    result, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if len(block) >= 2:
            cells = [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in block]
            headers = cells[0]
            result.append([dict(zip(headers, r)) for r in cells[2:]])
        block = []
    return result


def table_with(text: str, *headers) -> list[dict]:
    for t in tables(text):
        if t and all(h in t[0] for h in headers):
            return t
    raise AssertionError(f"no table with columns {headers}")


def last_digit(text: str) -> float:
    """Half of the last printed digit of a number in text, in the unit of parse_number."""
    m = re.search(r"([\d.,]+)\s*(us|ms|s|KiB|MiB|GiB|k|M)?", re.sub(r"[≥⚠◇△□※◔]", "", text))
    if not m:
        return 0.0
    decimals = len(m.group(1).partition(".")[2])
    return 0.5 * 10**-decimals * UNITS.get(m.group(2), 1)


class NumberMatch:
    def assertClose(self, cell, expected, what=""):
        got = parse_number(cell)
        self.assertIsNotNone(got, f"{what}: cell {cell!r} is not a number")
        # Tables round: to the unit, to 3 significant digits, or to 2 decimals of ms.
        tol = max(0.51, 0.006 * abs(expected), 1.01 * last_digit(cell))
        self.assertLessEqual(
            abs(got - expected), tol, f"{what}: table says {cell!r}, fixture has {expected}"
        )

    def assertRange(self, cell, doc, counter, what=""):
        """cell is "median [min-max]" with the fixture's median and range of counter."""
        r = parse_ranged(cell)
        self.assertIsNotNone(r, f"{what}: {cell!r}")
        self.assertIsNotNone(r[1], f"{what}: {cell!r} has no range")
        self.assertClose(cell, doc["counters"][counter], what)
        lo, hi = doc["ranges"][counter]
        inner = re.search(r"\[(.*)\]", cell).group(1)
        tol = max(
            0.51,
            0.006 * abs(hi),
            1.01
            * last_digit(
                inner + " " + (re.search(r"(us|ms|s|KiB|MiB|GiB|k|M)\b", cell) or [None, ""])[1]
            ),
        )
        self.assertLessEqual(abs(r[1] - lo), tol, f"{what}: range {cell!r} vs [{lo}, {hi}]")
        self.assertLessEqual(abs(r[2] - hi), tol, f"{what}: range {cell!r} vs [{lo}, {hi}]")


def rewrite_json(path, edit):
    """Reads the JSON file at path, lets edit(doc) change it in place, writes it back."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    edit(doc)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)


def rewrite_case(run_dir, case_id, edit):
    """rewrite_json() of the case file cases/<case_id>.json of a run directory."""
    rewrite_json(os.path.join(run_dir, "cases", case_id + ".json"), edit)


def strip_schema2(doc):
    """A case file as schema 1 wrote it: no verdict, measurement or window fields."""
    doc["schema"] = "patternbench.case/1"
    for k in ("verdict", "measurement", "ranges", "repetitions", "repetition_of_record"):
        doc.pop(k, None)
    for k in ("generator_bound", "gen_busy", "foreign_cpu", "verdict_code"):
        doc["counters"].pop(k, None)
    lg = doc.get("loadgen") or {}
    lg["schema_version"] = 1
    for k in ("verdict", "bringup"):
        lg.pop(k, None)
    gen = lg.get("generator") or {}
    for k in ("bound", "recv_delay_us"):
        gen.pop(k, None)
    if (doc.get("server") or {}).get("window"):
        doc["server"]["window"].pop("per_thread", None)
        doc["server"]["window"].pop("source", None)


class RenderedFixture(NumberMatch):
    """REPORT.md of a copy of the fixture, rendered once per test class (charts too,
    when gnuplot is installed). Mix in before unittest.TestCase."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pb-report-")
        cls.run_dir = copy_fixture(cls.tmp)
        args = [cls.run_dir] if HAVE_GNUPLOT else [cls.run_dir, "--no-charts"]
        cls.result = tool("report", *args)
        with open(os.path.join(cls.run_dir, "REPORT.md"), encoding="utf-8") as f:
            cls.md = f.read()
        cls.sec = sections(cls.md)
        cls.cases = fixture_cases()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def expected_charts(self):
        names = ["cpu-per-request", "ctxsw-per-request", "nagle", "nagle-upside"]
        names += [f"p99-vs-load-{w}" for w in SWEEP_WORKLOADS]
        for w in WORKLOADS:
            names += [f"throughput-{w}", f"latency-spectrum-{w}", f"spread-{w}"]
        return names

    def reading_line(self, start):
        return next(ln for ln in self.sec["Reading"].splitlines() if ln.startswith(start))

    def sweep_rows(self):
        return {
            (r["pattern"], r["offered req/s"]): r
            for r in table_with(self.sec["p99 vs offered load / tiny"], "offered req/s", "verdict")
        }


# --- claims experiments (tools/pbtools/exp_*.py) ---------------------------------------


def claims_case_doc(
    experiment,
    pattern,
    variant,
    connections,
    counters,
    ranges=None,
    workload="tiny",
    figures=None,
    reps=3,
    server_args=(),
    threads=None,
):
    """A claims case document as the harness writes it (schema 2): counters are the
    medians, ranges {counter: [lo, hi]} (default: the median itself), figures the
    "experiment" object of every repetition."""
    case_id = f"claims-{experiment}-{pattern}-{variant + '-' if variant else ''}c{connections}"
    name = f"claims/{experiment}/{pattern}/{variant + '/' if variant else ''}c{connections}"
    ranges = {k: list((ranges or {}).get(k, [v, v])) for k, v in counters.items()}
    info = {
        "id": case_id,
        "name": name,
        "kind": "claims",
        "pattern": pattern,
        "protocol": "frame",
        "workload": workload,
        "connections": connections,
        "offered_rps": None,
        "experiment": experiment,
        "variant": variant,
        "server_args": list(server_args),
        "warmup_s": 0.1,
        "duration_s": 0.4,
    }
    if threads is not None:
        info["threads"] = threads
    figures = figures or {}
    return {
        "schema": "patternbench.case/2",
        "case": info,
        "counters": dict(counters),
        "verdict": {"kind": "ok"},
        "experiment": figures,
        "ranges": ranges,
        "repetitions": [
            {
                "index": i,
                "run_order": i,
                "counters": dict(counters),
                "verdict": {"kind": "ok"},
                "experiment": figures,
            }
            for i in range(reps)
        ],
        "repetition_of_record": 0,
    }


def load_cases(docs, tmp):
    """A Run of exactly these case documents (a run directory made in tmp), and its
    cases, for testing a module's rules and section without the fixture's matrix."""
    sys.path.insert(0, TOOLS)
    from pbtools.rundir import load_run  # noqa: E402

    run_dir = os.path.join(tmp, "claims-run")
    os.makedirs(os.path.join(run_dir, "cases"), exist_ok=True)
    for doc in docs:
        with open(os.path.join(run_dir, "cases", doc["case"]["id"] + ".json"), "w") as f:
            json.dump(doc, f)
    run = load_run(run_dir)
    return run, run.of_kind("claims")
