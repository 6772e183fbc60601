"""REPORT.md's "What the textbook claims": one verdict per claim of claims_text.py,
read from the run's JSON.

Each rule takes the loaded Run and returns (verdict, evidence). Verdicts:
  confirmed / refuted     the run shows the effect, or its opposite;
  depends                 it holds under one condition and not another (both numbers given);
  not measurable here     what is missing is named (a pattern, a CPU count, the Nagle run).

Comparisons go through analysis.differs, the report's noise rule. A claim predicts an
effect; when the run measured both sides under the same conditions and the ranges
overlap, the effect is smaller than the machine's run-to-run noise, which is not the
effect the notes warn about: the verdict is "refuted" and the evidence starts with
"no measurable difference". (With one repetition the rule falls back to a 5% threshold
and the evidence says the difference is untested.) Rates of generator-bound cases are
never compared (they describe the generator); CPU per request still is.

The rules live by claim family: claims_patterns.py (T, S, P, Q), claims_sharing.py
(M, R), claims_tcp.py (N, C); what they share is claims_evidence.py.
"""

from __future__ import annotations

from . import claims_patterns as patterns
from . import experiments
from . import claims_sharing as sharing
from . import claims_tcp as tcp
from .claims_evidence import CONFIRMED, DEPENDS, NOT_MEASURABLE, REFUTED, VERDICTS
from .claims_text import BY_ID, CLAIMS, GROUPS
from .report_markdown import table
from .rundir import Run

RULES = {
    "T1": patterns.t1,
    "S1": patterns.s1,
    "S2": patterns.s2,
    "S3": patterns.s3,
    "S4": patterns.s4,
    "P1": patterns.p1,
    "P2": patterns.p2,
    "P3": patterns.p3,
    "P4": patterns.p4,
    "P5": patterns.p5,
    "P6": patterns.p6,
    "Q1": patterns.q1,
    "Q2": patterns.q2,
    "Q3": patterns.q3,
    "Q4": patterns.q4,
    "Q5": patterns.q5,
    "Q6": patterns.q6,
    "M1": sharing.m1,
    "M2": sharing.m2,
    "M3": sharing.m3,
    "M4": sharing.m4,
    "M5": sharing.m5,
    "M6": sharing.m6,
    "R1": sharing.r1,
    "R2": sharing.r2,
    "R3": sharing.r3,
    "R4": sharing.r4,
    "R5": sharing.r5,
    "R6": sharing.r6,
    "N1": tcp.n1,
    "N2": tcp.n2,
    "N3": tcp.n3,
    "N4": tcp.n4,
    "N5": tcp.n5,
    "C1": tcp.c1,
    "C2": tcp.c2,
    "C3": tcp.c3,
}


def verdicts(run: Run) -> dict[str, tuple[str, str]]:
    """{claim id: (verdict, evidence)} for every claim."""
    out = {}
    for claim in CLAIMS:
        try:
            # An experiment of the claims profile that measured this claim
            # speaks first; the matrix's rule otherwise.
            out[claim.id] = experiments.rule(run, claim.id) or RULES[claim.id](run)
        except (
            TypeError,
            ValueError,
            ZeroDivisionError,
            KeyError,
        ) as e:  # a malformed run never kills the report
            out[claim.id] = (
                NOT_MEASURABLE,
                f"the run's numbers for this could not be read ({type(e).__name__})",
            )
    return out


def section(run: Run) -> str:
    """REPORT.md's "What the textbook claims"."""
    results = verdicts(run)
    counts = {v: sum(1 for r in results.values() if r[0] == v) for v in VERDICTS}
    out = [
        "## What the textbook claims\n",
        "Each claim of the course notes, paraphrased, with a verdict read from this run: **confirmed**, "
        "**refuted**, **depends** (on the condition named, both numbers given) or **not measurable here** "
        "(what is missing is named). Comparisons use the report's noise rule: a claimed difference whose "
        "ranges overlap is *no measurable difference*, and the claim is refuted at this run's size. "
        "Generator-bound rates are never compared. "
        + ", ".join(f"{n} {v}" for v, n in counts.items())
        + ".\n",
    ]
    rows = []
    group = None
    for claim in CLAIMS:
        if claim.group != group:
            group = claim.group
            rows.append([f"**{group}**", f"*{GROUPS[group]}*", "", ""])
        v, ev = results[claim.id]
        rows.append([claim.id, claim.claim, f"**{v}**" if v in (CONFIRMED, REFUTED) else v, ev])
    out.append(table(["id", "claim", "verdict", "evidence"], rows, align="llll"))
    return "\n".join(out) + "\n"


__all__ = [
    "verdicts",
    "section",
    "RULES",
    "VERDICTS",
    "CONFIRMED",
    "REFUTED",
    "DEPENDS",
    "NOT_MEASURABLE",
    "BY_ID",
]
