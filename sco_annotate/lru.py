"""A bounded least-recently-used cache, shared by the threads of one process."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """Values up to a total `capacity`, each weighing `weight(value)`; the least recently
    used are dropped to make room, and a value heavier than the whole capacity is not kept.

    Keys must name a value that never changes (a text by its SHA-256, a list by its
    tokens): nothing here expires an entry, so a key whose value could change would serve
    the old one.
    """

    def __init__(self, capacity: int, weight: Callable[[V], int]) -> None:
        self.capacity = capacity
        self.weight = weight
        self.size = 0
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        weight = self.weight(value)
        if weight > self.capacity:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = value
            self.size += weight
            while self.size > self.capacity:
                _, dropped = self._entries.popitem(last=False)
                self.size -= self.weight(dropped)

    def held(self) -> list[K]:
        """The keys held, least recently used first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.size = 0
