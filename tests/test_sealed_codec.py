"""What crosses from the student's kernel to the trusted one (``toychat.sealed``): plain data,
rebuilt exactly, and nothing else.  The kernels themselves are exercised through real
``nbgrader autograde`` in ``test_sealed_grading.py`` and ``test_hostile_submissions.py``."""

from __future__ import annotations

import json

import nacl.exceptions
import numpy as np
import pandas as pd
import pytest

from toychat import errors
from toychat.sealed import Unreadable, decode, encode, exception_class, free_names


def _round_trip(value: object) -> object:
    """Through JSON text, as the value travels."""
    return decode(json.loads(json.dumps(encode(value))))


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**80),
        1.5,
        "ünïcödé ✓",
        b"\x00\xff",
        [1, [2, (3, b"4")]],
        (),
        {"a": 1, 2: (b"x",), (1, 2): None},
        {1, 2},
        frozenset({"x"}),
    ],
)
def test_plain_values_come_back_with_their_exact_type(value: object) -> None:
    back = _round_trip(value)
    assert back == value
    assert type(back) is type(value)


def test_floats_that_json_cannot_spell() -> None:
    assert _round_trip(float("inf")) == float("inf")
    assert np.isnan(_round_trip(float("nan")))


def test_numpy_values_keep_dtype_and_shape() -> None:
    for value in (np.float64(0.25), np.int64(-3), np.bool_(True), np.uint8(200)):
        back = _round_trip(value)
        assert type(back) is type(value)
        assert back == value
    array = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    back = _round_trip(array)
    assert type(back) is np.ndarray
    assert back.dtype == np.int32
    assert back.shape == (2, 3, 4)
    assert back.tolist() == array.tolist()
    flags = _round_trip(np.array([True, False]))
    assert flags.dtype == bool
    assert flags.tolist() == [True, False]


def test_pandas_values_are_rebuilt_from_plain_columns() -> None:
    frame = pd.DataFrame(
        {"side": ["a", "b", None], "n": [1, 2, 3], "share": [0.5, 0.25, 1.0], "flag": [True, False, True]},
        index=pd.Index(["x", "y", "z"], name="claim"),
    )
    back = _round_trip(frame)
    assert type(back) is pd.DataFrame
    pd.testing.assert_frame_equal(back, frame)
    series = pd.Series([3, 1], index=[10, 20], name="counts")
    pd.testing.assert_series_equal(_round_trip(series), series)
    crossed = pd.crosstab(pd.Series(["a", "a", "b"], name="side"), pd.Series(["x", "y", "x"], name="claim_type"))
    pd.testing.assert_frame_equal(_round_trip(crossed), crossed)
    multi = pd.Series([1, 2], index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "n"]))
    pd.testing.assert_series_equal(_round_trip(multi), multi)


def test_what_is_not_plain_data_comes_back_equal_to_nothing() -> None:
    class Liar:
        def __eq__(self, other: object) -> bool:
            return True

    class LyingBytes(bytes):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = bytes.__hash__

    for value in (Liar(), LyingBytes(b"x"), [Liar()], object(), print, np.array([1 + 2j])):
        back = _round_trip(value)
        unreadable = back[0] if isinstance(back, list) else back
        assert isinstance(unreadable, Unreadable)
        assert unreadable != unreadable
        assert not unreadable == b"x"  # noqa: SIM201 (the == itself is what is tested)
        assert not bool(unreadable)


@pytest.mark.parametrize(
    "forged",
    [
        {"$": "pickle", "data": "gASVAAAAAAAAAAA="},
        {"$": "ndarray", "dtype": "object", "shape": [2], "items": [1]},
        {"$": "ndarray", "dtype": "complex128", "shape": [1], "b64": "AAAAAAAAAAAAAAAAAAAAAA=="},
        {"$": "ndarray", "dtype": "int64", "shape": [3], "b64": "AAAAAAAAAAA="},
        {"$": "column", "dtype": "object", "items": []},
        {"$": "float", "repr": "__import__('os')"},
        {"$": "range", "start": 0, "stop": 3, "step": 0, "name": None},
        {"$": "bytes", "b64": "not base64!"},
        {"no": "tag"},
    ],
)
def test_anything_else_is_refused(forged: dict) -> None:
    with pytest.raises(ValueError):
        decode(forged)


def test_nesting_is_bounded() -> None:
    deep: object = 1
    for _ in range(200):
        deep = [deep]
    with pytest.raises(ValueError, match="nested too deeply"):
        decode(deep)


def test_exceptions_cross_as_the_nearest_known_class() -> None:
    assert exception_class("nacl.exceptions", "CryptoError") is nacl.exceptions.CryptoError
    assert exception_class("toychat.errors", "ForgedReport") is errors.ForgedReport
    assert exception_class("builtins", "KeyError") is KeyError
    # Not an exception, not in the allowed modules, or not a name: RuntimeError.
    assert exception_class("builtins", "print") is RuntimeError
    assert exception_class("os", "error") is RuntimeError
    assert exception_class("builtins", "__import__('os')") is RuntimeError
    assert exception_class("builtins", "SystemExit") is RuntimeError  # not an Exception


def test_free_names_are_what_a_test_expects_to_find() -> None:
    source = (
        "from toychat.mitm import MitmServer\n"
        "key = bytes(32)\n"
        "def counts(series, n):\n"
        "    return [v for v in series if v < n and helper(v)]\n"
        "assert encrypt_text(key, 'x') == known\n"
        "for i in range(3):\n"
        "    total = i\n"
    )
    assert free_names(source) == {"helper", "encrypt_text", "known"}
    assert free_names("def (:") == set()  # not Python: nothing to bind
