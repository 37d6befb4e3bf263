"""`houseprice_model.c` and `.h`: C99 source for microcontrollers, gated by compiling it with
the host's C compiler into a harness and running that. Float arithmetic by default; integers
only with ``--arith int16`` or ``int8`` (export/c_int_source.py)."""

from __future__ import annotations

from contextlib import ExitStack

from houseprice.export.formats.base import Built, ExportFormat, Job, companion_fact


def _build(job: Job, stack: ExitStack) -> Built:
    from houseprice.export.c_source import HEADER_NAME, export_c
    from houseprice.export.npz_export import fused_arrays
    from houseprice.export.source_gate import c_forward

    arrays = fused_arrays(job.fused, job.info)
    header, source = export_c(arrays, job.info)
    forward = c_forward(stack, header, source)
    facts = {"arith": job.config.arith, "header": companion_fact(HEADER_NAME, header)}
    return Built(source, forward, {HEADER_NAME: header}, facts)


def _check_compiler(config: object) -> None:
    from houseprice.export.source_gate import c_compiler

    c_compiler()


C = ExportFormat(
    "c",
    "houseprice_model.c",
    "C99 source for microcontrollers (with houseprice_model.h; integers only with --arith)",
    _build,
    check_tools=_check_compiler,
)
