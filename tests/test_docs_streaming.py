"""docs/streaming.md's example runs as written and prints what it says."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "streaming.md"


def test_streaming_doc_example_streams_a_message_and_reads_it_back_intact(capsys: "object") -> None:
    blocks = [b for b in re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S) if "start(" in b]
    assert len(blocks) == 1, "docs/streaming.md should have one runnable example"
    exec(compile(blocks[0], "docs/streaming.md example", "exec"), {})
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.strip().splitlines()[0] == "Accepted() backup.tar 8388608 True"
