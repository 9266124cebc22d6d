"""Heartbeats with the blocking adapter: the I/O thread keeps a silent connection alive across
several idle-time-outs, and gives up on a peer that goes silent."""

from __future__ import annotations

import socket
import threading
import time

import pytest

import amqp10
from amqp10 import Accepted, Message
from amqp10.blocking import connect, listen
from amqp10.engine import Config, Connection, ConnectionRole
from amqp10.engine.events import LinkRemotelyAttached, SessionRemotelyBegun
from amqp10.engine.sasl import SaslServer
from support.broker import QueueBroker

IDLE = 0.2  # seconds; the silent period below is several of these


def test_Connection_stays_open_when_both_sides_are_silent_for_several_idle_timeouts(broker: QueueBroker) -> None:
    with listen("127.0.0.1", 0, broker, idle_timeout=IDLE) as served:
        with connect(served.url, idle_timeout=IDLE, timeout=5) as conn:
            sender = conn.open_sender("q")
            time.sleep(5 * IDLE)  # no user calls at all: only the I/O threads talk
            assert not conn.closed
            assert served.call(lambda: len(broker.connections)) == 1
            assert sender.send(Message(body="still here")) == Accepted()


def _silent_server(listener: socket.socket, stop: threading.Event) -> None:
    """Answers the AMQP handshake and attaches, then never ticks: no heartbeats ever."""
    sock, _ = listener.accept()
    sock.settimeout(0.05)
    engine = Connection(Config(container_id="silent", role=ConnectionRole.SERVER, sasl=lambda: SaslServer(allow_anonymous=True)))
    engine.open()
    with sock:
        while not stop.is_set():
            try:
                out = engine.data_to_send()
                if out:
                    sock.sendall(out)
                data = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:  # the client gave up on us and reset the socket: expected
                return
            if not data:
                return
            for event in engine.receive_data(data):
                if isinstance(event, SessionRemotelyBegun):
                    event.session.begin()
                elif isinstance(event, LinkRemotelyAttached):
                    event.link.attach()


def test_Connection_closes_with_resource_limit_exceeded_when_the_peer_stays_silent() -> None:
    stop = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as server:
        thread = threading.Thread(target=_silent_server, args=(server, stop))
        thread.start()
        try:
            conn = connect(f"amqp://127.0.0.1:{server.getsockname()[1]}", idle_timeout=IDLE, timeout=5)
            receiver = conn.open_receiver("q")
            started = time.monotonic()
            with pytest.raises(amqp10.ConnectionClosedError) as info:
                receiver.receive(timeout=5)
            assert info.value.condition == "amqp:resource-limit-exceeded"
            assert IDLE * 0.9 < time.monotonic() - started < 3
            conn.close(timeout=1)
        finally:
            stop.set()
            thread.join(5)
