"""docs/patterns/*.md: every example runs as written and prints what the page shows.

Each ```python block runs in its own interpreter (bounded in time), with the repository's
``amqp10``; when a ```text block follows it, the output must be exactly that text. The pages
are linked from README.md and from their index.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "docs" / "patterns"
_BLOCK = re.compile(r"```python\n(.*?)```(?:\s*```text\n(.*?)```)?", re.S)


def _examples() -> list[tuple[str, str, str | None]]:
    found = []
    for page in sorted(PAGES.glob("*.md")):
        for number, match in enumerate(_BLOCK.finditer(page.read_text(encoding="utf-8")), 1):
            found.append((f"{page.name}#{number}", match.group(1), match.group(2)))
    return found


EXAMPLES = _examples()


def test_every_pattern_has_a_page_with_an_example() -> None:
    pages = {name.split("#")[0] for name, _, _ in EXAMPLES}
    assert {"rpc.md", "fanout.md", "notifications.md", "competing-consumers.md", "peer-to-peer.md", "addresses.md"} <= pages


def test_README_links_the_pattern_pages_and_the_api_reference() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/patterns/README.md" in readme and "docs/api.md" in readme
    index = (PAGES / "README.md").read_text(encoding="utf-8")
    for page in PAGES.glob("*.md"):
        if page.name != "README.md":
            assert f"]({page.name})" in index, f"docs/patterns/README.md does not link {page.name}"


@pytest.mark.parametrize(("name", "code", "expected"), EXAMPLES, ids=[name for name, _, _ in EXAMPLES])
def test_pattern_page_example_runs_and_prints_what_the_page_shows(name: str, code: str, expected: str | None) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert done.returncode == 0, f"{name} failed:\n{done.stderr}"
    if expected is not None:
        assert done.stdout == expected, f"{name} printed:\n{done.stdout}"
