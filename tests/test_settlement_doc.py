"""docs/settlement.md's example runs as written against the embedded peer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "settlement.md"


def test_settlement_doc_example_settles_in_mode_second_refuses_a_late_abort_and_drains(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "docs/settlement.md should have exactly one python example"
    exec(compile(blocks[0], "docs/settlement.md example", "exec"), {})
    assert capsys.readouterr().out.splitlines() == ["Accepted() True", "sent whole: Accepted()", "['job-2'] 0"]
