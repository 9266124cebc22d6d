"""``limits``, ``incoming_window`` and ``outgoing_window`` reach the engine through
``connect()`` (both adapters), ``listen()`` / ``amqp10.trio.serve()`` and ``amqp10 serve``,
over real loopback sockets.

The other side is a sans-IO engine driven on a socket in a thread (``EnginePeer``), which
records what it was told: the windows of the peer's BEGIN, the peer's max-frame-size, and the
max-message-size of the peer's receiving links.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import trio

import amqp10
import amqp10.trio
from amqp10 import DecodeError, Limits, Message
from amqp10._options import client_options, server_configs
from amqp10.codec.spec import Target
from amqp10.engine import Connection
from amqp10.engine.events import LinkAttached, LinkRemotelyAttached, SessionBegun, SessionRemotelyBegun
from amqp10.engine.link import Receiver as EngineReceiver
from amqp10.peer import Broker
from amqp10.peer.server import start
from support.engine_pairs import client_config
from support.trio_helpers import serving, trio_test

WINDOWS = {"incoming_window": 77, "outgoing_window": 555}


class EnginePeer:
    """One connection, driven by a sans-IO engine on a thread over a loopback socket.

    Server role (``EnginePeer.listening()``): answers every session and link, grants credit
    to the client's senders. Client role (``EnginePeer.connecting(url)``): begins a session
    and attaches a sender to ``q``. Either way it records ``begin_windows`` (the peer's
    BEGIN incoming and outgoing windows), ``peer_max_frame_size`` and
    ``receiver_max_message_size`` (what the peer's receiving link advertised).
    """

    def __init__(self, engine: Connection, sock: socket.socket | None, listener: socket.socket | None) -> None:
        self.engine = engine
        self.begin_windows: tuple[int, int] | None = None
        self.peer_max_frame_size: int | None = None
        self.receiver_max_message_size: Any = "not attached"
        self.error: BaseException | None = None
        self._sock = sock
        self._listener = listener
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @classmethod
    def listening(cls) -> "EnginePeer":
        listener = socket.create_server(("127.0.0.1", 0))
        engine = Connection(server_configs(tls_active=False)(None))
        peer = cls(engine, None, listener)
        peer.url = f"amqp://127.0.0.1:{listener.getsockname()[1]}"
        return peer

    @classmethod
    def connecting(cls, port: int) -> "EnginePeer":
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        return cls(Connection(client_config()), sock, None)

    url = ""

    def wait(self) -> "EnginePeer":
        """Wait (bounded) until the peer recorded a BEGIN and a link's answer."""
        assert self._done.wait(15), "no BEGIN and ATTACH within 15 s"
        if self.error is not None:
            raise self.error
        return self

    def join(self) -> "EnginePeer":
        """Wait (bounded) for the connection's end: the client role closes it once it has
        recorded what it came for; the server role answers the client's close."""
        self._thread.join(15)
        if self._listener is not None:
            self._listener.close()
        assert not self._thread.is_alive(), "the connection did not end within 15 s"
        if self.error is not None:
            raise self.error
        return self

    def _run(self) -> None:
        try:
            if self._listener is not None:
                self._listener.settimeout(10)
                self._sock, _ = self._listener.accept()
            assert self._sock is not None
            with self._sock as sock:
                sock.settimeout(10)
                self._serve(sock)
        except BaseException as exc:  # reported by wait(), in the test's thread
            self.error = exc
            self._done.set()

    def _serve(self, sock: socket.socket) -> None:
        engine = self.engine
        engine.open()
        if self._listener is None:
            engine.begin_session()
        deadline = time.monotonic() + 10
        closing = False
        while time.monotonic() < deadline and not engine.finished:
            if self._done.is_set() and self._listener is None and not closing:
                engine.close()  # the client role ends the connection once it has its answers
                closing = True
            sock.sendall(engine.data_to_send())
            data = sock.recv(65536)
            if not data:
                break
            for event in engine.receive_data(data):
                self._on_event(event)
            self.peer_max_frame_size = engine.remote_max_frame_size
        sock.sendall(engine.data_to_send())

    def _on_event(self, event: Any) -> None:
        if isinstance(event, (SessionRemotelyBegun, SessionBegun)):
            window = event.session.window
            self.begin_windows = (window.remote_incoming_window, window.remote_outgoing_window)
            if isinstance(event, SessionRemotelyBegun):
                event.session.begin()
            else:
                event.session.attach_sender("s", target=Target(address="q"))
        elif isinstance(event, LinkRemotelyAttached):
            link = event.link
            link.attach()
            if isinstance(link, EngineReceiver):
                link.flow(10)
            else:
                self.receiver_max_message_size = link.remote_max_message_size
                self._done.set()
        elif isinstance(event, LinkAttached):
            self.receiver_max_message_size = event.link.remote_max_message_size
            self._done.set()


# -- connect() -------------------------------------------------------------------------------------

def test_blocking_connect_advertises_the_given_session_windows_and_max_message_size() -> None:
    peer = EnginePeer.listening()
    with amqp10.connect(peer.url, limits=Limits(max_message_size=4321), timeout=10, **WINDOWS) as conn:  # type: ignore[arg-type]
        conn.open_receiver("q")
        peer.wait()
    peer.join()
    assert peer.begin_windows == (77, 555)
    assert peer.receiver_max_message_size == 4321


@trio_test
async def test_trio_connect_advertises_the_given_session_windows_and_max_message_size() -> None:
    peer = EnginePeer.listening()
    async with amqp10.trio.connect(peer.url, limits=Limits(max_message_size=4321), timeout=10, **WINDOWS) as conn:  # type: ignore[arg-type]
        await conn.open_receiver("q")
        peer.wait()
    await trio.to_thread.run_sync(peer.join)
    assert peer.begin_windows == (77, 555)
    assert peer.receiver_max_message_size == 4321


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


def test_blocking_connect_limits_bound_the_decoding_of_received_messages() -> None:
    with start("127.0.0.1", 0) as server:
        with amqp10.connect(server.url, timeout=10) as conn:
            conn.open_sender("deep").send(Message(body=_deep(10)))
        with amqp10.connect(server.url, limits=Limits(max_depth=5), timeout=10) as conn:
            delivery = conn.open_receiver("deep").receive(timeout=10)
            with pytest.raises(DecodeError, match="depth"):
                delivery.message


@trio_test
async def test_trio_connect_limits_bound_the_decoding_of_received_messages() -> None:
    with start("127.0.0.1", 0) as server:
        async with amqp10.trio.connect(server.url, timeout=10) as conn:
            sender = await conn.open_sender("deep")
            await sender.send(Message(body=_deep(10)))
        async with amqp10.trio.connect(server.url, limits=Limits(max_depth=5), timeout=10) as conn:
            receiver = await conn.open_receiver("deep")
            delivery = await receiver.receive(timeout=10)
            with pytest.raises(DecodeError, match="depth"):
                delivery.message


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"incoming_window": 0}, ValueError),
        ({"outgoing_window": 1 << 32}, ValueError),
        ({"limits": {"max_depth": 3}}, TypeError),
    ],
)
def test_connect_refuses_bad_windows_and_limits_before_connecting(options: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        client_options("amqp://127.0.0.1:1", **options)
    with pytest.raises(error):
        server_configs(tls_active=False, **options)


# -- listen() / trio serve() / amqp10 serve --------------------------------------------------------

SERVER_OPTIONS: dict[str, Any] = {"limits": Limits(max_message_size=4321), "max_frame_size": 4096, **WINDOWS}


def test_blocking_listen_advertises_the_given_session_windows_and_limits() -> None:
    with amqp10.listen("127.0.0.1", 0, Broker(), **SERVER_OPTIONS) as listener:
        peer = EnginePeer.connecting(listener.port).wait().join()
    assert peer.begin_windows == (77, 555)
    assert peer.peer_max_frame_size == 4096
    assert peer.receiver_max_message_size == 4321


@trio_test
async def test_trio_serve_advertises_the_given_session_windows_and_limits() -> None:
    async with serving(Broker(), **SERVER_OPTIONS) as server:
        peer = await trio.to_thread.run_sync(lambda: EnginePeer.connecting(server.port).wait().join())
    assert peer.begin_windows == (77, 555)
    assert peer.peer_max_frame_size == 4096
    assert peer.receiver_max_message_size == 4321


@pytest.mark.parametrize("adapter", [[], ["--trio"]], ids=["blocking", "trio"])
def test_amqp10_serve_flags_set_max_frame_size_max_message_size_and_incoming_window(adapter: list[str]) -> None:
    command = [sys.executable, "-m", "amqp10", "serve", "--port", "0", "--max-frame-size", "4096",
               "--max-message-size", "4321", "--incoming-window", "77", *adapter]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        match = re.search(r"listening on amqp://127\.0\.0\.1:(\d+)", server.stdout.readline())
        assert match, server.stderr.read() if server.poll() is not None else "no listening line"  # type: ignore[union-attr]
        peer = EnginePeer.connecting(int(match.group(1))).wait().join()
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
    assert peer.peer_max_frame_size == 4096
    assert peer.begin_windows is not None and peer.begin_windows[0] == 77
    assert peer.receiver_max_message_size == 4321


def test_amqp10_serve_refuses_an_out_of_range_limit_with_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "amqp10", "serve", "--port", "0", "--incoming-window", "0"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2
    assert done.stderr == "amqp10 serve: incoming_window must be in [1, 2**32-1] transfer frames, got 0\n"
