"""Where the harness may bind and talk: loopback, or a Compose service name inside the project's network."""

from __future__ import annotations

import ipaddress
import re
import socket

LOOPBACK_HOST = "127.0.0.1"
"""The only address the harness binds to or talks to on this machine: loopback, never the network."""


def is_local_host(host: str) -> bool:
    """Loopback, or a single-label name (a Compose service), which no public DNS resolves: never AWS."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost" or bool(re.fullmatch(r"[a-z][a-z0-9-]{0,62}", host))


def free_port() -> int:
    """A TCP port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK_HOST, 0))
        return probe.getsockname()[1]


def own_addresses() -> list[str]:
    """Inside a container: its IPv4 addresses on its networks (what its hostname resolves to), loopback
    excluded, so a server there listens on its own interface and never on 0.0.0.0."""
    _, _, addresses = socket.gethostbyname_ex(socket.gethostname())
    return [address for address in addresses if not address.startswith("127.")]
