"""Shared helpers for engine tests: wired engine pairs with the usual handshakes done.

Everything goes through the public engine API and ``amqp10.testing``; nothing pokes at
private state.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

from amqp10.codec.spec import Source, Target
from amqp10.engine import Config, Connection, ConnectionRole, Receiver, Sender, Session
from amqp10.engine.events import (
    Event,
    LinkRemotelyAttached,
    SessionRemotelyBegun,
)
from amqp10.testing import EnginePair


def client_config(**kw: Any) -> Config:
    kw.setdefault("container_id", "client")
    return Config(role=ConnectionRole.CLIENT, **kw)


def server_config(**kw: Any) -> Config:
    kw.setdefault("container_id", "server")
    return Config(role=ConnectionRole.SERVER, **kw)


def make_pair(client: Config | None = None, server: Config | None = None) -> EnginePair:
    return EnginePair(Connection(client or client_config()), Connection(server or server_config()))


def opened_pair(client: Config | None = None, server: Config | None = None) -> EnginePair:
    pair = make_pair(client, server)
    pair.client.open()
    pair.server.open()
    pair.pump()
    return pair


def accept_all(events: Iterable[Event]) -> None:
    """Answer every peer-initiated session and link, as a permissive broker would."""
    for e in events:
        if isinstance(e, SessionRemotelyBegun):
            e.session.begin()
        elif isinstance(e, LinkRemotelyAttached):
            e.link.attach()


def pump_accepting(pair: EnginePair, rounds: int = 5) -> tuple[list[Event], list[Event]]:
    all_c: list[Event] = []
    all_s: list[Event] = []
    for _ in range(rounds):
        c, s = pair.pump()
        all_c += c
        all_s += s
        accept_all(c)
        accept_all(s)
        if not c and not s:
            break
    return all_c, all_s


def of_type(events: Iterable[Event], cls: type) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


def peer_link(events: Iterable[Event]) -> Any:
    (e,) = of_type(events, LinkRemotelyAttached)
    return e.link


def link_pair(
    pair: EnginePair,
    *,
    session_options: dict[str, Any] | None = None,
    sender_options: dict[str, Any] | None = None,
    name: str = "link",
    client_sends: bool = True,
) -> tuple[Sender, Receiver, Session, Session]:
    """Begin a session from the client and attach a link; return (sender, receiver,
    client session, server session). ``client_sends`` picks which side sends."""
    session = pair.client.begin_session(**(session_options or {}))
    opts = dict(sender_options or {})
    opts.setdefault("target", Target(address="q"))
    opts.setdefault("source", Source(address="src"))
    local: Sender | Receiver
    if client_sends:
        local = session.attach_sender(name, **opts)
    else:
        local = session.attach_receiver(name, **opts)
    c, s = pump_accepting(pair)
    remote = peer_link(s)
    server_session = remote.session
    if client_sends:
        assert isinstance(local, Sender) and isinstance(remote, Receiver)
        return local, remote, session, server_session
    assert isinstance(local, Receiver) and isinstance(remote, Sender)
    return remote, local, server_session, session


__all__ = [
    "client_config",
    "server_config",
    "make_pair",
    "opened_pair",
    "accept_all",
    "pump_accepting",
    "of_type",
    "peer_link",
    "link_pair",
    "replace",
]
