"""All export settings in one object (Optimum's habit): opset, I/O names, axes, gate tolerance."""

from __future__ import annotations

from dataclasses import dataclass

from houseprice.runtime.contract import INPUT_NAME, OUTPUT_NAME

# The C export's arithmetic: float, or integers only with weights of this width.
ARITHMETIC = ("float32", "int16", "int8")


@dataclass(frozen=True)
class ExportConfig:
    # The opset of the ONNX and ORT files (13-18; export/opset.py lowers torch's 18). Each file is
    # stamped with the lowest IR version its opset allows: 18 with IR 8 loads from onnxruntime 1.14.
    opset: int = 18
    input_name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME
    batch_dim: str = "batch"
    # Parity gate: |exported - eager| <= atol + rtol * |eager| on every input, prices in the
    # target's unit. float32 MLPs agree to ~1e-5 on in-range houses; rtol covers the large outputs
    # of far-out-of-range random inputs, where float32's own spacing exceeds atol.
    atol: float = 1e-4
    rtol: float = 1e-5
    random_rows: int = 4096
    random_span: float = 10.0  # random inputs cover an interval this many times the training range
    batch_sizes: tuple[int, ...] = (1, 2, 7, 1024)
    seed: int = 0
    # The C export's arithmetic: float32, or integers only (int16 or int8 weights, Q16.16 values).
    arith: str = "float32"
