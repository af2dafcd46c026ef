"""Building the small frozen records a message passes through, without their per-field cost.

A frozen :func:`dataclasses.dataclass` sets each field in its generated ``__init__`` through
``object.__setattr__``, one call per field, because its own ``__setattr__`` refuses every
assignment.  For the records built for every chat message (what the server saw, what a phone
delivered, what a session sealed or opened) those calls were about a tenth of what the toy spends
on a message besides its cryptography (issue 31).  :func:`build` makes the same object, frozen and
equal to the one ``__init__`` makes, by filling its ``__dict__`` at once.
"""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = ["build"]

T = TypeVar("T")


def build(cls: type[T], /, **fields: Any) -> T:
    """An instance of the frozen dataclass ``cls`` holding ``fields``: every field by name, as
    its ``__init__`` would set them, then its ``__post_init__`` (if it has one) as ``__init__``
    would run it.  Defaults are not filled in, so every field must be given.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Point:
    ...     x: int
    ...     y: int = 0
    >>> build(Point, x=1, y=2) == Point(1, 2)
    True
    >>> build(Point, x=1)
    Traceback (most recent call last):
    ...
    TypeError: Point has 2 fields; build() was given 1: x
    >>> build(Point, x=1, z=2)
    Traceback (most recent call last):
    ...
    TypeError: Point has 2 fields; build() was given 2: x, z
    """
    if fields.keys() != cls.__dataclass_fields__.keys():  # type: ignore[attr-defined]
        raise TypeError(
            f"{cls.__name__} has {len(cls.__dataclass_fields__)} fields; "  # type: ignore[attr-defined]
            f"build() was given {len(fields)}: {', '.join(fields)}"
        )
    instance = object.__new__(cls)
    instance.__dict__.update(fields)
    post_init = getattr(cls, "__post_init__", None)
    if post_init is not None:
        post_init(instance)
    return instance
