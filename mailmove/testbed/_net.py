"""Free loopback ports for the test bed's servers: one helper for all of them."""

from __future__ import annotations

import socket


def free_port(address: str = "127.0.0.1") -> int:
    """A port free for both TCP and UDP on ``address`` (DNS needs both; the rest, TCP)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((address, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((address, port))
                except OSError:
                    continue
                return port
    raise OSError(f"no port free for both UDP and TCP on {address}")
