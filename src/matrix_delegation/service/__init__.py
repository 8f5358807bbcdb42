"""The well-known service: ``/.well-known/matrix/{server,client,support}`` for many domains.

Runs on asyncio (uvloop when installed) with httptools parsing: every answer
is prepared bytes, so one process serves tens of thousands of requests per
second (docs/benchmarks.md).
"""

from .server import AccessLog, WellKnownService
from .tls import server_context

__all__ = ["AccessLog", "WellKnownService", "server_context"]
