"""Build script: maps codec/ and _speedups/ into the amqp10 package and builds the Cython
speedups when Cython and a C compiler are present (the pure-Python path is complete without)."""

from __future__ import annotations

import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

PACKAGES = ["amqp10", "amqp10.codec", "amqp10._speedups"]
PACKAGE_DIR = {"amqp10.codec": "codec", "amqp10._speedups": "_speedups"}


def _find_subpackages() -> list[str]:
    found = []
    for root, dirs, files in os.walk("amqp10"):
        dirs[:] = [d for d in dirs if not d.startswith((".", "__"))]
        if "__init__.py" in files:
            found.append(root.replace(os.sep, "."))
    return found


class OptionalBuildExt(build_ext):
    """Build the speedups if possible; otherwise warn once and install the pure path."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure means "pure only"
            self._warn(exc)

    def build_extension(self, ext):  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._warn(exc)

    @staticmethod
    def _warn(exc: BaseException) -> None:
        sys.stderr.write(
            f"WARNING: amqp10 speedups not built ({exc}); the pure-Python path will be used.\n"
        )


def _compiled_modules() -> tuple[str, ...]:
    """``amqp10._compiled.COMPILED_MODULES``, read without importing the package."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_amqp10_compiled", os.path.join("amqp10", "_compiled.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.COMPILED_MODULES)


def _extensions() -> list:  # type: ignore[type-arg]
    if os.environ.get("AMQP10_NO_SPEEDUPS") == "1":
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        sys.stderr.write("WARNING: Cython not found; amqp10 speedups not built.\n")
        return []
    sources = sorted(
        os.path.join("_speedups", f) for f in os.listdir("_speedups") if f.endswith(".pyx")
    )
    from setuptools import Extension

    exts = [
        Extension("amqp10._speedups." + os.path.basename(s)[:-4], [s]) for s in sources
    ]
    # The engine's and framing layer's hot modules, compiled from their unchanged source into
    # extension modules of the same name (amqp10/_compiled.py: which ones, and how
    # AMQP10_PURE=1 still runs them from source). Annotations are not C types here: the
    # compiled module must behave exactly as its source does.
    exts += [Extension(name, [name.replace(".", os.sep) + ".py"]) for name in _compiled_modules()]
    try:
        return cythonize(
            exts,
            language_level=3,
            compiler_directives={"embedsignature": True, "annotation_typing": False},
        )
    except Exception as exc:  # noqa: BLE001 - a Cython error means "pure only", not no install
        OptionalBuildExt._warn(exc)
        return []


setup(
    packages=sorted(set(PACKAGES + _find_subpackages())),
    package_dir=PACKAGE_DIR,
    package_data={"amqp10": ["py.typed"], "amqp10.codec": ["py.typed"]},
    ext_modules=_extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
    zip_safe=False,
)
