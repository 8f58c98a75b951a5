"""Webhook delivery inside ``casework serve``: the projection's loop in a thread of the
server process, started and stopped with it (``serve --no-webhooks`` leaves it out, for
``casework webhooks deliver --follow`` to do elsewhere)."""

from __future__ import annotations

import logging
import threading

from casework import Casework
from projections.webhooks import Backoff, Webhooks

log = logging.getLogger("casework.webhooks")


class DeliveryThread:
    def __init__(self, url: str | None, interval: float = 1.0,
                 backoff: Backoff | None = None) -> None:
        self.url = url
        self.interval = interval
        self.backoff = backoff
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                app = Casework(self.url)
                hooks = Webhooks(app, self.backoff)
                try:
                    hooks.follow(self._stop, self.interval)
                finally:
                    hooks.close()
                    app.close()
            except Exception:  # the server goes on; delivery starts again shortly
                log.exception("webhook delivery failed; starting again in 5 s")
                self._stop.wait(5)
