"""Per-object lookups of a package, fetched a window at a time.

A package visits its objects in a known order and asks, for each, its evidence record, validation report,
imported record and consent view. One query per object and lookup cost more than everything else in a build
(bench/export.py); :class:`Lookahead` fetches the next ``window`` keys of that order in one go instead and keeps
only that window in memory.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, Hashable, Iterable, TypeVar

K = TypeVar("K", bound=Hashable)

WINDOW = 256


class Lookahead(Generic[K]):
    """``get(key)`` for keys asked in the order of ``keys``, answered from ``fetch_many(window) -> {key: value}``
    (a key it leaves out has no value: None). A key asked out of order is fetched with the window from it on."""

    def __init__(self, keys: Iterable[K], fetch_many: Callable[[list[K]], dict[K, Any]], window: int | None = None):
        self._keys = list(keys)
        self._position: dict[K, int] = {}
        for i, key in enumerate(self._keys):
            self._position.setdefault(key, i)
        self._fetch_many = fetch_many
        self._window = window or WINDOW
        self._loaded: dict[K, Any] = {}

    def get(self, key: K) -> Any:
        if key not in self._loaded:
            start = self._position.get(key)
            keys = [key] if start is None else self._keys[start:start + self._window]
            found = self._fetch_many(keys)
            self._loaded = {k: found.get(k) for k in keys}
        return self._loaded[key]
