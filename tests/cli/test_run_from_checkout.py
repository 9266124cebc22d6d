"""``python -m amqp10`` works from the checkout's root, where ``amqp10/`` (the source folder,
with no ``codec/`` inside) shadows any installed copy; ``amqp10._source_tree`` maps the
checkout's ``codec/`` and ``_speedups/`` in, and only then.

The children run with ``python -S`` (no site-packages, so no install and no editable finder
can provide ``amqp10.codec``: the plain clone's situation) from the repository root, and
without ``PYTHONSAFEPATH`` (which would keep the root off ``sys.path``). ``AMQP10_PURE`` is
passed through, so each codec path is exercised by the run of the suite that sets it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import amqp10
import amqp10.codec
from amqp10 import _source_tree

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONSAFEPATH", "PYTHONPATH")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _from_root(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-S", *args], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def test_python_m_amqp10_from_the_checkout_root_imports_the_checkouts_codec() -> None:
    done = _from_root("-c", "import amqp10, amqp10.codec as c, amqp10._speedups as s; print(c.__file__, s.__file__, c.IMPL)")
    assert done.returncode == 0, done.stderr
    codec_file, speedups_file, impl = done.stdout.split()
    assert Path(codec_file) == ROOT / "codec" / "__init__.py"
    assert Path(speedups_file) == ROOT / "_speedups" / "__init__.py"
    if os.environ.get("AMQP10_PURE") == "1":
        assert impl == "pure"


def test_python_m_amqp10_from_the_checkout_root_sends_and_receives_through_serve() -> None:
    server = subprocess.Popen(
        [sys.executable, "-S", "-m", "amqp10", "serve", "--port", "0"],
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        match = re.search(r"listening on (amqp://127\.0\.0\.1:\d+)", line)
        assert match, (line, server.stderr.read() if server.poll() is not None else "")  # type: ignore[union-attr]
        url = match.group(1)
        sent = _from_root("-m", "amqp10", "send", f"{url}/from-checkout", "-m", "hello from the source tree")
        assert sent.returncode == 0, sent.stderr
        got = _from_root("-m", "amqp10", "receive", f"{url}/from-checkout", "--count", "1", "--timeout", "10")
        assert got.returncode == 0, got.stderr
        assert "hello from the source tree" in got.stdout
    finally:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(server.pid, signal.SIGKILL)
                server.wait(10)


def test_source_tree_mapping_does_nothing_when_amqp10_codec_is_already_provided() -> None:
    # This test process imported amqp10 through an install (editable or not): amqp10.codec is
    # found on the import path, so nothing is loaded a second time.
    assert _source_tree.map_source_tree(amqp10) is False
    assert amqp10.codec is sys.modules["amqp10.codec"]


def test_source_tree_mapping_never_applies_to_an_installed_layout(tmp_path: Path) -> None:
    package = tmp_path / "amqp10"
    (package / "codec").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (tmp_path / "setup.py").write_text("")
    module = type(amqp10)("amqp10")
    module.__file__ = str(package / "__init__.py")
    assert _source_tree.checkout_root(module) is None
