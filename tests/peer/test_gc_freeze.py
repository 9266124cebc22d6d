"""``amqp10 serve`` (``amqp10.peer.server.run``) freezes its long-held objects out of garbage
collection once the connection count has grown and settled, and gives them back when enough of
those connections have ended (``GcFreeze``).

The policy is sans-IO (time and connections passed in), so its rules are tested directly; the
serving loop is tested in a child process (``gc.freeze`` acts on the whole process), which
reports ``gc.get_freeze_count()`` when asked on stdin. Waits are bounded; nothing is timed.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Callable

import pytest

import amqp10
from amqp10.peer.server import GcFreeze

BOUND = 20.0


# -- the policy ---------------------------------------------------------------------------------

def test_GcFreeze_freezes_once_the_count_has_grown_by_min_growth_and_held_for_settle() -> None:
    policy = GcFreeze(settle=10, min_growth=100)
    conns = [object() for _ in range(150)]
    assert policy.check(0.0, conns[:50]) is None
    assert policy.check(5.0, conns) is None  # still growing: settling starts again
    assert policy.check(14.9, conns) is None
    assert policy.check(15.0, conns) == "freeze"
    assert policy.frozen
    assert policy.check(100.0, conns) is None  # nothing new: no second freeze


def test_GcFreeze_never_freezes_fewer_connections_than_min_growth() -> None:
    policy = GcFreeze(settle=1, min_growth=100)
    conns = [object() for _ in range(99)]
    for second in range(10):
        assert policy.check(float(second), conns) is None


def test_GcFreeze_unfreezes_when_a_churn_share_of_the_frozen_connections_ended_and_freezes_again_after() -> None:
    policy = GcFreeze(settle=1, min_growth=10, churn=0.25)
    conns = [object() for _ in range(20)]
    policy.check(0.0, conns)
    assert policy.check(1.0, conns) == "freeze"
    # 4 of 20 ended and 4 new came: the count is the same, the frozen ones are fewer
    replaced = conns[4:] + [object() for _ in range(4)]
    assert policy.check(2.0, replaced) is None
    replaced = conns[5:] + [object() for _ in range(5)]
    assert policy.check(3.0, replaced) == "unfreeze"
    assert not policy.frozen
    assert policy.check(4.0, replaced) == "freeze"  # settled at 20 again


def test_GcFreeze_freezes_again_after_each_full_collection_while_frozen() -> None:
    policy = GcFreeze(settle=1, min_growth=10)
    conns = [object() for _ in range(10)]
    policy.check(0.0, conns, full_collections=3)
    assert policy.check(1.0, conns, full_collections=3) == "freeze"
    assert policy.check(2.0, conns, full_collections=3) is None
    assert policy.check(3.0, conns, full_collections=4) == "freeze"  # its survivors too
    assert policy.check(4.0, conns, full_collections=4) is None


def test_GcFreeze_needs_new_growth_after_a_freeze() -> None:
    policy = GcFreeze(settle=1, min_growth=10)
    conns = [object() for _ in range(10)]
    policy.check(0.0, conns)
    assert policy.check(1.0, conns) == "freeze"
    more = conns + [object() for _ in range(5)]
    assert policy.check(2.0, more) is None
    assert policy.check(10.0, more) is None  # 5 more is less than min_growth
    more += [object() for _ in range(5)]
    assert policy.check(11.0, more) is None
    assert policy.check(12.0, more) == "freeze"


def test_GcFreeze_refuses_meaningless_settings() -> None:
    for bad in ({"settle": -1}, {"min_growth": 0}, {"churn": 0}, {"churn": 1.5}, {"interval": 0}):
        with pytest.raises(ValueError):
            GcFreeze(**bad)  # type: ignore[arg-type]


# -- the serving loop -----------------------------------------------------------------------------

_SERVER = """
import gc, sys, threading
from amqp10.peer.server import GcFreeze, run

def answer():
    for line in sys.stdin:
        print(f"frozen {gc.get_freeze_count()}", flush=True)

threading.Thread(target=answer, daemon=True).start()
run("127.0.0.1", 0, adapter=sys.argv[1], gc_freeze=GcFreeze(settle=0.2, min_growth=5, interval=0.05),
    on_ready=lambda url: print(f"listening on {url}", flush=True))
"""


class _Server:
    """The child serving with a small ``GcFreeze``; stopped by PID."""

    def __init__(self, adapter: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _SERVER, adapter], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        line = self._line()
        assert line.startswith("listening on "), line
        self.url = line.split()[-1]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def _line(self) -> str:
        try:
            return self.lines.get(timeout=BOUND)
        except queue.Empty:
            raise AssertionError("the server said nothing") from None

    def frozen(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write("report\n")
        self.proc.stdin.flush()
        return int(self._line().split()[-1])

    def until_frozen(self, predicate: Callable[[int], bool]) -> int:
        end = time.monotonic() + BOUND
        count = self.frozen()
        while not predicate(count) and time.monotonic() < end:
            time.sleep(0.05)
            count = self.frozen()
        return count

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._reader.join(10)


@pytest.mark.parametrize("adapter", ["blocking", "trio", "asyncio"])
def test_serve_freezes_after_connections_settle_and_unfreezes_when_they_end(adapter: str) -> None:
    server = _Server(adapter)
    try:
        assert server.frozen() == 0
        conns = [amqp10.connect(server.url, timeout=5) for _ in range(6)]
        try:
            assert server.until_frozen(lambda n: n > 0) > 0
        finally:
            for conn in conns:
                conn.close()
        # all six frozen connections ended: their objects are given back to the collector
        assert server.until_frozen(lambda n: n == 0) == 0
    finally:
        server.stop()
