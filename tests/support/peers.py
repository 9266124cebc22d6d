"""Independent AMQP 1.0 peers for interop tests: where the running ones are, and how a test
starts its own.

Brokers and routers (RabbitMQ, Proton's C and C++ example brokers, qpidd, the Qpid Dispatch network,
and the container-only ones) run outside
the test process. A test finds one through an environment variable::

    AMQP10_PEER_<NAME>=host:port          e.g. AMQP10_PEER_RABBITMQ=127.0.0.1:5672
    AMQP10_PEER_<NAME>_USER / _PASSWORD   credentials for SASL PLAIN, when the peer has them
    AMQP10_PEER_<NAME>_CA                 PEM file that verifies the peer's TLS certificate

``.ci/peers/start`` writes these for the CI peers into ``.peers/env``; ``interop/README.md`` lists
them for the container peers. ``peer(name)`` returns ``(host, port)``; when the variable is
missing the test is skipped with a message saying how to get that peer, except under CI
(``AMQP10_REQUIRE_PEERS=1``), where a missing peer fails the test instead.

The proton-python and rhea listeners are not started by the scripts: each test spawns its own,
with the behaviour it wants (``interop/proton/listener.py --help``; the rhea one takes the same
flags), on a free port, and the listener is stopped by PID when the test ends::

    with spawn_listener("proton", "--outcome", "reject") as listener:
        connect(listener.url("queue-a"))
        ...
        listener.wait_for_event(lambda e: e["event"] == "message")

``run_client("rhea", url, "send", "--count", "10")`` runs the proton or rhea client script against
our listener and returns its JSON report.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import pytest

__all__ = [
    "HOWTO",
    "ClientRun",
    "Listener",
    "PeerInfo",
    "missing_peer",
    "peer",
    "peer_info",
    "peers_required",
    "run_client",
    "spawn_listener",
]

REPO = Path(__file__).resolve().parents[2]
INTEROP = REPO / "interop"

_CI_PEERS_HOWTO = (
    "run `.ci/peers/install` once (as root; Debian 12), then `.ci/peers/start` and "
    "`. .peers/env` in the shell that runs pytest; `.ci/peers/stop` afterwards"
)
_COMPOSE_HOWTO = (
    "start it with `docker compose -f interop/compose.yaml up -d {service}` and "
    "`export AMQP10_PEER_{name}=127.0.0.1:{port}` (see interop/README.md)"
)

#: How to get each known peer, for the skip/fail message.
HOWTO: dict[str, str] = {
    "RABBITMQ": _CI_PEERS_HOWTO,
    "RABBITMQ_TLS": _CI_PEERS_HOWTO,
    "PROTON_C_BROKER": _CI_PEERS_HOWTO,
    "PROTON_C_BROKER_TLS": _CI_PEERS_HOWTO,
    "PROTON_CPP_BROKER": _CI_PEERS_HOWTO,
    "QPIDD": _CI_PEERS_HOWTO,
    "ROUTER_A": _CI_PEERS_HOWTO,
    "ROUTER_A_TLS": _CI_PEERS_HOWTO,
    "ROUTER_B": _CI_PEERS_HOWTO,
    "ROUTER_EDGE": _CI_PEERS_HOWTO,
    "ARTEMIS": _COMPOSE_HOWTO.format(service="artemis", name="ARTEMIS", port=5682),
    "ACTIVEMQ": _COMPOSE_HOWTO.format(service="activemq", name="ACTIVEMQ", port=5683),
}

_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]+)):(?P<port>\d{1,5})$")


def peers_required() -> bool:
    """True under CI (``AMQP10_REQUIRE_PEERS=1``): a missing peer is a failure, not a skip."""
    return os.environ.get("AMQP10_REQUIRE_PEERS") == "1"


def missing_peer(what: str, howto: str) -> NoReturn:
    """Skip the test because ``what`` is unavailable, or fail it when peers are required."""
    message = f"{what} is not available: {howto}"
    if peers_required():
        pytest.fail(f"AMQP10_REQUIRE_PEERS=1 and {message}", pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class PeerInfo:
    """A running peer as the environment describes it."""

    name: str
    host: str
    port: int
    user: str | None = None
    password: str | None = None
    ca_file: str | None = None

    def url(self, address: str = "", *, tls: bool = False, credentials: bool = False) -> str:
        """``amqp[s]://[user:password@]host:port[/address]`` for this peer."""
        auth = (f"{quote(self.user, safe='')}:{quote(self.password or '', safe='')}@"
                if credentials and self.user is not None else "")
        host = f"[{self.host}]" if ":" in self.host else self.host
        path = f"/{address}" if address else ""
        return f"{'amqps' if tls else 'amqp'}://{auth}{host}:{self.port}{path}"


def peer_info(name: str) -> PeerInfo:
    """Read ``AMQP10_PEER_<NAME>`` (and its ``_USER``, ``_PASSWORD``, ``_CA``), or skip/fail."""
    key = name.upper().replace("-", "_")
    variable = f"AMQP10_PEER_{key}"
    value = os.environ.get(variable, "").strip()
    if not value:
        howto = HOWTO.get(key, "set it to host:port of a running peer")
        missing_peer(f"peer {key} ({variable} is not set)", howto)
    match = _HOST_PORT.match(value)
    if match is None or not 0 < int(match["port"]) < 65536:
        # A wrong value is a broken set-up, never a reason to skip.
        pytest.fail(f"{variable}={value!r} is not host:port (e.g. 127.0.0.1:5672 or [::1]:5672)", pytrace=False)
    return PeerInfo(
        name=key,
        host=match["v6"] or match["host"],
        port=int(match["port"]),
        user=os.environ.get(f"{variable}_USER") or None,
        password=os.environ.get(f"{variable}_PASSWORD") or None,
        ca_file=os.environ.get(f"{variable}_CA") or os.environ.get("AMQP10_PEER_TLS_CA") or None,
    )


def peer(name: str) -> tuple[str, int]:
    """``(host, port)`` of the peer named by ``AMQP10_PEER_<NAME>``; skips (or fails under CI)
    with instructions when it is not set."""
    info = peer_info(name)
    return info.host, info.port


# -- listeners a test owns ---------------------------------------------------------------------

_LISTENERS = {
    "proton": INTEROP / "proton" / "listener.py",
    "rhea": INTEROP / "rhea" / "listener.js",
}
_CLIENTS = {
    "proton": INTEROP / "proton" / "client.py",
    "rhea": INTEROP / "rhea" / "client.js",
}
_READY = re.compile(r"^listening on (\d+)$")


def _command(kind: str, script: Path) -> list[str]:
    """The interpreter and script for ``kind``, or skip/fail when its runtime is missing."""
    if kind == "proton":
        try:
            import proton  # noqa: F401  (only checks that the peer library is installed)
        except ImportError:
            missing_peer("python-qpid-proton", "pip install python-qpid-proton (or run .ci/peers/install)")
        return [sys.executable, str(script)]
    if kind == "rhea":
        node = shutil.which("node")
        if node is None:
            missing_peer("node", "install Node.js >= 18, then run .ci/peers/install")
        if not (INTEROP / "rhea" / "node_modules" / "rhea" / "package.json").is_file():
            missing_peer("rhea", "run `npm ci` in interop/rhea (or .ci/peers/install)")
        return [node, str(script)]
    raise ValueError(f"unknown peer kind {kind!r}: use 'proton' or 'rhea'")


def require_client(kind: str) -> None:
    """Skip now (or fail under ``AMQP10_REQUIRE_PEERS=1``) when ``kind``'s client script cannot
    run. Call it in the test's own thread before a scenario starts: ``run_client`` checks too,
    but inside a spawned part (a worker thread, a trio task) its skip only surfaces once the
    test's own waits have timed out."""
    _command(kind, _CLIENTS[kind])


class Listener:
    """A running listener process: its address, its PID, and the events it printed."""

    def __init__(self, kind: str, process: subprocess.Popen[bytes], output: Path, port: int) -> None:
        self.kind = kind
        self.process = process
        self.output = output
        self.host = "127.0.0.1"
        self.port = port

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, address: str = "", *, tls: bool = False, user: str | None = None,
            password: str | None = None) -> str:
        """``amqp[s]://[user:password@]127.0.0.1:PORT[/address]``."""
        auth = f"{quote(user, safe='')}:{quote(password or '', safe='')}@" if user is not None else ""
        path = f"/{address}" if address else ""
        return f"{'amqps' if tls else 'amqp'}://{auth}{self.host}:{self.port}{path}"

    def log(self) -> str:
        """Everything the listener wrote so far (stdout and stderr)."""
        return self.output.read_text(errors="replace")

    def events(self) -> list[dict[str, Any]]:
        """The JSON events printed so far (needs ``--events``), oldest first."""
        found = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a line still being written
        return found

    def wait_for_event(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        """The first event matching ``predicate``, polling for at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events():
                if predicate(event):
                    return event
            if time.monotonic() >= deadline:
                pytest.fail(f"{self.kind} listener: no matching event within {timeout}s; log:\n{self.log()}")
            time.sleep(0.02)

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the process by PID, then kill it if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)


@contextmanager
def spawn_listener(kind: str, *args: str, startup_timeout: float = 20.0) -> Iterator[Listener]:
    """Start ``interop/<kind>/listener`` on a free 127.0.0.1 port with ``args``; yield it once it
    prints ``listening on PORT``; stop it by PID on exit, whatever happened.

    Output goes to a file, not a pipe, so a chatty listener can never block on a full pipe.
    """
    command = _command(kind, _LISTENERS[kind]) + ["--host", "127.0.0.1", "--port", "0", *args]
    workdir = Path(tempfile.mkdtemp(prefix=f"amqp10-{kind}-listener-"))
    output = workdir / "output.log"
    with output.open("wb") as sink:
        # Same session as pytest: a Ctrl-C reaches the listener too.
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                                   cwd=workdir)
    listener: Listener | None = None
    try:
        deadline = time.monotonic() + startup_timeout
        port = None
        while port is None:
            first = output.read_text(errors="replace").split("\n", 1)
            match = _READY.match(first[0]) if len(first) > 1 else None
            if match:
                port = int(match[1])
            elif process.poll() is not None:
                pytest.fail(f"{kind} listener exited with {process.returncode} before listening:\n"
                            f"{' '.join(command)}\n{output.read_text(errors='replace')}")
            elif time.monotonic() >= deadline:
                pytest.fail(f"{kind} listener did not listen within {startup_timeout}s:\n"
                            f"{' '.join(command)}\n{output.read_text(errors='replace')}")
            else:
                time.sleep(0.02)
        listener = Listener(kind, process, output, port)
        yield listener
    finally:
        if listener is not None:
            listener.stop()
        elif process.poll() is None:
            process.kill()
            process.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True)
class ClientRun:
    """What a client script did: its exit status, JSON report and stderr."""

    returncode: int
    report: dict[str, Any]
    stderr: str


def run_client(kind: str, url: str, scenario: str, *args: str, timeout: float = 60.0) -> ClientRun:
    """Run ``interop/<kind>/client`` (``send``, ``receive``, ``request`` or ``respond``) against
    ``url`` and return its report. The script's own ``--timeout`` defaults to 30 s; ``timeout``
    here bounds the whole process and fails the test if it is exceeded."""
    command = _command(kind, _CLIENTS[kind]) + [url, scenario, *args]
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{kind} client still running after {timeout}s: {' '.join(command)}\n{exc.stderr!r}")
    stdout = done.stdout.decode(errors="replace").strip().splitlines()
    stderr = done.stderr.decode(errors="replace")
    try:
        report = json.loads(stdout[-1]) if stdout else {}
    except json.JSONDecodeError:
        pytest.fail(f"{kind} client printed no JSON report (exit {done.returncode}):\n{stdout}\n{stderr}")
    return ClientRun(done.returncode, report, stderr)
