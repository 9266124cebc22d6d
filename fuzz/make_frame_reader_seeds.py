"""Write the seed corpus of ``fuzz_frame_reader.py`` into ``fuzz/corpus/frame_reader/``.

Run from the repository root: ``python fuzz/make_frame_reader_seeds.py``. Deterministic: the
same tree writes the same files, so regenerating shows up in ``git diff`` only when the engine's
bytes changed. Each seed is one fuzzer input (``frame_scenarios.make_input``):

- ``amqp10-*``: what our own engine, as the peer, sends to the engine under test in a whole
  conversation (header, optional SASL, OPEN, BEGIN, ATTACH both ways, FLOW, single- and
  multi-frame TRANSFERs, a pre-settled one, DISPOSITIONs, a drain, DETACH, END, CLOSE), for
  both roles, every SASL mechanism, small and large frames, with and without idle-time-out; and
  the same conversation cut after each prelude (so the fuzzer starts deep in the session).
  Split points are the recorded wire chunking.
- ``proton-*``: what python-qpid-proton's ``proton.Transport`` sends in the same role
  (with and without SASL ANONYMOUS), whose encoding choices differ from ours.
- ``edge-*``: a handful of hand-made streams (heartbeats, extended headers, a frame at the
  size limit, a TLS header, bad sizes) that the reader has special cases for.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))  # tests/support: the in-memory Proton pump

from frame_scenarios import Variant, make_input, new_engine, record_exchange  # noqa: E402

from amqp10.codec.message import Message  # noqa: E402
from amqp10.codec.spec import Error  # noqa: E402
from amqp10.engine import Connection  # noqa: E402
from amqp10.engine.link import Receiver, Sender  # noqa: E402
from amqp10.testing import FrameFactory  # noqa: E402

OUT = HERE / "corpus" / "frame_reader"


# -- stages the peer goes through after setup ------------------------------------------------
def _links(peer: Connection) -> list[Any]:
    return [link for session in peer.sessions for link in session.links]


def send_messages(peer: Connection) -> None:
    for link in _links(peer):
        if isinstance(link, Sender):
            link.send(Message(body="small").encode())
            link.send(Message(body=bytes(range(256)) * 8).encode())  # several frames at 512
            link.send(Message(body=None).encode(), settled=True)


def drain(peer: Connection) -> None:
    for link in _links(peer):
        if isinstance(link, Receiver):
            link.drain()


def detach(peer: Connection) -> None:
    for link in _links(peer):
        link.detach(closed=True)


def end(peer: Connection) -> None:
    for session in peer.sessions:
        session.end()


def close(peer: Connection) -> None:
    peer.close()


def close_with_error(peer: Connection) -> None:
    peer.close(Error(condition="amqp:internal-error", description="seed"))


STAGES = [send_messages, drain, detach, end, close]


def _sizes(chunks: list[bytes]) -> list[int]:
    """Recorded chunk sizes as split points (each at most 256; longer chunks are split)."""
    sizes: list[int] = []
    for chunk in chunks:
        n = len(chunk)
        while n > 256:
            sizes.append(256)
            n -= 256
        sizes.append(n)
    return sizes[:15]


def our_seeds() -> dict[str, bytes]:
    seeds: dict[str, bytes] = {}
    for server in (False, True):
        role = "server" if server else "client"
        for sasl in range(4):
            for small in (False, True):
                for idle in (False, True):
                    if sasl and idle:
                        continue  # keep the corpus small: idle is orthogonal to SASL
                    v = Variant(server, 0, sasl, small, idle)
                    stages = STAGES if sasl != 2 else [*STAGES[:-1], close_with_error]
                    log = record_exchange(v, stages)
                    chunks = log.peer_setup + log.peer_after
                    tag = f"{role}-sasl{sasl}-{'small' if small else 'large'}{'-idle' if idle else ''}"
                    seeds[f"amqp10-{tag}-whole"] = make_input(v, b"".join(chunks), _sizes(chunks))
        for small in (False, True):
            # The same conversation after each prelude: the fuzzer starts past the handshake.
            size = "small" if small else "large"
            full = record_exchange(Variant(server, 3, 0, small, False), STAGES)
            stream = b"".join(full.peer_setup + full.peer_after)
            first = full.peer_setup[0]
            open_end = 8 + int.from_bytes(first[8:12], "big")
            for prelude, rest in ((1, stream[8:]), (2, stream[open_end:])):
                seeds[f"amqp10-{role}-prelude{prelude}-{size}"] = make_input(
                    Variant(server, prelude, 0, small, False), rest
                )
            after = full.peer_after
            seeds[f"amqp10-{role}-prelude3-{size}"] = make_input(
                Variant(server, 3, 0, small, False), b"".join(after), _sizes(after)
            )
            for i, stage in enumerate(STAGES):
                one = record_exchange(Variant(server, 3, 0, small, False), [stage]).peer_after
                seeds[f"amqp10-{role}-prelude3-{size}-{stage.__name__}"] = make_input(
                    Variant(server, 3, 0, small, False), b"".join(one), _sizes(one)
                )
    return seeds


# -- Proton as the peer ------------------------------------------------------------------------
def proton_seeds() -> dict[str, bytes]:
    try:
        import proton
        from support.proton_pump import ProtonEnd, accept_proton
    except ImportError as exc:  # pragma: no cover - the test extra has proton
        print(f"skipping Proton seeds: {exc}", file=sys.stderr)
        return {}
    seeds: dict[str, bytes] = {}
    for server, sasl in ((True, 0), (True, 1), (False, 0), (False, 1)):
        variant = Variant(server, 0, sasl, False, False)

        def configure(transport: Any, conn: Any, sasl: int = sasl) -> None:
            if sasl:
                transport.sasl().allowed_mechs("ANONYMOUS")

        end = ProtonEnd(server=not server, configure=configure)
        ours, driver = new_engine(variant)
        chunks: list[bytes] = []
        pconn = end.connection
        if server:  # Proton is the client: it opens everything
            pconn.open()
            psession = pconn.session()
            psession.open()
            psender = psession.sender("p-send")
            psender.target.address = "q"
            psender.open()
            preceiver = psession.receiver("p-recv")
            preceiver.source.address = "q"
            preceiver.open()
            preceiver.flow(10)
        sent = False
        for _ in range(200):
            moved = False
            data = ours.data_to_send()
            if data:
                end.transport.push(data)
                moved = True
            pending = end.transport.pending()
            if pending > 0:
                out = end.transport.peek(pending)
                end.transport.pop(pending)
                chunks.append(out)
                driver.react(ours.receive_data(out))
                moved = True
            end.take_events()
            if accept_proton(pconn):
                moved = True
                if not server:
                    link = pconn.link_head(0)
                    while link is not None:
                        if link.is_receiver:
                            link.flow(10)
                        link = link.next(0)
            link = pconn.link_head(0)
            while link is not None and not sent:
                if link.is_sender and link.credit > 0:
                    delivery = link.delivery(b"tag-1")
                    link.send(Message(body="from proton", application_properties={"k": 1}).encode())
                    link.advance()
                    sent = delivery is not None
                    moved = True
                link = link.next(0)
            if not moved:
                if not pconn.state & proton.Endpoint.LOCAL_CLOSED:
                    pconn.close()
                    continue
                break
        role = "server" if server else "client"
        seeds[f"proton-{role}-sasl{sasl}"] = make_input(variant, b"".join(chunks), _sizes(chunks))
    return seeds


# -- hand-made edges -------------------------------------------------------------------------
def edge_seeds() -> dict[str, bytes]:
    ff = FrameFactory
    reader_only = Variant(True, 1, 0, True, False)  # server after the header: frames next
    tls = b"AMQP\x02\x01\x00\x00"
    return {
        "edge-heartbeats": make_input(reader_only, ff.heartbeat * 4, [3, 5, 8]),
        "edge-extended-header": make_input(reader_only, ff.raw(16, doff=4, body=b"\x00" * 8)),
        "edge-frame-at-512": make_input(reader_only, ff.raw(512, body=b"\x00" * 504)),
        "edge-frame-over-512": make_input(reader_only, ff.raw(513, body=b"\x00" * 505)),
        "edge-size-below-8": make_input(reader_only, ff.raw(7)),
        "edge-doff-past-end": make_input(reader_only, ff.raw(8, doff=3)),
        "edge-frame-type-2": make_input(reader_only, ff.raw(8, frame_type=2)),
        "edge-tls-header": make_input(Variant(True, 0, 0, False, False), tls),
        "edge-sasl-header-to-plain-server": make_input(Variant(True, 0, 0, False, False), ff.sasl_header),
        "edge-amqp-header-to-sasl-client": make_input(Variant(False, 0, 1, False, False), ff.amqp_header),
        "edge-eof-mid-frame": make_input(reader_only, ff.heartbeat[:5]),
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    seeds = {**our_seeds(), **proton_seeds(), **edge_seeds()}
    for old in OUT.glob("*.bin"):
        if not old.name.startswith("regress_"):  # regressions are kept by hand
            old.unlink()
    for name, data in sorted(seeds.items()):
        (OUT / f"{name}.bin").write_bytes(data)
    digest = hashlib.sha256(b"".join(seeds[n] for n in sorted(seeds))).hexdigest()[:12]
    print(f"wrote {len(seeds)} seeds to {OUT.relative_to(HERE.parent)} (sha256 {digest})")


if __name__ == "__main__":
    main()
