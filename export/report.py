"""The parity table `hp-export` prints."""

from __future__ import annotations

from houseprice.export.parity import ParityResult


def format_parity(results: list[ParityResult]) -> str:
    lines = [f"{'format':<13}{'inputs':>8}{'max abs diff':>15}{'max rel diff':>15}  gate"]
    for r in results:
        verdict = "pass" if r.passed else "FAIL"
        lines.append(
            f"{r.format:<13}{r.n_inputs:>8}{r.max_abs:>15.3g}{r.max_rel:>15.3g}  {verdict}"
        )
    return "\n".join(lines)
