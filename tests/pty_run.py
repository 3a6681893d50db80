"""A command run with its standard error on a pseudo-terminal, as a learner's terminal
would show it (the progress tests, :mod:`sim.progress`)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_with_terminal_stderr(
    args: list[str], env: dict[str, str], *, columns: int = 100, timeout_s: float = 120
) -> tuple[int, bytes, bytes]:
    """Run ``python args`` with stderr on a pseudo-terminal (``columns`` wide) and stdout on
    a pipe; return (exit code, stdout bytes, what the terminal received)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    os.close(follower)
    chunks: list[bytes] = []

    def read_terminal() -> None:
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the other end closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=timeout_s)
    reader.join(5)
    os.close(leader)
    return proc.returncode, out, b"".join(chunks)
