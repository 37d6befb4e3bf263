"""The hp-infer pipeline fuzzed: any bytes, any JSON, mutated houses, any CSV text give a full
answer or a one-line InputError, never anything else."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from houseprice.runtime import InputError
from tests.runtime.conftest import as_jsonl as _jsonl
from tests.runtime.conftest import run_pipeline as _run
from tests.runtime.model_files import NAMES

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _outcome(predictor, data: bytes, name: str) -> None:
    """Either a full answer or an InputError with a one-line message: never anything else."""
    try:
        out, summary = _run(predictor, data, name)
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert summary.houses > 0 and out.endswith("\n")


@FUZZ
@given(data=st.binary(max_size=400), name=st.sampled_from(["in", "in.json", "in.jsonl", "in.csv"]))
def test_fuzz_arbitrary_bytes(predictor, data, name):
    _outcome(predictor, data, name)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(value=json_values, lines=st.booleans())
def test_fuzz_arbitrary_json(predictor, value, lines):
    text = json.dumps(value)
    _outcome(predictor, (text + "\n" + text).encode() if lines else text.encode(), "in")


@FUZZ
@given(
    houses=st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                n: st.floats(-1e3, 1e3) | st.text(max_size=3) for n in ("CRIM", "ZN", "RM", "LSTAT")
            },
        ),
        max_size=4,
    )
)
def test_fuzz_mutated_houses(predictor, houses):
    base = dict.fromkeys(NAMES, 1.0)
    _outcome(predictor, _jsonl([{**base, **h} for h in houses]), "in.jsonl")


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list('CRIMZN,"\n\r 0123456789.e-x')), max_size=200))
def test_fuzz_csv_text(predictor, text):
    _outcome(predictor, text.encode(), "in.csv")
