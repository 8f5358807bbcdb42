"""Finding loopback addresses on which a given port is free.

Linux routes all of 127.0.0.0/8 to the loopback interface, so the sandbox
can give every fake server its own address and keep real port numbers
(8448, 443) without colliding with anything on 127.0.0.1.
"""

from __future__ import annotations

import socket
from collections.abc import Collection

__all__ = ["free_loopback_address", "loopback_addresses"]

_LAST_HOST = 254


def free_loopback_address(port: int, *, first: int = 2, taken: Collection[str] = ()) -> str | None:
    """The first ``127.0.0.X`` (X >= ``first``) where TCP ``port`` can be bound.

    Args:
        port: The TCP port that must be free.
        first: Smallest last octet to try.
        taken: Addresses to skip, e.g. ones already handed out.

    Returns:
        The address, or None if none is free or binding ``port`` is not
        permitted (e.g. a privileged port without root).
    """
    for last in range(first, _LAST_HOST + 1):
        address = f"127.0.0.{last}"
        if address in taken:
            continue
        try:
            _try_bind(address, port)
        except PermissionError:
            return None  # the port is privileged: no other address will do better
        except OSError:
            continue  # in use, or this address is not configured here
        return address
    return None


def loopback_addresses(
    count: int, port: int, *, first: int = 2, taken: Collection[str] = ()
) -> list[str]:
    """``count`` distinct loopback addresses where TCP ``port`` is free.

    Args:
        count: How many addresses are needed.
        port: The TCP port that must be free on each.
        first: Smallest last octet to try.
        taken: Addresses to skip.

    Returns:
        The addresses, in ascending order.

    Raises:
        OSError: Fewer than ``count`` suitable addresses exist.
    """
    found: list[str] = []
    skip = set(taken)
    while len(found) < count:
        address = free_loopback_address(port, first=first, taken=skip)
        if address is None:
            raise OSError(f"only {len(found)} of {count} loopback addresses have port {port} free")
        found.append(address)
        skip.add(address)
    return found


def _try_bind(address: str, port: int) -> None:
    """Bind and immediately release a TCP socket on ``address:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Without SO_REUSEADDR a recently closed server's TIME_WAIT sockets
        # would make a port look busy that a real server could bind.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
