"""docs/transactions.md's example runs as written and prints what it says."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "transactions.md"


def test_transactions_doc_example_moves_a_message_atomically_and_rolls_back_on_error(capsys: "object") -> None:
    blocks = [b for b in re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S) if "start(" in b]
    assert len(blocks) == 1, "docs/transactions.md should have one runnable example"
    exec(compile(blocks[0], "docs/transactions.md example", "exec"), {})
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.strip() == "ROLLED_BACK order 2 / invoice for order 1"
