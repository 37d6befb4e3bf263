"""export/source_gate's failures, each named by its first real complaint: a compiler's first
error line, a harness's exit code, node's own error line (never the temporary file it names)."""

from __future__ import annotations

from contextlib import ExitStack

import numpy as np
import pytest

from houseprice.export.errors import ConversionError
from houseprice.export.source_gate import build_c, js_forward, run_c_harness


def fake_compiler(stderr: str, code: int) -> list[str]:
    """A "compiler" that prints ``stderr`` and exits ``code`` (the real arguments follow $0)."""
    return ["sh", "-c", f"printf '%s' '{stderr}' >&2; exit {code}", "cc"]


@pytest.mark.parametrize(
    ("stderr", "shown"),
    [
        (
            "In file included from harness.c:4:\nm.h:2:1: error: bad\nm.h:3: warning: w\n",
            "m.h:2:1: error: bad",
        ),
        ("cc1: fatal error: m.c: No such file\n", "cc1: fatal error: m.c: No such file"),
        ("\n  something odd\nthen more\n", "something odd"),
        ("", "exit 4"),
    ],
    ids=["context first", "fatal", "no complaint", "silent"],
)
def test_a_failed_compile_names_its_first_complaint(tmp_path, stderr, shown):
    with pytest.raises(ConversionError) as e:
        build_c(tmp_path, fake_compiler(stderr, 4), b"", b"", ("main.c", ""), "out")
    assert str(e.value) == f"the C export does not compile cleanly: {shown}"


def test_a_harness_that_fails_is_named_by_its_exit_code(tmp_path):
    with pytest.raises(ConversionError) as e:
        run_c_harness(["sh", "-c", "exit 7"], tmp_path, np.zeros((2, 3), np.float32))
    assert str(e.value) == "the C harness failed (exit 7)"


@pytest.mark.parametrize(
    ("module", "shown"),
    [
        (b"export const x = ;\n", "SyntaxError: Unexpected token ';'"),
        (b'export function predictUnchecked() { throw new Error("boom"); }\n', "Error: boom"),
    ],
    ids=["syntax", "thrown"],
)
def test_a_module_that_fails_in_node_is_named_by_node_s_error(module, shown):
    with ExitStack() as stack, pytest.raises(ConversionError) as e:
        js_forward(stack, module)(np.zeros((1, 2), np.float32))
    assert str(e.value) == f"the JS module failed in node: {shown}"
