"""The compatibility table and the format versions read from a file's bytes."""

from __future__ import annotations

import pytest

from houseprice.runtime.compat import (
    FIRST_ORT_FOR_IR,
    FIRST_ORT_FOR_OPSET,
    loads_in,
    oldest_ort_for_onnx,
    oldest_ort_for_ort_format,
    version_key,
)
from houseprice.runtime.file_versions import (
    oldest_onnxruntime,
    onnx_versions,
    ort_format_version,
)


def test_the_oldest_release_is_the_later_of_the_ir_and_the_opset_floors():
    assert oldest_ort_for_onnx(8, 18) == "1.14"  # the opset decides
    assert oldest_ort_for_onnx(10, 18) == "1.18"  # the IR decides: torch's own stamp
    assert oldest_ort_for_onnx(7, 13) == "1.6"
    assert oldest_ort_for_onnx(99, 18) is None and oldest_ort_for_onnx(8, 99) is None
    assert oldest_ort_for_ort_format(6) == "1.16" and oldest_ort_for_ort_format(1) is None


def test_release_numbers_compare_as_numbers():
    assert version_key("1.9") < version_key("1.10") < version_key("1.16.3")
    assert loads_in("1.14", "1.15.0") and not loads_in("1.18", "1.17.3")
    assert loads_in("1.16", "1.16.3") and loads_in(None, "1.17.3") is None


def test_the_tables_only_grow():
    for table in (FIRST_ORT_FOR_IR, FIRST_ORT_FOR_OPSET):
        releases = [version_key(table[k]) for k in sorted(table)]
        assert releases == sorted(releases)


def test_an_exported_files_versions_are_read_from_its_bytes(exported):
    assert onnx_versions(exported.onnx.read_bytes()) == (8, 18)


def test_an_ort_format_files_version_is_read(exported, tmp_path):
    from houseprice.export.api import export_model

    export_model(exported.checkpoint, tmp_path, ["ort"])
    data = (tmp_path / "model.ort").read_bytes()
    assert ort_format_version(data) == 6
    assert oldest_onnxruntime(data) == "1.16"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x08",
        b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\x0f\x00",
        b"\x00\x00\x00\x00ORTM",
    ],
)
def test_damaged_bytes_give_no_claim_rather_than_an_error(data):
    assert oldest_onnxruntime(data) is None
