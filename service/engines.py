"""The engines requests borrow: one ``Casework`` (and its read model) per request at a time.

The library's objects are made for one thread (a batch, the cache of persons' keys); the web
server handles requests on a pool of threads. So each request borrows an engine of its own
from this pool, and gives it back. Several processes (``casework serve`` started more than
once on PostgreSQL) each have their own pool; the database is what they share.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from casework import Casework
from projections.read_model import ReadModel


class Engine:
    """One borrowed engine: the application, and its read model made at first use."""

    def __init__(self, app: Casework) -> None:
        self.app = app
        self._read_model: ReadModel | None = None

    @property
    def read_model(self) -> ReadModel:
        if self._read_model is None:
            self._read_model = ReadModel(self.app)
        return self._read_model

    def close(self) -> None:
        if self._read_model is not None:
            self._read_model.close()
        self.app.close()


class EnginePool:
    """Up to ``size`` engines, made when first needed; a request waits for a free one."""

    def __init__(self, make: Callable[[], Casework], size: int) -> None:
        self._make = make
        self._size = size
        self._made = 0
        self._free: queue.LifoQueue[Engine] = queue.LifoQueue()
        self._all: list[Engine] = []
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[Engine]:
        engine = self._take()
        # A person forgotten by another process meanwhile must read as erased now.
        engine.app.personal.drop_cache()
        try:
            yield engine
        finally:
            self._free.put(engine)

    def _take(self) -> Engine:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._made < self._size:
                self._made += 1
                try:
                    engine = Engine(self._make())
                except BaseException:
                    self._made -= 1
                    raise
                self._all.append(engine)
                return engine
        return self._free.get()

    def close(self) -> None:
        for engine in self._all:
            engine.close()
        self._all.clear()
