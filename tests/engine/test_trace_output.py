"""``AMQP10_TRACE_FRM=1`` shows every frame without any logging set up, as ``PN_TRACE_FRM``
does, and goes where the application sends its logs once it has set logging up.

Each case runs in a fresh interpreter: the variable is read once, at import.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: opens a connection between two engines in memory; ``{setup}`` (logging set-up, or nothing) runs first
SCRIPT = """
import sys
{setup}
from amqp10.engine import Config, Connection, ConnectionRole
from amqp10.testing import EnginePair
pair = EnginePair(Connection(Config(container_id="traced-client")), Connection(Config(container_id="traced-server", role=ConnectionRole.SERVER)))
pair.client.open()
pair.server.open()
pair.pump()
"""


def _run(setup: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AMQP10_TRACE_FRM="1", PYTHONSAFEPATH="1")
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.format(setup=setup)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=True,
    )


def test_frames_reach_stderr_when_the_application_configured_no_logging() -> None:
    result = _run()
    lines = result.stderr.splitlines()
    assert any(line.startswith("[traced-client] -> @0 Open(") for line in lines), result.stderr
    assert any(line.startswith("[traced-client] <- @0 Open(") for line in lines), result.stderr
    assert any(line.startswith("[traced-server] -> @0 Open(") for line in lines), result.stderr
    assert any("header b'AMQP" in line for line in lines), result.stderr


def test_frames_go_only_to_the_applications_handler_once_logging_is_configured() -> None:
    result = _run(
        "import logging\n"
        "logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format='app: %(name)s %(message)s')"
    )
    shown = [line for line in result.stdout.splitlines() if "@0 Open(" in line]
    # both directions of both engines, each exactly once, through the application's handler
    assert len(shown) == 4, result.stdout
    assert all(line.startswith("app: amqp10.frames [traced-") for line in shown), shown
    assert "@0 Open(" not in result.stderr
