"""`model.pte`: ExecuTorch's program (torch.export, lowered with XNNPACK), gated through
ExecuTorch's own C++ runtime (export/pte_runner.cpp, built with g++). Needs the `executorch`
extra."""

from __future__ import annotations

from contextlib import ExitStack

from houseprice.export.formats.base import Built, ExportFormat, Job


def _build(job: Job, stack: ExitStack) -> Built:
    from houseprice.export.pte_export import export_pte, pte_forward

    data = export_pte(job.model, job.info)
    forward = pte_forward(data, stack, job.info.n_features)
    return Built(data, forward, facts={"contract": "constant method houseprice_metadata"})


def _check_compiler(config: object) -> None:
    import shutil

    from houseprice.export.errors import MissingToolError

    if shutil.which("g++") is None:
        raise MissingToolError(
            "the pte format's parity gate needs g++ (not found): apt-get install g++"
        )


PTE = ExportFormat(
    "pte",
    "model.pte",
    "ExecuTorch, PyTorch's on-device runtime (needs the executorch extra and g++)",
    _build,
    packages=("executorch",),
    extra="executorch",
    check_tools=_check_compiler,
)
