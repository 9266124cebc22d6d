"""The compose file runs the router network CI runs: its router configurations are the
templates of interop/router/ rendered with the compose values, and it mounts each of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROUTER = REPO / "interop" / "router"


def test_committed_compose_router_configs_are_the_rendered_templates(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROUTER / "render.py"), "--compose", "--out", str(tmp_path)], check=True)
    for name in ("router-a", "router-b", "edge"):
        rendered = (tmp_path / f"{name}.conf").read_text()
        committed = (ROUTER / "compose" / f"{name}.conf").read_text()
        assert committed == rendered, f"interop/router/compose/{name}.conf is stale: run interop/router/render.py --compose"


def test_compose_file_mounts_every_router_config_and_qpidd_behind_router_b() -> None:
    compose = (REPO / "interop" / "compose.yaml").read_text()
    for name in ("router-a", "router-b", "edge"):
        assert f"./router/compose/{name}.conf:/etc/amqp10/qdrouterd.conf:ro" in compose
    router_b = (ROUTER / "compose" / "router-b.conf").read_text()
    assert "host: qpidd" in router_b and "role: route-container" in router_b
    assert "qpidd:" in compose and "./qpidd/qpidd.conf:/etc/amqp10/qpidd.conf:ro" in compose


def test_ci_renders_the_same_templates_with_loopback_values(tmp_path: Path) -> None:
    values = {"LISTEN_HOST": "127.0.0.1", "A_HOST": "127.0.0.1", "A_PORT": "1", "A_INTER_ROUTER_PORT": "2",
              "A_EDGE_PORT": "3", "B_PORT": "4", "EDGE_PORT": "5", "QPIDD_HOST": "127.0.0.1", "QPIDD_PORT": "6"}
    subprocess.run([sys.executable, str(ROUTER / "render.py"), "--out", str(tmp_path),
                    *(f"{k}={v}" for k, v in values.items())], check=True)
    for name in ("router-a", "router-b", "edge"):
        ci = (tmp_path / f"{name}.conf").read_text()
        compose = (ROUTER / "compose" / f"{name}.conf").read_text()
        assert "@" not in ci
        # Only hosts and ports differ.
        strip = lambda text: [line for line in text.splitlines() if not line.strip().startswith(("host:", "port:"))]  # noqa: E731
        assert strip(ci) == strip(compose)
    # And .ci/peers/start renders them with render.py.
    assert "interop/router/render.py" in (REPO / ".ci" / "peers" / "start").read_text()
