"""The compiled twins, imported directly, for tests that hold them against the pure path.

``compiled()`` returns ``amqp10._speedups._codec`` and ``amqp10._speedups._framing``. When they
are not built it fails the test under CI (``CI=true``) or ``AMQP10_REQUIRE_SPEEDUPS=1``, where a
missing build is a broken build, and skips it elsewhere, saying how to build them.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

__all__ = ["compiled", "HOW_TO_BUILD"]

HOW_TO_BUILD = (
    "the Cython speedups are not built: run `pip install -e .` (or `pip install .`) with Cython "
    "and a C compiler present, then check `python -c \"import amqp10.codec as c; print(c.IMPL)\"`"
)


def compiled() -> tuple[ModuleType, ModuleType]:
    """``(amqp10._speedups._codec, amqp10._speedups._framing)``, or fail/skip as above."""
    try:
        codec = importlib.import_module("amqp10._speedups._codec")
        framing = importlib.import_module("amqp10._speedups._framing")
    except ImportError as exc:
        required = (
            os.environ.get("CI", "").lower() == "true"
            or os.environ.get("AMQP10_REQUIRE_SPEEDUPS") == "1"
        )
        if required:
            pytest.fail(f"{HOW_TO_BUILD} ({exc})")
        pytest.skip(f"{HOW_TO_BUILD} ({exc})")
    return codec, framing
