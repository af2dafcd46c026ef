"""Hidden tests that run outside the student's process: the two sides of a sealed call.

When the course grades a submission (:class:`toychat.grading.SealedExecute`), two kernels run:

* the **student's kernel**, sandboxed, runs every cell the student could write, and never
  sees a test cell;
* the **trusted kernel** runs the exercise's own setup cells (restored from the gradebook)
  and the test cells, visible and hidden.

A test cell that names something it did not define itself (``encrypt_text``, say) gets a
stand-in from :func:`prepare`: calling a :class:`StudentFunction` sends the arguments to the
student's kernel, calls the student's function *there*, and brings back only plain data,
checked on the way in (:func:`decode`): ``None``, ``bool``, ``int``, ``float``, ``str``,
``bytes``, lists, tuples, dicts and sets of those, numpy scalars and arrays of numeric
dtypes, and pandas Series, DataFrames and Index objects rebuilt from plain columns.  An
exception the student's code raises comes back as the nearest built-in, PyNaCl or course
exception class; anything else comes back as an :class:`Unreadable` that equals nothing.
So no live object of the student's, no frame of the test and no line of a hidden test
ever crosses into the student's process, and the test asserts on values its own process
made.

Arguments travel the other way as a pickle (the trusted side writes it and the student's
side reads it, never the reverse).  An object that is not plain data (a ``Client``, a
``DoubleRatchet``) is sent once and then *lives on* in the student's process: a later call
with the same object gets the student's copy, changes and all, as it would in one process.
The test's own copy is not changed by the student's code: a test for the sealed grader
passes such an object to the student's functions and does not use it directly afterwards.

The student's side is :func:`serve`, which the trusted side calls as an IPython user
expression.  The student may replace it, like anything in their process: all they can
change is what their own functions seem to return, which is what they write anyway.

This module imports only the standard library at the top (the student's kernel imports it
for every call); numpy and pandas are used only when a value is one of theirs.
"""

from __future__ import annotations

import ast
import base64
import builtins
import contextlib
import importlib
import io
import json
import math
import pickle
import symtable
import sys
import time
from collections.abc import Iterable
from typing import Any

__all__ = [
    "CallFailed",
    "StudentFunction",
    "StudentKernel",
    "Unreadable",
    "decode",
    "encode",
    "free_names",
    "prepare",
    "serve",
]

#: Modules whose exception classes cross the boundary as themselves.
EXCEPTION_MODULES = ("builtins", "nacl.exceptions", "toychat.errors")
#: numpy dtypes that cross as raw bytes.
NUMERIC_DTYPES = frozenset(
    {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64"}
)
#: pandas dtypes that cross as a list of plain values.
PANDAS_DTYPES = frozenset({"object", "str", "string", "category", "boolean", "Int64", "Float64"})
#: The most a reply may hold, in characters of JSON (a bound on what the student's side can
#: make the trusted side read).
MAX_REPLY = 256 * 1024**2
#: How deep a decoded value may nest.
MAX_DEPTH = 64


class CallFailed(AssertionError):
    """A call into the student's code did not come back with an answer: the student's kernel
    is gone, took too long, or replied with something that is not a sealed answer.  An
    ``AssertionError``, so the test that made the call fails."""


class Unreadable:
    """What a student's function returned that is not plain data: shown by its type's name,
    equal to nothing (not even itself), so no comparison a test makes can pass with it."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<a {self.type_name} object, which the grader cannot read back>"


# --------------------------------------------------------------------------- the codec

_PLAIN_SCALARS = (type(None), bool, int, float, str)


def _exception_name(error: BaseException) -> tuple[str, str]:
    """(module, name) of the nearest class in ``error``'s MRO that crosses as itself."""
    for cls in type(error).__mro__:
        if cls.__module__ in EXCEPTION_MODULES and issubclass(cls, Exception):
            return cls.__module__, cls.__qualname__
    return "builtins", "RuntimeError"


def encode(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-ready plain data, tagged so that :func:`decode` rebuilds exactly its
    type; what is not plain data becomes an ``unreadable`` tag with its type's name.
    Only the exact built-in types count (a subclass of ``int`` is not an ``int``).

    >>> encode((1, b"x", [None, 2.5]))
    {'$': 'tuple', 'items': [1, {'$': 'bytes', 'b64': 'eA=='}, [None, 2.5]]}
    """
    kind = type(value)
    if depth > MAX_DEPTH:
        return {"$": "unreadable", "type": "value nested too deeply"}
    if kind in _PLAIN_SCALARS:
        if kind is float and not math.isfinite(value):
            return {"$": "float", "repr": repr(value)}
        return value
    if kind is bytes:
        return {"$": "bytes", "b64": base64.b64encode(value).decode("ascii")}
    if kind is list:
        return [encode(item, depth + 1) for item in value]
    if kind in (tuple, set, frozenset):
        items = list(value) if kind is tuple else sorted(value, key=repr)
        return {"$": kind.__name__, "items": [encode(item, depth + 1) for item in items]}
    if kind is dict:
        return {"$": "dict", "items": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        if isinstance(value, numpy.generic) and value.dtype.name in NUMERIC_DTYPES and kind is value.dtype.type:
            return {"$": "npscalar", "dtype": value.dtype.name, "value": encode(value.item(), depth + 1)}
        if kind is numpy.ndarray:
            return _encode_array(value, depth)
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        if kind is pandas.Series:
            return {
                "$": "series",
                "values": _encode_column(value, depth),
                "index": encode(value.index, depth + 1),
                "name": encode(value.name, depth + 1),
            }
        if kind is pandas.DataFrame:
            return {
                "$": "frame",
                "columns": encode(value.columns, depth + 1),
                "index": encode(value.index, depth + 1),
                "data": [_encode_column(value.iloc[:, i], depth) for i in range(value.shape[1])],
            }
        if kind is pandas.MultiIndex:
            return {
                "$": "multiindex",
                "tuples": [encode(t, depth + 1) for t in value.tolist()],
                "names": [encode(n, depth + 1) for n in value.names],
            }
        if kind is pandas.RangeIndex:
            return {
                "$": "range",
                "start": value.start,
                "stop": value.stop,
                "step": value.step,
                "name": encode(value.name),
            }
        if isinstance(value, pandas.Index) and kind is pandas.Index:
            return {"$": "index", "values": _encode_column(value, depth), "name": encode(value.name, depth + 1)}
    if isinstance(value, BaseException):
        module, name = _exception_name(value)
        return {"$": "unreadable", "type": f"{module}.{name}"}
    return {"$": "unreadable", "type": kind.__name__}


def _encode_array(array: Any, depth: int) -> Any:
    if array.dtype.name in NUMERIC_DTYPES:
        raw = array.astype(array.dtype.newbyteorder("<"), copy=False)
        data = raw.tobytes(order="C")
        return {
            "$": "ndarray",
            "dtype": array.dtype.name,
            "shape": list(array.shape),
            "b64": base64.b64encode(data).decode("ascii"),
        }
    if array.dtype.name == "object" and array.ndim == 1:
        return {
            "$": "ndarray",
            "dtype": "object",
            "shape": list(array.shape),
            "items": encode(array.tolist(), depth + 1),
        }
    return {"$": "unreadable", "type": f"numpy array of {array.dtype.name}"}


def _encode_column(values: Any, depth: int) -> Any:
    """A Series' or Index's values with their dtype."""
    dtype = str(values.dtype)
    if dtype in NUMERIC_DTYPES:
        return _encode_array(values.to_numpy(), depth)
    if dtype in PANDAS_DTYPES:
        items = [None if _is_missing(v) else v for v in values.tolist()]
        return {"$": "column", "dtype": dtype, "items": encode(items, depth + 1)}
    return {"$": "unreadable", "type": f"column of {dtype}"}


def _is_missing(value: Any) -> bool:
    pandas = sys.modules.get("pandas")
    try:
        return bool(pandas is not None and pandas.isna(value)) and not isinstance(value, (list, tuple))
    except (TypeError, ValueError):
        return False


def decode(data: Any, depth: int = 0) -> Any:
    """Rebuild a value :func:`encode` made, accepting nothing else: a tag it does not know,
    a dtype outside the lists or a value nested deeper than :data:`MAX_DEPTH` raises
    ``ValueError``.  Runs on the trusted side, on what the student's side sent.

    >>> decode(encode({"a": (1, b"x")}))
    {'a': (1, b'x')}
    """
    if depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    kind = type(data)
    if kind in _PLAIN_SCALARS:
        return data
    if kind is list:
        return [decode(item, depth + 1) for item in data]
    if kind is not dict:
        raise ValueError(f"not a sealed value: {kind.__name__}")
    tag = data.get("$")
    if tag == "float":
        if data["repr"] not in ("nan", "inf", "-inf"):
            raise ValueError("not a float")
        return float(data["repr"])
    if tag == "bytes":
        return base64.b64decode(data["b64"], validate=True)
    if tag in ("tuple", "set", "frozenset"):
        items = [decode(item, depth + 1) for item in _list(data["items"])]
        return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    if tag == "dict":
        return {decode(k, depth + 1): decode(v, depth + 1) for k, v in _list(data["items"])}
    if tag == "unreadable":
        return Unreadable(str(data.get("type", "unknown"))[:200])
    import numpy

    if tag == "npscalar":
        dtype = _numeric_dtype(data["dtype"])
        value = decode(data["value"], depth + 1)
        if type(value) not in (bool, int, float):
            raise ValueError("not a numpy scalar")
        return numpy.dtype(dtype).type(value)
    if tag == "ndarray":
        return _decode_array(data, depth)
    import pandas

    if tag == "series":
        return pandas.Series(
            _decode_column(data["values"], depth),
            index=_decode_index(data["index"], depth),
            name=decode(data["name"], depth + 1),
            copy=False,
        )
    if tag == "frame":
        columns = _decode_index(data["columns"], depth)
        index = _decode_index(data["index"], depth)
        data_columns = [_decode_column(c, depth) for c in _list(data["data"])]
        if len(data_columns) != len(columns):
            raise ValueError("a frame whose columns do not match its labels")
        frame = pandas.DataFrame(dict(enumerate(data_columns)), index=index)
        frame.columns = columns
        return frame
    if tag in ("index", "multiindex", "range"):
        return _decode_index(data, depth)
    raise ValueError(f"not a sealed value: tag {tag!r}")


def _list(value: Any) -> list[Any]:
    if type(value) is not list:
        raise ValueError("expected a list")
    return value


def _numeric_dtype(name: Any) -> str:
    if name not in NUMERIC_DTYPES:
        raise ValueError(f"dtype {name!r} is not allowed")
    return str(name)


def _decode_array(data: dict[str, Any], depth: int) -> Any:
    import numpy

    shape = tuple(_list(data["shape"]))
    if not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError("bad shape")
    if data["dtype"] == "object":
        items = decode(data["items"], depth + 1)
        if len(shape) != 1 or len(items) != shape[0]:
            raise ValueError("bad object array")
        array = numpy.empty(shape[0], dtype=object)
        array[:] = items
        return array
    dtype = numpy.dtype(_numeric_dtype(data["dtype"])).newbyteorder("<")
    raw = base64.b64decode(data["b64"], validate=True)
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise ValueError("array data of the wrong size")
    return numpy.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _decode_column(data: Any, depth: int) -> Any:
    import pandas

    if type(data) is not dict:
        raise ValueError("not a column")
    if data.get("$") == "ndarray":
        return _decode_array(data, depth)
    if data.get("$") == "unreadable":
        raise ValueError(f"a {data.get('type')!s:.100} cannot be read back")
    if data.get("$") != "column" or data.get("dtype") not in PANDAS_DTYPES:
        raise ValueError("not a column")
    items = decode(data["items"], depth + 1)
    if data["dtype"] == "object":
        array = __import__("numpy").empty(len(items), dtype=object)
        array[:] = items
        return array
    if data["dtype"] == "category":
        return pandas.Categorical(items)
    return pandas.array(items, dtype=data["dtype"])


def _decode_index(data: Any, depth: int) -> Any:
    import pandas

    if type(data) is not dict:
        raise ValueError("not an index")
    tag = data.get("$")
    if tag == "range":
        bounds = [data["start"], data["stop"], data["step"]]
        if not all(type(n) is int for n in bounds) or bounds[2] == 0:
            raise ValueError("bad range")
        return pandas.RangeIndex(start=bounds[0], stop=bounds[1], step=bounds[2], name=decode(data["name"], depth + 1))
    if tag == "index":
        return pandas.Index(_decode_column(data["values"], depth), name=decode(data["name"], depth + 1), copy=False)
    if tag == "multiindex":
        tuples = [decode(t, depth + 1) for t in _list(data["tuples"])]
        names = [decode(n, depth + 1) for n in _list(data["names"])]
        if not all(type(t) is tuple and len(t) == len(names) for t in tuples):
            raise ValueError("bad multi-index")
        return (
            pandas.MultiIndex.from_tuples(tuples, names=names)
            if tuples
            else pandas.MultiIndex.from_arrays([[] for _ in names], names=names)
        )
    raise ValueError("not an index")


def exception_class(module: Any, name: Any) -> type[Exception]:
    """The exception class a student's error is raised as on the trusted side: only a class
    of :data:`EXCEPTION_MODULES`; anything else is a ``RuntimeError``."""
    if module in EXCEPTION_MODULES and type(name) is str and name.isidentifier():
        found = getattr(importlib.import_module(module), name, None)
        if isinstance(found, type) and issubclass(found, Exception):
            return found
    return RuntimeError


def _raise(module: Any, name: Any, message: Any) -> None:
    __tracebackhide__ = True  # IPython shows the test's line, not the grader's plumbing
    cls = exception_class(module, name)
    text = str(message)[:2000]
    for candidate in cls.__mro__:
        if isinstance(candidate, type) and issubclass(candidate, Exception):
            try:
                error = candidate(text)
            except Exception:  # a class whose constructor wants more (UnicodeDecodeError)
                continue
            raise error from None
    raise RuntimeError(text)


# --------------------------------------------------------------------------- the student's side


class _Discard(io.TextIOBase):
    """Where a student's function prints while a test calls it: nowhere (the feedback does not
    show it, and a flood of it must not reach the grader)."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


_DISCARD = _Discard()

#: Objects the trusted side sent, by handle, kept for later calls (student's side only).
_HANDLES: dict[int, Any] = {}


def _user_namespace() -> dict[str, Any]:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover - the kernels always have IPython
        shell = None
    return shell.user_ns if shell is not None else vars(sys.modules["__main__"])


def serve(request: str) -> str:
    """Answer one request from the trusted side (runs in the student's kernel).

    ``{"op": "describe", "names": [...]}`` says, for each name of the student's namespace,
    whether it is absent, callable, or a value (with the value); ``{"op": "call", ...}``
    calls one and answers its result or the exception it raised."""
    message = json.loads(request)
    namespace = _user_namespace()
    if message["op"] == "describe":
        found = {}
        for name in message["names"]:
            if name not in namespace:
                found[name] = {"kind": "absent"}
            elif callable(namespace[name]):
                found[name] = {"kind": "callable"}
            else:
                found[name] = {"kind": "value", "value": encode(namespace[name])}
        return json.dumps({"ok": found})
    sent = pickle.loads(base64.b64decode(message["objects"]))
    for handle, obj in zip(message["register"], sent[0], strict=True):
        _HANDLES[handle] = obj

    def arg(spec: list[Any]) -> Any:
        return _HANDLES[spec[1]] if spec[0] == "ref" else sent[1][spec[1]]

    args = [arg(spec) for spec in message["args"]]
    kwargs = {name: arg(spec) for name, spec in message["kwargs"].items()}
    try:
        if message["name"] not in namespace:
            raise NameError(f"name {message['name']!r} is not defined")
        with contextlib.redirect_stdout(_DISCARD), contextlib.redirect_stderr(_DISCARD):
            result = namespace[message["name"]](*args, **kwargs)
    except BaseException as error:  # everything the student's code raises goes back as data
        module, name = _exception_name(error)
        return json.dumps({"raise": [module, name, str(error)[:2000]]})
    return json.dumps({"ok": encode(result)})


# --------------------------------------------------------------------------- the trusted side


def _plain(value: Any) -> bool:
    """Values sent afresh with every call (data), as opposed to objects that live on."""
    if type(value) in (*_PLAIN_SCALARS, bytes, bytearray, tuple, list, dict, set, frozenset, complex):
        return True
    module = type(value).__module__.split(".")[0]
    return module in ("numpy", "pandas")


class StudentKernel:
    """The trusted side's line to the student's kernel (a Jupyter client on its sockets)."""

    def __init__(self, connection: dict[str, Any], timeout: float = 50.0) -> None:
        from jupyter_client.blocking.client import BlockingKernelClient

        self.client = BlockingKernelClient()
        self.client.load_connection_info(connection)  # type: ignore[arg-type]
        self.client.start_channels(iopub=False, stdin=False, hb=False, control=True)
        self.timeout = timeout
        self._sent: dict[int, tuple[int, Any]] = {}  # id(obj) -> (handle, obj kept alive)

    def _request(self, message: dict[str, Any]) -> Any:
        expression = f"__import__('toychat.sealed', fromlist=['serve']).serve({json.dumps(message)!r})"
        msg_id = self.client.execute("", silent=True, store_history=False, user_expressions={"r": expression})
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._interrupt()
                    raise CallFailed(f"the student's code gave no answer within {self.timeout:.0f} s")
                try:
                    reply = self.client.get_shell_msg(timeout=min(remaining, 1.0))
                except Exception:  # queue.Empty: nothing yet
                    continue
                if reply.get("parent_header", {}).get("msg_id") == msg_id:
                    break
        except KeyboardInterrupt:
            self._interrupt()
            raise
        result = reply["content"].get("user_expressions", {}).get("r", {})
        if reply["content"].get("status") != "ok" or result.get("status") != "ok":
            raise CallFailed("the student's kernel could not run the grader's call")
        text = result.get("data", {}).get("text/plain", "")
        if type(text) is not str or len(text) > MAX_REPLY + 10:
            raise CallFailed("the student's side sent an answer too large to read")
        try:
            answer = json.loads(ast.literal_eval(text))
            if type(answer) is not dict:
                raise ValueError("not an answer")
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise CallFailed("the student's side sent something that is not an answer") from None
        return answer

    def _interrupt(self) -> None:
        message = self.client.session.msg("interrupt_request", {})
        self.client.control_channel.send(message)

    def describe(self, names: Iterable[str]) -> dict[str, Any]:
        """For each name: ``("absent", None)``, ``("callable", None)`` or ``("value", value)``."""
        answer = self._request({"op": "describe", "names": list(names)})
        found = {}
        for name, entry in dict(answer.get("ok", {})).items():
            kind = entry.get("kind") if type(entry) is dict else None
            if kind == "value":
                try:
                    found[name] = ("value", decode(entry.get("value")))
                except (ValueError, KeyError, TypeError, RecursionError):
                    found[name] = ("value", Unreadable("value"))
            elif kind in ("absent", "callable"):
                found[name] = (kind, None)
        return found

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call the student's ``name`` with these arguments; its result as plain data, or
        its exception raised here as the nearest class that crosses (see the module)."""
        __tracebackhide__ = True  # IPython shows the test's line, not the grader's plumbing
        new: list[Any] = []
        register: list[int] = []
        fresh: list[Any] = []

        def spec(value: Any) -> list[Any]:
            known = self._sent.get(id(value))
            if known is not None and known[1] is value:
                return ["ref", known[0]]
            if _plain(value):
                fresh.append(value)
                return ["new", len(fresh) - 1]
            handle = len(self._sent) + 1
            self._sent[id(value)] = (handle, value)
            new.append(value)
            register.append(handle)
            return ["ref", handle]

        arg_specs = [spec(a) for a in args]
        kwarg_specs = {k: spec(v) for k, v in kwargs.items()}
        objects = base64.b64encode(pickle.dumps((new, fresh), protocol=pickle.HIGHEST_PROTOCOL)).decode("ascii")
        answer = self._request(
            {
                "op": "call",
                "name": name,
                "args": arg_specs,
                "kwargs": kwarg_specs,
                "objects": objects,
                "register": register,
            }
        )
        if "raise" in answer and type(answer["raise"]) is list and len(answer["raise"]) == 3:
            _raise(*answer["raise"])
        if "ok" not in answer:
            raise CallFailed("the student's side sent something that is not an answer")
        try:
            return decode(answer["ok"])
        except (ValueError, KeyError, TypeError, RecursionError) as error:
            raise CallFailed(f"the student's function returned something the grader cannot read ({error})") from None


class StudentFunction:
    """A test's stand-in for the student's function ``name``: calling it calls theirs, in
    their process (:meth:`StudentKernel.call`)."""

    def __init__(self, kernel: StudentKernel, name: str) -> None:
        self._kernel = kernel
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # IPython shows the test's line, not the grader's plumbing
        return self._kernel.call(self.__name__, args, kwargs)

    def __repr__(self) -> str:
        return f"<the student's {self.__name__}, called in their kernel>"


def free_names(source: str) -> set[str]:
    """Names ``source`` reads but never binds itself (at module level or as a function's
    global), excluding built-ins: what it expects to find already defined.

    >>> sorted(free_names("x = f(y)\\ndef g(a):\\n    return a + z + len(x)"))
    ['f', 'y', 'z']
    """
    try:
        table = symtable.symtable(source, "<test>", "exec")
    except SyntaxError:
        return set()
    module_bound = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    found: set[str] = set()

    def walk(scope: symtable.SymbolTable, top: bool) -> None:
        for symbol in scope.get_symbols():
            name = symbol.get_name()
            if not symbol.is_referenced():
                continue
            if top and not (symbol.is_assigned() or symbol.is_imported()):
                found.add(name)
            elif not top and symbol.is_global() and name not in module_bound:
                found.add(name)
        for child in scope.get_children():
            walk(child, False)

    walk(table, True)
    return {name for name in found if not hasattr(builtins, name)}


#: The trusted kernel's line to the student's kernel, set by :func:`connect`.
_KERNEL: StudentKernel | None = None


def connect(connection_json: str, timeout: float = 50.0) -> None:
    """Open the trusted side's line to the student's kernel (run in the trusted kernel)."""
    global _KERNEL
    info = json.loads(connection_json)
    info["key"] = info["key"].encode("ascii") if isinstance(info.get("key"), str) else info.get("key")
    _KERNEL = StudentKernel(info, timeout=timeout)


def prepare(source: str, namespace: dict[str, Any] | None = None) -> list[str]:
    """Before a test cell runs in the trusted kernel: bind every name the cell reads but
    neither defines nor finds in the trusted namespace to the student's: a function as a
    :class:`StudentFunction`, a value as a decoded copy.  Returns the names bound."""
    assert _KERNEL is not None, "connect() first"
    names = namespace if namespace is not None else _user_namespace()
    missing = sorted(name for name in free_names(source) if name not in names)
    if not missing:
        return []
    bound = []
    for name, (kind, value) in _KERNEL.describe(missing).items():
        if name not in missing:
            continue
        if kind == "callable":
            names[name] = StudentFunction(_KERNEL, name)
        elif kind == "value":
            names[name] = value
        else:
            continue
        bound.append(name)
    return bound
