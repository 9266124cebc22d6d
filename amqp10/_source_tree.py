"""Running from a checkout: map the source tree's ``codec/`` and ``_speedups/`` into ``amqp10``.

The repository keeps ``amqp10.codec`` and ``amqp10._speedups`` in top-level folders (``codec/``,
``_speedups/``) that ``setup.py`` installs under ``amqp10``. ``python -m amqp10`` started from
the checkout's root puts the root first on ``sys.path``, so ``import amqp10`` finds the source
folder ``amqp10/``, which has no ``codec/``: without help the import fails (``No module named
amqp10.codec``), even with amqp10 installed.

``map_source_tree`` fills that gap, and only that one: the package was imported from a folder
with no ``codec/`` inside it, that folder sits in a checkout (``setup.py`` and ``codec/`` beside
it), and nothing on the import path provides ``amqp10.codec`` (an editable install already
maps it, and then nothing is done). It then loads exactly those two subpackages from the
checkout; nothing else of the checkout (``tests``, ``bench``, ...) becomes part of ``amqp10``.
The speedups are the ones built in place (an editable install builds them there); without them
the codec warns once and runs pure Python, as an install without a compiler does.

Must never: run for an installed package, or import anything of amqp10's own.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["map_source_tree"]

#: ``amqp10.<name>`` -> the checkout folder it installs from (``setup.py``'s package_dir),
#: in load order: the codec imports the speedups while it loads.
SUBPACKAGES = (("_speedups", "_speedups"), ("codec", "codec"))


def checkout_root(package: ModuleType) -> Path | None:
    """The checkout ``package`` (``amqp10``) was imported from, or ``None`` when it was
    imported from an installed layout (``codec/`` inside the package folder) or from anywhere
    else that is not a checkout."""
    here = Path(package.__file__ or "").resolve().parent
    if (here / "codec").is_dir():
        return None
    root = here.parent
    if not (root / "setup.py").is_file() or not (root / "codec" / "__init__.py").is_file():
        return None
    return root


def map_source_tree(package: ModuleType) -> bool:
    """Load ``amqp10.codec`` and ``amqp10._speedups`` from the checkout ``package`` was
    imported from, when nothing else provides them; returns whether it did."""
    root = checkout_root(package)
    if root is None or importlib.util.find_spec(f"{package.__name__}.codec") is not None:
        return False
    for name, folder in SUBPACKAGES:
        full = f"{package.__name__}.{name}"
        if full in sys.modules:
            continue
        location = root / folder
        spec = importlib.util.spec_from_file_location(
            full, location / "__init__.py", submodule_search_locations=[str(location)]
        )
        if spec is None or spec.loader is None:  # pragma: no cover - a file we just checked
            raise ImportError(f"cannot load {full} from {location}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[full] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[full]
            raise
        setattr(package, name, module)
    return True
