"""``amqp10 send`` and ``amqp10 receive`` reconnect by default (``--no-reconnect`` turns it off):
a connection cut mid-stream by a relay costs them nothing; every wait is bounded."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Iterator

import pytest

import amqp10
from amqp10 import Timeout
from amqp10.peer.server import EmbeddedPeer, start

from support.cut_proxy import CutProxy

N = 300
LIMIT = 30.0


@pytest.fixture
def peer() -> Iterator[EmbeddedPeer]:
    with start("127.0.0.1", 0) as served:
        yield served


def _spawn(*args: str) -> "subprocess.Popen[str]":
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "amqp10", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _cut_once_traffic_flows(proxy: CutProxy, direction: str, proc: "subprocess.Popen[str]") -> None:
    deadline = time.monotonic() + LIMIT
    while proxy.relayed(direction) < 4000:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no traffic through the relay"
        time.sleep(0.002)
    proxy.cut()


def _held(peer: EmbeddedPeer) -> int:
    return peer.call(lambda b: b.node("q").held if b.node("q") is not None else 0)  # type: ignore[no-any-return]


def test_cli_send_reconnects_after_a_cut_and_every_message_is_stored(peer: EmbeddedPeer) -> None:
    with CutProxy(peer.port) as proxy:
        proc = _spawn("send", f"{proxy.url}/q", "-m", "x" * 100, "--count", str(N), "-q", "--timeout", "20")
        try:
            _cut_once_traffic_flows(proxy, "up", proc)
            out, err = proc.communicate(timeout=LIMIT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert proc.returncode == 0, err
    assert _held(peer) >= N  # at least once: some may be stored twice


def test_cli_receive_reconnects_after_a_cut_and_gets_its_count(peer: EmbeddedPeer) -> None:
    with amqp10.connect(peer.url) as conn:
        conn.open_sender("q").send_many([f"m{i}" for i in range(N)], timeout=LIMIT)
    with CutProxy(peer.port) as proxy:
        proc = _spawn("receive", f"{proxy.url}/q", "--count", str(N), "--credit", "20", "--timeout", "20")
        try:
            _cut_once_traffic_flows(proxy, "down", proc)
            out, err = proc.communicate(timeout=LIMIT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert proc.returncode == 0, err
    got = [word for word in out.split() if word.startswith("m")]
    # --count N messages, each printed once; one taken before the cut may come again after it
    assert len(got) == N and set(got) <= {f"m{i}" for i in range(N)}


def test_cli_send_with_no_reconnect_fails_on_a_cut(peer: EmbeddedPeer) -> None:
    with CutProxy(peer.port) as proxy:
        proc = _spawn("send", f"{proxy.url}/q", "-m", "x" * 100, "--count", "100000", "-q", "--no-reconnect")
        try:
            _cut_once_traffic_flows(proxy, "up", proc)
            out, err = proc.communicate(timeout=LIMIT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert proc.returncode == 1 and "ConnectionClosedError" in err
