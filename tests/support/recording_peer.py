"""A receiving peer in its own process that writes down every message before accepting it:
``python recording_peer.py PORT FILE`` (PORT 0: a free one; it prints ``listening on PORT``).

Kill it (SIGKILL) mid-stream and start it again on the same port: FILE then holds every
message the peer ever accepted, whatever happened to the process, so a test can show that a
reconnecting sender lost nothing it was told was accepted. One connection at a time, one
receiving link per connection; bounded waits (it exits after 60 s without a connection).
"""

from __future__ import annotations

import os
import sys

import amqp10


def main(port: int, path: str) -> None:
    with amqp10.listen("127.0.0.1", port) as listener:
        print(f"listening on {listener.port}", flush=True)
        while True:
            try:
                conn = listener.accept(timeout=60)
            except amqp10.Timeout:
                return
            try:
                receiver = conn.accept_receiver(timeout=30)
                while True:
                    delivery = receiver.receive(timeout=30)
                    with open(path, "a", encoding="utf-8") as out:
                        out.write(f"{delivery.message.body}\n")
                        out.flush()
                        os.fsync(out.fileno())
                    delivery.accept()
            except amqp10.AMQPError:
                continue  # that client went away: serve the next one


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
