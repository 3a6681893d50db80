"""Run a lesson headless (tests, the reference outputs, the static site) without stalls.

nbclient waits for a cell's ``execute_reply`` with one poll of the kernel's shell socket for
the whole cell timeout, and for its outputs with an unbounded poll of the iopub socket.
Both go through pyzmq's asyncio poller, which waits for the socket's file descriptor to
signal. A ZeroMQ descriptor is edge-triggered, and a wake-up can be missed: the reply is in
the socket, but the poll only sees it when its timeout fires and it looks once more. The
course met it as a lesson that ran 311 s instead of 14 s -- its cells took 9 s in all, and
after a widget cell nbclient sat 300 s (the cell timeout) on a reply the kernel had sent at
once (nbclient debug log: the cell's ``idle`` at 14:25:32, the next cell at 14:30:31, no
timeout error).

:class:`LessonClient` polls both channels in slices of :data:`SLICE_S`, so a missed wake-up
costs at most that long; timeouts keep their meaning (a slice that finds nothing goes on
until the caller's own timeout).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat
from nbclient import NotebookClient

#: Seconds one poll of a kernel channel waits before it looks at the socket again.
SLICE_S = 0.5


def sliced(get_msg: Callable[..., Awaitable[dict]]) -> Callable[..., Awaitable[dict]]:
    """``get_msg(timeout)`` of an async kernel channel, as polls of at most :data:`SLICE_S`."""

    async def get(timeout: float | None = None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = SLICE_S if deadline is None else min(SLICE_S, deadline - time.monotonic())
            try:
                return await get_msg(timeout=max(left, 0.0))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    return get


class LessonClient(NotebookClient):
    """An nbclient ``NotebookClient`` whose shell and iopub polls are sliced (see module)."""

    async def async_start_new_kernel_client(self) -> Any:
        kc = await super().async_start_new_kernel_client()
        for channel in (kc.shell_channel, kc.iopub_channel):
            channel.get_msg = sliced(channel.get_msg)
        return kc


def execute(
    nb: nbformat.NotebookNode, folder: Path, *, timeout_s: int, **options: Any
) -> nbformat.NotebookNode:
    """Execute ``nb`` in a fresh ``python3`` kernel started in ``folder``; return it."""
    LessonClient(
        nb,
        timeout=timeout_s,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
        **options,
    ).execute()
    return nb
