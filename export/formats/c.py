"""`houseprice_model.c` and `.h`: C99 source for microcontrollers, gated by compiling it with
the host's C compiler into a harness and running that. Float arithmetic by default; integers
only with ``--arith int16`` or ``int8`` (export/c_int_source.py)."""

from __future__ import annotations

from contextlib import ExitStack

from houseprice.export.formats.base import Built, ExportFormat, Gate, Job, companion_fact

# The integer exports' bounds (relative, against the float model; int8 also by RMSE on the
# training rows), on the training rows and random houses within the training ranges.
INTEGER_GATES = {
    "int16": Gate("c/int16", rtol=1e-3, atol=0.0, span=1.0),
    "int8": Gate("c/int8", rtol=5e-2, atol=0.0, span=1.0, rmse_ratio=1.03),
}


def _build(job: Job, stack: ExitStack) -> Built:
    from houseprice.export.c_source import HEADER_NAME, export_c
    from houseprice.export.npz_export import fused_arrays
    from houseprice.export.source_gate import c_forward

    arrays = fused_arrays(job.fused, job.info)
    arith = job.config.arith
    facts: dict[str, object] = {"arith": arith}
    if arith == "float32":
        header, source = export_c(arrays, job.info)
    else:
        from houseprice.export.c_int_plan import plan_integer
        from houseprice.export.c_int_source import export_c_int

        plan = plan_integer(arrays, job.info, arith, job.rows)
        header, source = export_c_int(plan, job.info)
        facts["q16"] = {"fraction_bits": plan.fraction, "hidden_units": len(plan.weights)}
    facts["header"] = companion_fact(HEADER_NAME, header)
    forward = c_forward(stack, header, source)
    gate = INTEGER_GATES.get(arith)
    return Built(source, forward, {HEADER_NAME: header}, facts, gate)


def _check_compiler(config: object) -> None:
    from houseprice.export.source_gate import c_compiler

    c_compiler()


C = ExportFormat(
    "c",
    "houseprice_model.c",
    "C99 source for microcontrollers (with houseprice_model.h; integers only with --arith)",
    _build,
    companions=("houseprice_model.h",),
    check_tools=_check_compiler,
)
