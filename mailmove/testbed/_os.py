"""What every test-bed server needs from the OS: a free port, and a clean stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess


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


def stop_group(
    proc: subprocess.Popen[bytes],
    sig: signal.Signals = signal.SIGTERM,
    *,
    timeout: float = 5.0,
) -> None:
    """Stop a server started with ``start_new_session=True``: ``sig`` to its whole group
    (so workers go too), SIGKILL if it is not gone in ``timeout``, then reap it. Finally
    SIGKILL the group once more, in case a worker outlived its master."""
    if proc.poll() is None:
        _signal_group(proc, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
    _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
