"""A server-side interop cell whose peer client cannot run reports that at once: skipped with
instructions, or failed under ``AMQP10_REQUIRE_PEERS=1``, before its scenario starts.

The cell used here (the anonymous relay against rhea, served by the blocking adapter) spawns
the peer client in a worker thread while the test's own thread waits on a request; a check
made only inside that thread would surface as the request's 15 s ``Timeout`` instead. Each
test runs the cell in a child pytest whose ``PATH`` holds no ``node``, so rhea is missing
whether or not this machine has it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CELL = "tests/interop/test_matrix_server.py::test_peer_client_replies_through_our_anonymous_relay[rhea-client-blocking]"


def _run_cell(empty_dir: Path, *, require_peers: bool) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "AMQP10_REQUIRE_PEERS"}
    env["PATH"] = str(empty_dir)  # no node on it
    if require_peers:
        env["AMQP10_REQUIRE_PEERS"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rsf", "-p", "no:randomly", "-p", "no:cacheprovider", CELL],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    return done.returncode, done.stdout + done.stderr


def test_server_cell_skips_with_instructions_when_its_peer_client_is_missing(tmp_path: Path) -> None:
    status, out = _run_cell(tmp_path, require_peers=False)
    assert status == 0 and "1 skipped" in out, out
    assert "node is not available: install Node.js" in out, out


def test_server_cell_fails_naming_the_missing_peer_client_under_AMQP10_REQUIRE_PEERS(tmp_path: Path) -> None:
    status, out = _run_cell(tmp_path, require_peers=True)
    # The check runs in the cell's set-up, so pytest counts it as an error: CI goes red.
    assert status == 1 and "1 error" in out, out
    assert "AMQP10_REQUIRE_PEERS=1 and node is not available" in out, out
    assert "Timeout" not in out, out
