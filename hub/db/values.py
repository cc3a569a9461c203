"""Coded values read back from the database, checked (issue 25, item 5).

A column holds text; the domain holds a ``Literal`` code. :func:`one_of` is the one way from
the first to the second: it returns the code when the row holds one of ``options`` and raises
:class:`StoredValueError` naming the column otherwise, so a row written by an older version
(or by hand) fails loudly where it is read instead of travelling on mistyped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

L = TypeVar("L", bound=str)


class StoredValueError(ValueError):
    """A stored code the current version does not know."""

    def __init__(self, column: str, value: object, options: Sequence[str]) -> None:
        super().__init__(f"{column}: stored value {value!r} is not one of {', '.join(options)}")
        self.column = column
        self.value = value


def one_of(value: object, options: Sequence[L], column: str) -> L:
    """``value`` as the code it equals among ``options`` (a ``get_args`` tuple of a Literal)."""
    for option in options:
        if option == value:
            return option
    raise StoredValueError(column, value, options)


def all_of(values: Iterable[object], options: Sequence[L], column: str) -> tuple[L, ...]:
    """Each of ``values`` checked with :func:`one_of` (a JSON list column)."""
    return tuple(one_of(value, options, column) for value in values)


def one_of_or_none(value: object, options: Sequence[L], column: str) -> L | None:
    """:func:`one_of`, with ``None`` (an empty column) kept as ``None``."""
    return None if value is None else one_of(value, options, column)
