"""README.md's examples run as written (it opens with them, so they must stay true)."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def _block_with(marker: str) -> str:
    found = [b for b in _python_blocks() if marker in b]
    assert len(found) == 1, f"README should have exactly one python example using {marker}"
    return found[0]


def test_README_opens_with_the_install_and_demo_command_then_the_test_command() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert first_block is not None
    lines = first_block.group(1).strip().splitlines()
    assert lines == ["pip install . && amqp10 demo", "pip install '.[test]' && pytest"]


def test_README_codec_example_prints_what_it_shows() -> None:
    block = _block_with(">>> from amqp10.codec import")
    parser = doctest.DocTestParser()
    test = parser.get_doctest(block, {}, "README codec example", str(README), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
    assert test.examples, "the codec example has no >>> lines"


def test_README_engine_example_delivers_the_message_between_two_engines(
    capsys: "object",
) -> None:
    block = _block_with("EnginePair(")
    namespace: dict[str, object] = {}
    exec(compile(block, "README engine example", "exec"), namespace)
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "DeliveryReceived(delivery=<Delivery id=0" in out


def test_README_blocking_example_sends_and_receives_through_the_embedded_peer(
    capsys: "object",
) -> None:
    block = _block_with('start("127.0.0.1", 0)')
    exec(compile(block, "README blocking example", "exec"), {})
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.strip() == "Accepted() {'sku': 42}"


def test_README_trio_example_sends_and_receives_through_the_embedded_peer(
    capsys: "object",
) -> None:
    block = _block_with("serve_trio")
    exec(compile(block, "README trio example", "exec"), {})
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.strip() == "hello"


def test_README_asyncio_example_sends_and_receives_through_the_embedded_peer(
    capsys: "object",
) -> None:
    block = _block_with("amqp10.asyncio.start_server")
    exec(compile(block, "README asyncio example", "exec"), {})
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.strip() == "hello"


def test_README_server_example_prints_the_message_and_the_client_sees_it_accepted(
    capsys: "object",
) -> None:
    block = _block_with("class Printer(amqp10.Handler)")
    exec(compile(block, "README server example", "exec"), {})
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.splitlines() == ["got hi", "Accepted()"]


def test_README_filters_example_selects_and_browses_through_the_embedded_peer(
    capsys: "object",
) -> None:
    block = _block_with("selector_filter(")
    exec(compile(block, "README filters example", "exec"), {})
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.strip().splitlines() == ["red colour = 'red' AND size > 2", "on the shelf on the shelf"]


def test_README_tracked_sending_example_prints_every_outcome(capsys: "object") -> None:
    block = _block_with("sender.submit(")
    exec(compile(block, "README tracked sending example", "exec"), {})
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.strip() == "Accepted() 1000 {Accepted()}"


def test_README_patterns_example_calls_an_rpc_server_that_is_its_own_broker(
    capsys: "object",
) -> None:
    block = _block_with("patterns.serve_rpc(listener.accept(")
    exec(compile(block, "README patterns example", "exec"), {})
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.strip() == "ping"
