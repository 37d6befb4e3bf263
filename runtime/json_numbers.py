"""JSON numbers read in whole-array numpy steps: JSON's grammar as a state machine run on
character j of every number at once, and each value converted exactly as json converts it
(Clinger's fast path where exact, float() otherwise). Used by the JSON Lines fast path."""

from __future__ import annotations

import numpy as np

_MINUS, _ZERO = (np.uint8(c) for c in b"-0")
# Exact conversion: an integer mantissa of at most 18 digits (exact in int64) that is below
# 2**53 (exact as a double), and a power of ten that is itself an exact double (10**22 at most).
_MAX_DIGITS = 18
_EXACT_MANTISSA = 2**53
_EXACT_POWERS = 10.0 ** np.arange(23)


class _S:
    r"""States of JSON's number grammar, -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. The states a
    mantissa digit enters come first, so ``state < 3`` finds them."""

    ZERO, INT, FRAC, START, MINUS, DOT, EXP, EXP_SIGN, EXP_DIGITS, DONE, ERROR = range(11)


def _transitions() -> np.ndarray:
    """[state * 256 + character] -> next state. A complete number goes to DONE on the character
    after it (never a number character: runs are maximal); anything unexpected to ERROR."""
    step = np.full((_S.ERROR + 1, 256), _S.ERROR, dtype=np.intp)
    ends_a_number = np.ones(256, dtype=bool)
    ends_a_number[list(b"0123456789+-.eE")] = False
    for state in (_S.ZERO, _S.INT, _S.FRAC, _S.EXP_DIGITS):
        step[state, ends_a_number] = _S.DONE
    step[_S.DONE] = _S.DONE
    digits = b"0123456789"
    for state, moves in {
        _S.START: {b"0": _S.ZERO, b"123456789": _S.INT, b"-": _S.MINUS},
        _S.MINUS: {b"0": _S.ZERO, b"123456789": _S.INT},
        _S.ZERO: {b".": _S.DOT, b"eE": _S.EXP},  # no digit after a leading zero
        _S.INT: {digits: _S.INT, b".": _S.DOT, b"eE": _S.EXP},
        _S.DOT: {digits: _S.FRAC},
        _S.FRAC: {digits: _S.FRAC, b"eE": _S.EXP},
        _S.EXP: {digits: _S.EXP_DIGITS, b"+-": _S.EXP_SIGN},
        _S.EXP_SIGN: {digits: _S.EXP_DIGITS},
        _S.EXP_DIGITS: {digits: _S.EXP_DIGITS},
    }.items():
        for chars, target in moves.items():
            step[state, list(chars)] = target
    return step.ravel()


_STEP = _transitions()
_EXPONENT_CAP = 10_000  # beyond any double's; keeps the running exponent from overflowing


class Numbers:
    """The numbers starting at ``starts`` in ``chars``, read in step: character j of every number
    at once. Each number is followed by a non-number character within ``chars``. ``exponents``:
    whether any of them may have one (if not, that bookkeeping is skipped)."""

    def __init__(self, chars: np.ndarray, starts: np.ndarray, longest: int, exponents: bool):
        n = len(starts)
        state = np.full(n, _S.START, dtype=np.intp)
        mantissa = np.zeros(n, dtype=np.int64)  # the digits without the dot, as an integer
        digits = np.zeros(n, dtype=np.intp)  # in the mantissa, leading zeros included
        fraction = np.zeros(n, dtype=np.intp)  # digits after the dot
        exponent = np.zeros(n, dtype=np.int64)
        negative_exponent = np.zeros(n, dtype=bool)
        had_exponent = np.zeros(n, dtype=bool)
        at, char, index, scratch = (
            starts.copy(),
            np.empty(n, np.uint8),
            np.empty_like(state),
            np.empty_like(mantissa),
        )
        for _ in range(longest + 1):  # + 1: the character that ends the longest number
            np.take(chars, at, out=char, mode="clip")  # clipped only for numbers already read
            np.multiply(state, 256, out=index)
            index += char
            np.take(_STEP, index, out=state)
            in_mantissa = state < 3
            np.multiply(mantissa, 10, out=scratch)  # mantissa * 10 + digit, where a digit came
            scratch += char
            scratch -= _ZERO
            mantissa = np.where(in_mantissa, scratch, mantissa)  # (faster than copyto's where=)
            digits += in_mantissa
            fraction += state == _S.FRAC
            if exponents:
                had_exponent |= state == _S.EXP
                capped = np.minimum(exponent * 10 + char - _ZERO, _EXPONENT_CAP)
                np.copyto(exponent, capped, where=state == _S.EXP_DIGITS)
                negative_exponent |= (state == _S.EXP_SIGN) & (char == _MINUS)
            at += 1
        self.valid = bool((state == _S.DONE).all())
        self.mantissa, self.digits = mantissa, digits
        self.scale = np.where(negative_exponent, -exponent, exponent) - fraction
        self.negative = chars.take(starts) == _MINUS
        self.integer = (fraction == 0) & ~had_exponent  # json makes these ints, not floats

    def values(self, data: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Each number's value (``data[starts[i]:ends[i]]``), exactly as json reads it."""
        fast = (
            (self.digits <= _MAX_DIGITS)  # so the int64 mantissa cannot have wrapped around
            & (self.mantissa <= _EXACT_MANTISSA)
            & (np.abs(self.scale) < len(_EXACT_POWERS))
        )
        power = _EXACT_POWERS[np.minimum(np.abs(self.scale), len(_EXACT_POWERS) - 1)]
        m = self.mantissa.astype(np.float64)
        values = np.where(self.scale >= 0, m * power, m / power)
        for i in np.flatnonzero(~fast):  # rare: long or far-out numbers, read as json does
            values[i] = abs(float(data[starts[i] : ends[i]]))
        # json reads "-0" as the integer 0, i.e. +0.0, but "-0.0" and "-0e0" as -0.0.
        np.negative(values, out=values, where=self.negative & ~(self.integer & (values == 0)))
        return values
