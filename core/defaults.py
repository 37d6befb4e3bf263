"""Every default the commands share, in one place: where artifacts go, and the extrapolation
margin (a value further outside a feature's training range than this share of the range gets a
warning, by every path that prices houses)."""

from pathlib import Path

ARTIFACTS = Path("artifacts")
CHECKPOINT = ARTIFACTS / "checkpoint.pt"
MODEL = ARTIFACTS / "model.onnx"
MARGIN = 0.1
