"""Elastic APM's no-op transport for ``make bench-peers``, in a module of its own.

Elastic names its transport by a dotted path (``TRANSPORT_CLASS``), so the class has to be
importable; only the Elastic worker imports this module. Everything up to the network runs as
in production (events queued, encoded and compressed by the transport's thread); ``send`` drops
the payload, and ``queued`` counts the events by type so the bench can check the agent worked.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from elasticapm.transport.base import Transport


class NullTransport(Transport):  # type: ignore[misc]
    queued: Counter[str] = Counter()

    def queue(self, event_type: str, data: Any, flush: bool = False) -> None:
        NullTransport.queued[event_type] += 1
        super().queue(event_type, data, flush)

    def send(self, data: Any, forced_flush: bool = False) -> None:
        """Sending dropped: the encoded payload goes nowhere."""
