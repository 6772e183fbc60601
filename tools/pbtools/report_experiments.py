"""The claims experiments' sections of REPORT.md (experiments.py): one per
experiment the run has cases of, in the experiments' order.

A section mixin of Report (report.py).
"""

from __future__ import annotations

from . import experiments


class ExperimentSections:
    def experiments_section(self) -> str:
        parts = []
        for m in experiments.MODULES:
            cases = experiments.cases_of(self.run, m.NAME)
            if cases:
                text = m.section(self, cases)
                if text:
                    parts.append(text)
        if not parts:
            return ""
        head = (
            "## Experiments for the claims\n\n"
            "The claims profile's experiments: each measures what one or more of the textbook's "
            "claims predicts and feeds its verdict in the claims table (bench/README.md, "
            '"The claims profile", says why each exists and how it is run).\n'
        )
        return head + "\n" + "\n".join(parts)
