"""The ``amqp10`` command end to end, in subprocesses over loopback.

``amqp10 serve`` is started on a free port (``--port 0``; its first line says which), the
other commands run against it, and every process is stopped by its PID in a ``finally``.
Every wait is bounded.
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

from amqp10.cli.__main__ import main
from amqp10.codec.spec import Open
from amqp10.framing import FrameReader
from amqp10.framing.performatives import decode_body
from amqp10.testing import FrameFactory

_TIMEOUT = 60.0


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def amqp10(*args: str, stdin: bytes | None = None, timeout: float = _TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run ``python -m amqp10 ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "amqp10", *args],
        input=None if stdin is None else stdin.decode(),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
    )


class Running:
    """A long-running ``amqp10`` subcommand whose output is read as it comes."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "amqp10", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out, True), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err, False), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: object, into: list[str], announce: bool) -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line)
            if announce:
                self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """The first stdout line matching ``pattern``, waiting at most ``timeout``."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(
                    f"no line matching {pattern!r}; stdout={''.join(self.out)!r} stderr={''.join(self.err)!r}"
                ) from None
            match = re.search(pattern, line)
            if match:
                return match

    def stop(self) -> int:
        """SIGTERM by PID, then SIGKILL if it lingers; returns the exit status."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        for reader in self._readers:
            reader.join(10)
        return self.proc.returncode

    @property
    def stdout(self) -> str:
        return "".join(self.out)


@pytest.fixture(params=["blocking", "trio", "asyncio"])
def served_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """``amqp10 serve`` on a free port (blocking listener, then trio, then asyncio), its URL."""
    extra = [] if request.param == "blocking" else [f"--{request.param}"]
    server = Running("serve", "--port", "0", *extra)
    try:
        match = server.wait_for(r"listening on (amqp://127\.0\.0\.1:\d+)")
        yield match.group(1)
    finally:
        assert server.stop() == 0, "".join(server.err)
    assert "amqp10 serve: stopped" in server.stdout


def test_amqp10_send_then_receive_round_trips_text_and_properties_through_serve(served_url: str) -> None:
    sent = amqp10(
        "send", f"{served_url}/greetings", "-m", "hello", "--count", "3",
        "--property", "subject=hi", "--property", "message-id=m-1", "--app-property", "n=42",
        "--app-property", "colour=red",
    )
    assert sent.returncode == 0, sent.stderr
    assert re.search(r"sent 3 messages in [\d.]+ s \(\d+ msg/s\)", sent.stderr)
    got = amqp10("receive", f"{served_url}/greetings", "--count", "3", "--timeout", "10")
    assert got.returncode == 0, got.stderr
    assert got.stdout.count("] hello\n") == 3
    assert got.stdout.startswith("[1] hello\n")
    assert "  subject: hi\n" in got.stdout and "  message-id: m-1\n" in got.stdout
    assert "  n: 42\n" in got.stdout and '  colour: "red"\n' in got.stdout
    assert re.search(r"received 3 messages in [\d.]+ s \(\d+ msg/s\)", got.stderr)


def test_amqp10_receive_prints_json_lines_for_json_and_binary_bodies(served_url: str, tmp_path: Path) -> None:
    blob = bytes(range(256))
    (tmp_path / "blob.bin").write_bytes(blob)
    assert amqp10("send", f"{served_url}/mixed", "--json", '{"a": [1, 2.5, null]}').returncode == 0
    assert amqp10("send", f"{served_url}/mixed", "--file", str(tmp_path / "blob.bin")).returncode == 0
    assert amqp10("send", f"{served_url}/mixed", "--file", "-", stdin=b"from stdin").returncode == 0
    got = amqp10("receive", f"{served_url}/mixed", "--json", "--count", "3", "--timeout", "10")
    assert got.returncode == 0, got.stderr
    first, second, third = (json.loads(line) for line in got.stdout.splitlines())
    assert first["body"] == {"a": [1, 2.5, None]}
    assert base64.b64decode(second["body"]["binary"]) == blob
    assert base64.b64decode(third["body"]["binary"]) == b"from stdin"


def test_amqp10_send_at_most_once_then_receive_counts_every_message(served_url: str) -> None:
    sent = amqp10("send", f"{served_url}/bulk", "-m", "x", "--count", "500", "--settle-mode", "at-most-once")
    assert sent.returncode == 0, sent.stderr
    got = amqp10("receive", f"{served_url}/bulk", "--count", "500", "--timeout", "10", "-q")
    assert got.returncode == 0, got.stderr
    assert got.stdout == ""
    assert "received 500 messages" in got.stderr


def test_amqp10_receive_exits_1_when_fewer_than_count_arrive_before_the_timeout(served_url: str) -> None:
    assert amqp10("send", f"{served_url}/few", "-m", "only one").returncode == 0
    got = amqp10("receive", f"{served_url}/few", "--count", "2", "--timeout", "0.5")
    assert got.returncode == 1
    assert "[1] only one" in got.stdout
    assert "got 1 of 2 messages" in got.stderr


def test_amqp10_send_exits_1_with_the_peers_condition_when_the_link_is_refused(served_url: str) -> None:
    sent = amqp10("send", f"{served_url}/dynamic/404", "-m", "lost")
    assert sent.returncode == 1
    assert "amqp:not-found" in sent.stderr


def test_amqp10_send_exits_2_when_the_url_has_no_address() -> None:
    sent = amqp10("send", "amqp://127.0.0.1:1", "-m", "x")
    assert sent.returncode == 2
    assert "names no address" in sent.stderr


def test_amqp10_trace_shows_decoded_frames_both_ways_between_a_client_and_serve(tmp_path: Path) -> None:
    server = Running("serve", "--port", "0")
    tracer: Running | None = None
    try:
        upstream = server.wait_for(r"listening on amqp://(127\.0\.0\.1:\d+)").group(1)
        tracer = Running("trace", "--listen", "127.0.0.1:0", "--to", upstream, "--save", str(tmp_path / "cap"))
        port = tracer.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1)
        url = f"amqp://127.0.0.1:{port}/traced"
        sent = amqp10("send", url, "-m", "through the proxy", "--property", "subject=seen")
        assert sent.returncode == 0, sent.stderr
        got = amqp10("receive", url, "--count", "1", "--timeout", "10")
        assert got.returncode == 0, got.stderr
        assert "[1] through the proxy" in got.stdout
        tracer.wait_for(r"\[2\] connection closed")
    finally:
        status = tracer.stop() if tracer is not None else None
        server.stop()
    assert status == 0
    text = tracer.stdout
    assert "[1] client -> server header SASL 1.0.0" in text
    assert "[1] server -> client sasl sasl-mechanisms(" in text
    assert "[1] client -> server sasl sasl-init(mechanism='ANONYMOUS'" in text
    assert "[1] server -> client sasl sasl-outcome(code=OK" in text
    assert "[1] client -> server header AMQP 1.0.0" in text
    assert "[1] server -> client header AMQP 1.0.0" in text
    assert re.search(r"\[1\] client -> server ch 0 open\(container_id='amqp10-", text)
    assert "offered_capabilities=['ANONYMOUS-RELAY']" in text
    assert re.search(r"\[1\] client -> server ch \d+ attach\(name='.*role=SENDER.*address='traced'", text)
    assert re.search(r"\[1\] client -> server ch \d+ transfer\(.*body='through the proxy'.*subject='seen'|"
                     r"\[1\] client -> server ch \d+ transfer\(.*subject='seen'.*body='through the proxy'", text)
    assert re.search(r"\[1\] server -> client ch \d+ disposition\(role=RECEIVER.*settled=True.*state=accepted\(\)", text)
    assert re.search(r"\[2\] server -> client ch \d+ transfer\(.*body='through the proxy'", text)
    assert re.search(r"\[2\] client -> server ch \d+ flow\(", text)
    assert "[2] client -> server ch 0 close(" in text and "[2] server -> client ch 0 close(" in text
    # The saved capture decodes to the same lines.
    capture = tmp_path / "cap-1-client.bin"
    decoded = amqp10("trace", str(capture))
    assert decoded.returncode == 0, decoded.stderr
    proxied = [line.split(" client -> server ", 1)[1] for line in text.splitlines() if line.startswith("[1] client -> server ")]
    assert [line.split(" ", 1)[1] for line in decoded.stdout.splitlines()] == proxied


def test_amqp10_demo_exits_0_after_printing_every_step() -> None:
    done = amqp10("demo", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"embedded peer listening on amqp://127\.0\.0\.1:\d+ \(real loopback sockets\)", out)
    assert "1. request/reply" in out and "reply 'HELLO, AMQP'" in out and "reply-to 'dynamic/" in out
    assert "2. one-way cast" in out and "received 'user 42 logged in'" in out
    assert "3. fanout" in out
    for n in (1, 2, 3):
        assert f"subscriber {n} received ['markets up', 'rain tomorrow', 'team wins']" in out
    assert "4. competing consumers" in out and "each job went to exactly one worker: 60 of 60" in out
    taken = [int(n) for n in re.findall(r"worker [ABC] \(\d+ ms per job\) took (\d+) jobs", out)]
    assert len(taken) == 3 and sum(taken) == 60
    assert re.search(r"5\. bulk: 5000 messages", out)
    assert re.search(r"sent and received 5000 messages of 100 bytes in [\d.]+ s: \d+ messages per second", out)
    assert re.search(r"amqp10 demo: all steps passed in [\d.]+ s", out)


def test_python_m_amqp10_without_a_command_prints_help_and_exits_2() -> None:
    done = amqp10()
    assert done.returncode == 2
    assert "serve" in done.stdout and "trace" in done.stdout and "demo" in done.stdout


def test_amqp10_serve_help_says_production_uses_a_broker_or_router() -> None:
    done = amqp10("serve", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for name in ("RabbitMQ", "Artemis", "qpidd", "Dispatch", "skupper-router", "development and tests"):
        assert name in text


def test_console_script_amqp10_is_the_cli_main() -> None:
    [entry] = [ep for ep in importlib.metadata.entry_points(group="console_scripts") if ep.name == "amqp10"]
    assert entry.load() is main


def _advertised_idle_time_out(*serve_args: str) -> object:
    """Start ``amqp10 serve`` with ``serve_args``; open AMQP on a raw socket and return the
    idle-time-out its OPEN advertises."""
    server = Running("serve", "--port", "0", *serve_args)
    try:
        port = int(server.wait_for(r"listening on amqp://127\.0\.0\.1:(\d+)").group(1))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(FrameFactory.amqp_header + FrameFactory.frame(Open(container_id="probe")))
            reader = FrameReader(1 << 20)
            while True:
                data = sock.recv(65536)
                assert data, "serve closed before its OPEN"
                reader.feed(data)
                if reader.buffered >= 8 and reader.read_header() is not None:
                    break
            frames = reader.read_frames()
            while not frames:
                data = sock.recv(65536)
                assert data, "serve closed before its OPEN"
                reader.feed(data)
                frames = reader.read_frames()
            body = decode_body(frames[0])[0]
            assert isinstance(body, Open)
            return body.idle_time_out
    finally:
        server.stop()


def test_amqp10_serve_closes_silent_clients_after_60_s_by_default_and_never_with_idle_timeout_0() -> None:
    # Advertised as half its threshold (spec 2.4.5): 60 s -> 30000 ms.
    assert _advertised_idle_time_out() == 30000
    assert _advertised_idle_time_out("--idle-timeout", "0") is None
    assert _advertised_idle_time_out("--idle-timeout", "5") == 2500
