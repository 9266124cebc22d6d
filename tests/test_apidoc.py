"""docs/api.md is what ``python -m amqp10._apidoc`` prints from the docstrings today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from amqp10 import _apidoc

API_MD = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_docs_api_md_is_regenerated_from_the_current_docstrings() -> None:
    assert API_MD.read_text(encoding="utf-8") == _apidoc.render(), (
        "docs/api.md is out of date: run `python -m amqp10._apidoc > docs/api.md`"
    )


def test_the_reference_covers_every_public_name_of_the_patterns_and_server_objects() -> None:
    text = _apidoc.render()
    for name in ("amqp10.patterns.serve_rpc", "amqp10.async_patterns.consume", "amqp10.AcceptedConnection",
                 "amqp10.trio.listen", "amqp10.asyncio.AcceptedConnection", "amqp10.Sender"):
        assert f"### `{name}`" in text
    assert "accept_receiver(" in text and " at 0x" not in text


def test_apidoc_module_prints_the_reference() -> None:
    done = subprocess.run([sys.executable, "-m", "amqp10._apidoc"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == _apidoc.render()
