"""The Qpid Dispatch router network of the interop tests, as a test sees it.

``.ci/peers/start`` runs three routers and qpidd on loopback (interop/router/*.conf.in)::

    edge --(edge)--> A <--(inter-router)-- B --(route-container)--> qpidd

and writes ``AMQP10_PEER_ROUTER_A``, ``_B``, ``_EDGE`` (and ``AMQP10_DISPATCH_HOME``, where the
router is installed) into ``.peers/env``. ``network()`` reads them (skipping with instructions,
or failing under ``AMQP10_REQUIRE_PEERS=1``, when they are missing).

Routers store nothing and learn where receivers are through their routing protocol, which takes
a moment to cross the network. ``wait_for_address`` asks a router's management node (AMQP
management, ``$management``) until it sees the receivers a test attached elsewhere, so a test
never sends before the network knows where to.

``run_router(config)`` starts a router of the test's own (e.g. one that connects to an amqp10
listener as a route container) and stops it by PID.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import amqp10
from amqp10 import Message, Properties
from support.peers import HOWTO, PeerInfo, missing_peer, peer_info

__all__ = ["Network", "network", "wait_for_address", "address_counts", "run_router", "dispatch_home"]

#: The link-routed prefix to qpidd (interop/router/router-b.conf.in).
BROKER_PREFIX = "broker/"


@dataclass(frozen=True)
class Network:
    """The three routers' client listeners."""

    a: PeerInfo
    b: PeerInfo
    edge: PeerInfo


def network() -> Network:
    """The running router network, or skip/fail with how to start it."""
    return Network(peer_info("ROUTER_A"), peer_info("ROUTER_B"), peer_info("ROUTER_EDGE"))


def _management(conn: amqp10.Connection, operation: str, entity_type: str, body: Any) -> Message:
    # Qpid Dispatch answers with the request's correlation-id (not its message-id, which is
    # what amqp10's Requester matches replies by): send the same value in both.
    key = uuid.uuid4().hex
    request = Message(
        body=body,
        properties=Properties(message_id=key, correlation_id=key),
        application_properties={"operation": operation, "type": "org.amqp.management",
                                "entityType": entity_type, "name": "self"},
    )
    reply = conn.request("$management", request, timeout=10)
    status = (reply.application_properties or {}).get("statusCode")
    if status != 200:
        raise AssertionError(f"router management {operation} {entity_type}: {reply.application_properties}")
    return reply


def address_counts(conn: amqp10.Connection, address: str) -> tuple[int, int]:
    """``(local receivers, remote routers with receivers)`` for a mobile ``address`` on the
    router ``conn`` is connected to; ``(0, 0)`` when it does not know the address."""
    reply = _management(conn, "QUERY", "org.apache.qpid.dispatch.router.address",
                        {"attributeNames": ["name", "subscriberCount", "remoteCount"]})
    for name, local, remote in reply.body["results"]:
        # Mobile addresses are keyed "M<phase><address>" (phase 0 for plain addresses).
        if str(name)[:1] == "M" and str(name)[2:] == address:
            return int(local), int(remote)
    return 0, 0


def wait_for_address(router: PeerInfo, address: str, *, local: int = 0, remote: int = 0,
                     timeout: float = 15.0) -> None:
    """Poll ``router`` until it has at least ``local`` receivers of its own for ``address`` and
    knows at least ``remote`` other routers with receivers for it (the routing protocol has
    caught up); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    with amqp10.connect(router.url(), timeout=10) as conn:
        while True:
            seen = address_counts(conn, address)
            if seen[0] >= local and seen[1] >= remote:
                return
            if time.monotonic() >= deadline:
                pytest.fail(f"router {router.name}: {address!r} has {seen[0]} local receiver(s) and "
                            f"{seen[1]} remote router(s) after {timeout}s; wanted {local} and {remote}")
            time.sleep(0.1)


def dispatch_home() -> Path:
    """Where Qpid Dispatch is installed (``AMQP10_DISPATCH_HOME``), or skip/fail."""
    value = os.environ.get("AMQP10_DISPATCH_HOME", "").strip()
    if not value or not (Path(value) / "sbin" / "qdrouterd").is_file():
        missing_peer("Qpid Dispatch (AMQP10_DISPATCH_HOME is not set to its folder)", HOWTO["ROUTER_A"])
    return Path(value)


@contextmanager
def run_router(config: str, port: int, *, startup_timeout: float = 20.0) -> Iterator[Path]:
    """Run ``qdrouterd`` with ``config`` (qdrouterd.conf text) until the block ends; wait until
    it accepts connections on 127.0.0.1:``port``. Yields its log file. Stopped by PID."""
    home = dispatch_home()
    python = home / "lib" / "qpid-dispatch" / "python"
    egg = next((home / "local" / "lib").glob("python3*/dist-packages/qpid_dispatch-*.egg"), None)
    workdir = Path(tempfile.mkdtemp(prefix="amqp10-router-"))
    (workdir / "qdrouterd.conf").write_text(config)
    log = workdir / "router.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in (egg, python) if p is not None))
    env.pop("PYTHONSAFEPATH", None)
    with log.open("wb") as sink:
        process = subprocess.Popen([str(home / "sbin" / "qdrouterd"), "-I", str(python), "-c",
                                    str(workdir / "qdrouterd.conf")],
                                   stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                                   cwd=workdir, env=env)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                pytest.fail(f"qdrouterd exited with {process.returncode}:\n{log.read_text(errors='replace')}")
            try:
                with socketpair_probe(port):
                    break
            except OSError:
                if time.monotonic() >= deadline:
                    pytest.fail(f"qdrouterd did not listen on {port} within {startup_timeout}s:\n"
                                f"{log.read_text(errors='replace')}")
                time.sleep(0.05)
        yield log
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def socketpair_probe(port: int) -> Iterator[None]:
    """A TCP connection to 127.0.0.1:``port`` for the block (raises OSError if refused)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=1):
        yield


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
