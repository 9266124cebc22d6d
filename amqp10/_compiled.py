"""Which of amqp10's own Python modules run compiled, and when their source runs instead.

Besides the codec's Cython twins (``amqp10._speedups``), ``setup.py`` compiles the modules of
``COMPILED_MODULES`` (the engine's and the framing layer's hot path: bytes in, frames, links,
deliveries, events out) with Cython from their unchanged source into extension modules of the
same name, so that the receive path runs as one compiled unit (issue 9: the time of a
request/reply was Python executing one small step after another, about 1 µs each). There is
no second copy to keep in step: the ``.py`` is the source of both.

Python's import system prefers an extension module to the ``.py`` beside it. ``install``
puts a finder first on ``sys.meta_path`` that keeps that choice honest:

- when the codec runs pure (``AMQP10_PURE=1``, or its speedups missing: ``amqp10.codec.IMPL``)
  each of them loads from its source: the pure path stays complete, and is what the pure test
  run tests;
- a compiled module older than its source (built in place, then the source edited) is never
  used: the source is loaded, with one warning saying how to rebuild.

Must never: import anything of amqp10's own (``amqp10/__init__`` installs it before anything
imports the engine), or read an environment variable (the codec decides, once).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

__all__ = ["COMPILED_MODULES", "install", "compiled_in_use"]

#: the modules ``setup.py`` compiles from their own source (read from here by ``setup.py``)
COMPILED_MODULES = (
    "amqp10.engine.connection",
    "amqp10.engine.credit",
    "amqp10.engine.delivery",
    "amqp10.engine.events",
    "amqp10.engine.handshake",
    "amqp10.engine.idle",
    "amqp10.engine.link",
    "amqp10.engine.serial",
    "amqp10.engine.session",
    "amqp10.engine.transfer",
    "amqp10.engine.window",
    "amqp10.framing.frame",
    "amqp10.framing.performatives",
    "amqp10.framing.reader",
)

#: seconds by which a compiled module may be older than its source and still be used: an
#: install writes both within moments of each other, in no set order
STALE_AFTER = 2.0


class CompiledOrSource(importlib.abc.MetaPathFinder):
    """Finds each of ``names``: its compiled module when that is allowed and current, else
    its source."""

    def __init__(self, names: Sequence[str], pure: bool) -> None:
        self.names = frozenset(names)
        self.pure = pure

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """The spec to load ``fullname`` from, or ``None`` for the usual finders to decide."""
        if fullname not in self.names or not path:
            return None
        base = fullname.rpartition(".")[2]
        for folder in path:
            source = os.path.join(folder, base + ".py")
            if os.path.isfile(source):
                break
        else:
            return None
        if not self.pure:
            compiled = next(
                (
                    candidate
                    for candidate in (os.path.join(folder, base + suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES)
                    if os.path.isfile(candidate)
                ),
                None,
            )
            if compiled is not None:
                if os.path.getmtime(compiled) + STALE_AFTER >= os.path.getmtime(source):
                    return importlib.util.spec_from_file_location(fullname, compiled)
                warnings.warn(
                    f"amqp10: {compiled} is older than its source {base}.py, which runs instead "
                    "(slower); rebuild with `python setup.py build_ext --inplace` or `pip install .`",
                    RuntimeWarning,
                    stacklevel=2,
                )
        return importlib.util.spec_from_file_location(fullname, source)


def install(pure: bool) -> None:
    """Put the finder for ``COMPILED_MODULES`` first on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, CompiledOrSource) for finder in sys.meta_path):
        sys.meta_path.insert(0, CompiledOrSource(COMPILED_MODULES, pure))


def compiled_in_use() -> list[str]:
    """The modules of ``COMPILED_MODULES`` imported so far that run compiled."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return [
        name
        for name in COMPILED_MODULES
        if name in sys.modules and (getattr(sys.modules[name], "__file__", None) or "").endswith(suffixes)
    ]
