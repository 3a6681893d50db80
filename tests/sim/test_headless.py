"""Lessons run headless without the missed-wake-up stall (see ``sim.course.headless``)."""

from __future__ import annotations

import asyncio
import time
from queue import Empty

import nbformat
import pytest

from sim.course.headless import SLICE_S, execute, sliced


def _missed_wakeup():
    """A channel whose message is only seen when a poll's timeout fires (the pyzmq case)."""
    calls = []

    async def get_msg(timeout=None):
        calls.append(timeout)
        await asyncio.sleep(timeout)
        return {"msg_type": "execute_reply"}

    return get_msg, calls


def test_a_missed_wakeup_costs_one_slice_not_the_whole_timeout():
    get_msg, calls = _missed_wakeup()
    start = time.monotonic()
    msg = asyncio.run(sliced(get_msg)(timeout=300))
    assert msg["msg_type"] == "execute_reply"
    assert time.monotonic() - start < 3 * SLICE_S and calls == [SLICE_S]


def test_the_callers_timeout_still_ends_the_wait():
    async def never(timeout=None):
        await asyncio.sleep(timeout)
        raise Empty

    start = time.monotonic()
    with pytest.raises(Empty):
        asyncio.run(sliced(never)(timeout=1.2))
    assert 1.2 <= time.monotonic() - start < 1.2 + 2 * SLICE_S


def test_an_unbounded_wait_polls_in_slices_until_a_message():
    seen = []

    async def third_time(timeout=None):
        seen.append(timeout)
        await asyncio.sleep(0.01)
        if len(seen) < 3:
            raise Empty
        return {"msg_type": "status"}

    assert asyncio.run(sliced(third_time)(timeout=None))["msg_type"] == "status"
    assert seen == [SLICE_S] * 3


def test_a_notebook_with_a_widget_runs_in_a_real_kernel(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import ipywidgets as w\nw.IntSlider(3)"),
        nbformat.v4.new_code_cell("print(6 * 7)"),
    ]
    out = execute(nb, tmp_path, timeout_s=60)
    assert out.cells[1].outputs[0]["text"] == "42\n"
    assert "application/vnd.jupyter.widget-view+json" in out.cells[0].outputs[0]["data"]
