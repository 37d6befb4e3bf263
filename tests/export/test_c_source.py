"""export/c_source's text on its own: the comment block (any name inside it stays a comment), the
names as C string literals (readable where they can be, exact bytes always), the return codes
the header documents. The compiled file's behaviour is tests/export/test_source_exports.py's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from houseprice.export.c_source import c_comment, c_string, export_c
from houseprice.runtime.npz_model import NpzModel
from tests.runtime.model_files import info


def test_a_comment_block_is_the_title_the_facts_and_the_build_lines():
    text = c_comment(info(2), "Title line.", ["build one", "  build two"])
    lines = text.splitlines()
    assert lines[:3] == ["/*", " * Title line.", " *"]
    assert lines[-4:] == [" *", " * build one", " *   build two", " */"]
    assert text.endswith(" */\n") and text.count("*/") == 1
    assert all(line == " *" or line.startswith(" * ") for line in lines[1:-1])


@pytest.mark.parametrize(
    ("name", "shown"),
    [("rooms */ count", '"rooms * / count"'), ("price /* per m2", '"price / * per m2"')],
)
def test_a_name_that_would_end_or_nest_the_comment_is_broken_with_a_space(name, shown):
    odd = dataclasses.replace(info(2), feature_names=(name, "b"))
    text = c_comment(odd, "T", [])
    assert shown in text and text.count("*/") == 1 and text.count("/*") == 1


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        (" ~az", '" ~az"'),  # printable ASCII as is, from the space to the tilde
        ("\x1f\x7f", '"\\037\\177"'),  # just outside: octal, three digits
        ('"\\?', '"\\"\\\\\\?"'),  # a quote, a backslash, a question mark (trigraphs)
        ("é", '"\\303\\251"'),  # UTF-8 bytes
        ("\t1", '"\\0111"'),  # three octal digits, so a digit after cannot join the escape
    ],
)
def test_a_name_is_a_c_string_of_its_utf8_bytes(text, literal):
    assert c_string(text) == literal


def test_the_header_documents_the_return_codes_the_code_returns():
    """The numbers are the contract (docs/hp-export.md): a caller's switch is compiled on them;
    tests/export/test_source_exports.py holds the compiled function to the same numbers."""
    ones = np.ones((3, 4), np.float32)
    model = NpzModel({}, np.arange(2), 0, False, ones, ones[0], np.zeros(1, np.float32))
    header = export_c(model, info(2))[0].decode()
    for line in (
        "#define HOUSEPRICE_OK 0 /* the price was written */",
        "#define HOUSEPRICE_ERR_NULL 1 /* features or price is NULL */",
        "#define HOUSEPRICE_ERR_INPUT 2 /* a feature is NaN or infinite */",
        "#define HOUSEPRICE_ERR_PRICE 3 /* the price would not be finite (a house far outside "
        "the ranges) */",
    ):
        assert line + "\n" in header
