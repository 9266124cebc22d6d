"""The engine's compiled modules (``amqp10._compiled``): compiled where built and current,
from source under ``AMQP10_PURE=1`` or when the source is newer than the build."""

from __future__ import annotations

import importlib.machinery
import os
import sys
from pathlib import Path

import pytest

import amqp10._compiled
from amqp10._compiled import STALE_AFTER, CompiledOrSource

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def _package(tmp_path: Path, *, compiled_age: float | None) -> list[str]:
    """A folder with ``hot.py`` and, unless ``compiled_age`` is None, a ``hot`` extension
    file that many seconds older than the source (negative: newer)."""
    source = tmp_path / "hot.py"
    source.write_text("VALUE = 1\n")
    now = 1_700_000_000.0
    os.utime(source, (now, now))
    if compiled_age is not None:
        compiled = tmp_path / f"hot{SUFFIX}"
        compiled.write_bytes(b"")  # never loaded here: only the spec's choice is checked
        os.utime(compiled, (now - compiled_age, now - compiled_age))
    return [str(tmp_path)]


def test_a_current_compiled_module_is_chosen_over_its_source(tmp_path: Path) -> None:
    spec = CompiledOrSource(["pkg.hot"], pure=False).find_spec("pkg.hot", _package(tmp_path, compiled_age=0.0))
    assert spec is not None and isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)
    assert spec.origin == str(tmp_path / f"hot{SUFFIX}")


def test_an_install_that_wrote_the_source_moments_after_the_build_still_uses_the_build(tmp_path: Path) -> None:
    spec = CompiledOrSource(["pkg.hot"], pure=False).find_spec("pkg.hot", _package(tmp_path, compiled_age=STALE_AFTER / 2))
    assert spec is not None and isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)


def test_a_compiled_module_older_than_its_edited_source_is_not_used(tmp_path: Path) -> None:
    with pytest.warns(RuntimeWarning, match="older than its source"):
        spec = CompiledOrSource(["pkg.hot"], pure=False).find_spec("pkg.hot", _package(tmp_path, compiled_age=60.0))
    assert spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader)
    assert spec.origin == str(tmp_path / "hot.py")


def test_pure_runs_the_source_even_beside_a_current_build(tmp_path: Path) -> None:
    spec = CompiledOrSource(["pkg.hot"], pure=True).find_spec("pkg.hot", _package(tmp_path, compiled_age=0.0))
    assert spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader)


def test_modules_not_on_the_list_are_left_to_the_usual_finders(tmp_path: Path) -> None:
    finder = CompiledOrSource(["pkg.hot"], pure=True)
    assert finder.find_spec("pkg.other", _package(tmp_path, compiled_age=0.0)) is None
    assert finder.find_spec("hot", None) is None  # a top-level name has no package path


def test_without_a_build_the_source_is_found(tmp_path: Path) -> None:
    spec = CompiledOrSource(["pkg.hot"], pure=False).find_spec("pkg.hot", _package(tmp_path, compiled_age=None))
    assert spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader)


def test_the_running_process_uses_what_its_path_asks_for() -> None:
    # conftest imported every listed module; AMQP10_PURE=1 must have kept them all on source,
    # and AMQP10_REQUIRE_SPEEDUPS=1 must have found them all compiled.
    in_use = amqp10._compiled.compiled_in_use()
    if os.environ.get("AMQP10_PURE") == "1":
        assert in_use == []
        assert all(sys.modules[name].__file__.endswith(".py") for name in amqp10._compiled.COMPILED_MODULES)  # type: ignore[union-attr]
    elif os.environ.get("AMQP10_REQUIRE_SPEEDUPS") == "1":
        assert in_use == list(amqp10._compiled.COMPILED_MODULES)
    else:
        pytest.skip("neither AMQP10_PURE=1 nor AMQP10_REQUIRE_SPEEDUPS=1: either build may be in use")
