"""`model.torchscript.pt`: the fused module scripted, the metadata in its extra files; gated
through torch's own loader."""

from __future__ import annotations

from contextlib import ExitStack

from houseprice.export.formats.base import Built, ExportFormat, Job


def _build(job: Job, stack: ExitStack) -> Built:
    from houseprice.export.parity import eager_forward
    from houseprice.export.torchscript_export import export_torchscript, load_torchscript

    data = export_torchscript(job.fused, job.info)
    module, _ = load_torchscript(data)
    return Built(data, eager_forward(module))


TORCHSCRIPT = ExportFormat(
    "torchscript", "model.torchscript.pt", "TorchScript (in maintenance in PyTorch)", _build
)
