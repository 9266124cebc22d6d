"""The ``amqp10`` command turns a missing capture file and a missing trio into one clear line
on stderr (what to install, for trio) and a non-zero exit status, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_amqp10_trace_of_a_missing_capture_file_prints_one_line_and_exits_1(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-capture.bin"
    done = subprocess.run(
        [sys.executable, "-m", "amqp10", "trace", str(missing)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == f"amqp10 trace: cannot read {missing}: No such file or directory"
    assert done.stdout == ""


def _without_site_packages(*args: str) -> subprocess.CompletedProcess[str]:
    # ``python -S`` from the checkout root: amqp10 comes from the source tree, trio (which
    # lives in site-packages) is not importable, as in an install without the trio extra.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONSAFEPATH", "PYTHONPATH")}
    return subprocess.run(
        [sys.executable, "-S", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_amqp10_serve_trio_without_trio_names_the_extra_to_install_and_exits_1() -> None:
    done = _without_site_packages("-m", "amqp10", "serve", "--trio", "--port", "0")
    assert done.returncode == 1
    # Only the last line is ours: a checkout without compiled speedups warns before it.
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == "amqp10 serve: --trio needs trio, which is not installed: pip install 'amqp10[trio]'"


def test_import_amqp10_trio_without_trio_says_which_extra_brings_it() -> None:
    done = _without_site_packages("-c", "import amqp10.trio")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "ImportError: amqp10.trio needs trio, which is not installed: pip install 'amqp10[trio]'"
    )
