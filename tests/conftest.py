"""Session-wide test setup: report which codec path is active and enforce CI's requirements."""

from __future__ import annotations

import importlib
import os

import pytest

import amqp10._compiled
import amqp10.codec


# Child Python processes (the CLI, the generator, import checks) must import the *installed*
# amqp10, never the source folder of the same name: Python would put their working directory
# (often the repo root) first on sys.path. PYTHONSAFEPATH (3.11+, like `python -P`) stops that.
os.environ["PYTHONSAFEPATH"] = "1"


def pytest_report_header(config: pytest.Config) -> str:
    compiled = _import_compiled_modules()
    return f"amqp10.codec.IMPL = {amqp10.codec.IMPL!r}; compiled engine modules: {len(compiled)} of {len(amqp10._compiled.COMPILED_MODULES)}"


def _import_compiled_modules() -> list[str]:
    for name in amqp10._compiled.COMPILED_MODULES:
        importlib.import_module(name)
    return amqp10._compiled.compiled_in_use()


def pytest_sessionstart(session: pytest.Session) -> None:
    # msgpack's hole: a silent fallback to pure Python during the "compiled" run. Close it.
    if os.environ.get("AMQP10_REQUIRE_SPEEDUPS") == "1" and amqp10.codec.IMPL != "cython":
        raise pytest.UsageError(
            "AMQP10_REQUIRE_SPEEDUPS=1 but amqp10.codec.IMPL is "
            f"{amqp10.codec.IMPL!r}: the Cython speedups did not load (run `pip install .` "
            "with Cython and a C compiler present)"
        )
    compiled = _import_compiled_modules()
    if os.environ.get("AMQP10_REQUIRE_SPEEDUPS") == "1" and len(compiled) != len(amqp10._compiled.COMPILED_MODULES):
        missing = sorted(set(amqp10._compiled.COMPILED_MODULES) - set(compiled))
        raise pytest.UsageError(
            f"AMQP10_REQUIRE_SPEEDUPS=1 but these modules run from source, not compiled: {missing} "
            "(run `pip install .`, or `python setup.py build_ext --inplace` in a checkout)"
        )
    if os.environ.get("AMQP10_PURE") == "1" and compiled:
        raise pytest.UsageError(f"AMQP10_PURE=1 but these modules run compiled: {compiled}")
