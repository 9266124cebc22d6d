"""The structural rules of STYLE.md section 3, checked by reading the source, not by trusting it.

Each rule is one test, named after the rule; a failure lists every offending ``file:line``.

- The sans-IO core (``codec/`` installed as ``amqp10.codec``, ``_speedups/``,
  ``amqp10/framing/``, ``amqp10/engine/`` and the shared ``amqp10/errors.py``) imports no
  module that does I/O, starts threads or reads a clock or a random source, and never sleeps.
- Layers only import downwards: codec <- errors <- framing <- engine <- everything else (the
  adapters: ``blocking``, ``trio``, ``asyncio``, ``peer``, ``cli``, ``_api``, ``url``, ``tls``, ... and the
  ``amqp10`` package itself, whose ``__init__`` pulls the adapters in). A layer may import
  itself and the layers below it and nothing else from ``amqp10``, so a new adapter module is
  covered without touching this file.
- Environment variables are read only where STYLE.md / the brief allow it.
- Nothing in the library imports ``amqp10.testing`` (its own rule).

Python files are walked with ``ast`` (every ``import`` anywhere, including function-local and
``TYPE_CHECKING`` ones); Cython files (``.pyx``/``.pxi``) with a line scanner, since ``ast``
cannot parse them. The checkers are tested on small synthetic sources first, so a checker that
silently sees nothing cannot make the real rules pass.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: source folder -> the package it installs as (setup.py maps codec/ and _speedups/ in)
SOURCE_ROOTS = {
    "amqp10": REPO / "amqp10",
    "amqp10.codec": REPO / "codec",
    "amqp10._speedups": REPO / "_speedups",
}

#: modules that do I/O, start threads or processes, read a clock or randomness (STYLE.md 3);
#: the brief's list plus the other ways into threads and processes
FORBIDDEN_MODULES = frozenset(
    {
        "socket", "ssl", "select", "selectors", "threading", "asyncio", "trio", "time", "random",
        "subprocess", "_thread", "multiprocessing", "concurrent",
    }
)

#: the order of the layers; each may import only itself and those before it
LAYERS = ("codec", "errors", "framing", "engine")
ADAPTERS = "adapters"

#: where environment variables may be read, and which (None: any; the adapters and the CLI
#: are outside the core and configure themselves as they like)
ENV_ALLOWED_FILES: dict[str, frozenset[str] | None] = {
    "codec/__init__.py": frozenset({"AMQP10_PURE"}),
    "amqp10/engine/trace.py": frozenset({"AMQP10_TRACE_FRM"}),
    "codec/_gen_spec.py": frozenset({"AMQP10_SPEC_DIR"}),  # build-time generator only
}
ENV_ALLOWED_DIRS = ("amqp10/blocking/", "amqp10/trio/", "amqp10/peer/", "amqp10/cli/")

_ENV_NAME = re.compile(r"^AMQP10_[A-Z0-9_]+$")


# -- the source model ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Import:
    """One import statement's target, resolved to an absolute module name."""

    module: str
    line: int


@dataclass(frozen=True)
class SourceFile:
    """A file of the package, with the module name it has once installed."""

    path: Path
    module: str
    is_package: bool

    @property
    def rel(self) -> str:
        return self.path.relative_to(REPO).as_posix()

    @property
    def is_cython(self) -> bool:
        return self.path.suffix in (".pyx", ".pxi")


def _package_files() -> list[SourceFile]:
    files: list[SourceFile] = []
    for package, root in SOURCE_ROOTS.items():
        for path in sorted(root.rglob("*")):
            if path.suffix not in (".py", ".pyx", ".pxi") or "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            # amqp10/codec etc. are separate source roots; don't list them twice.
            if package == "amqp10" and parts and f"amqp10.{parts[0]}" in SOURCE_ROOTS:
                continue
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            files.append(SourceFile(path, ".".join([package, *parts]), is_package))
    return files


ALL_FILES = _package_files()
KNOWN_MODULES = frozenset(f.module for f in ALL_FILES)


def layer_of(module: str) -> str | None:
    """The layer an ``amqp10`` module belongs to; ``None`` for anything outside the package."""
    if module != "amqp10" and not module.startswith("amqp10."):
        return None
    parts = module.split(".")
    sub = parts[1] if len(parts) > 1 else ""
    if sub == "_speedups":
        # Each Cython module is the twin of one layer's hot loop.
        return "framing" if parts[2:3] == ["_framing"] else "codec"
    if sub in ("codec", "errors", "framing", "engine"):
        return sub
    return ADAPTERS


def _resolve_from(current: str, is_package: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def python_imports(tree: ast.AST, module: str, is_package: bool) -> list[Import]:
    """Every import in ``tree`` as absolute module names (``from pkg import sub`` -> ``pkg.sub``
    when ``sub`` is a module of the package)."""
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve_from(module, is_package, node.level, node.module)
            if target == "__future__":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append(Import(sub if sub in KNOWN_MODULES else target, node.lineno))
        elif isinstance(node, ast.Call) and _called_name(node) in ("import_module", "__import__"):
            # importlib.import_module("socket") is an import too, when the name is spelled out.
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.append(Import(node.args[0].value, node.lineno))
    return found


_CY_IMPORT = re.compile(r"^\s*import\s+([\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*)")
_CY_FROM = re.compile(r"^\s*from\s+([\w.]+)\s+c?import\b")
_CY_CIMPORT = re.compile(r"^\s*cimport\s+([\w.]+)")


def cython_imports(text: str) -> list[Import]:
    """Imports in a ``.pyx``/``.pxi`` file, read line by line (absolute names only: the
    speedups import ``amqp10.codec...`` absolutely)."""
    found: list[Import] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if m := _CY_FROM.match(line):
            found.append(Import(m.group(1), lineno))
        elif m := _CY_CIMPORT.match(line):
            found.append(Import(m.group(1), lineno))
        elif m := _CY_IMPORT.match(line):
            for name in m.group(1).split(","):
                found.append(Import(name.split()[0], lineno))
    return found


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def sleep_and_clock_calls(tree: ast.AST) -> list[tuple[int, str]]:
    """Calls that sleep (``sleep``, ``x.sleep``) or read the wall clock (``datetime.now()``,
    ``utcnow()``, ``date.today()``): the engine gets ``now`` passed in instead."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _called_name(node)
            if name == "sleep":
                found.append((node.lineno, "sleeps"))
            elif name in ("now", "utcnow", "today") and isinstance(node.func, ast.Attribute):
                found.append((node.lineno, f"reads the clock with .{name}()"))
    return found


def env_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """Places that touch the process environment: ``os.environ`` / ``os.environb`` (however
    ``os`` was imported), ``getenv``, and ``from os import environ/getenv``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "environb", "getenv"):
            found.append((node.lineno, f"reads .{node.attr}"))
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            for alias in node.names:
                if alias.name in ("environ", "environb", "getenv"):
                    found.append((node.lineno, f"imports os.{alias.name}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getenv":
            found.append((node.lineno, "calls getenv"))
    return found


def env_names_mentioned(tree: ast.AST) -> set[str]:
    """String literals that are exactly an ``AMQP10_*`` variable name (keys read or looked up)."""
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _ENV_NAME.match(node.value)
    }


# -- per-file helpers ----------------------------------------------------------------------------
def _is_core(f: SourceFile) -> bool:
    return layer_of(f.module) in LAYERS


CORE_FILES = [f for f in ALL_FILES if _is_core(f)]


def _tree(f: SourceFile) -> ast.AST:
    return ast.parse(f.path.read_text(encoding="utf-8"), filename=str(f.path))


def _imports(f: SourceFile) -> list[Import]:
    if f.is_cython:
        return cython_imports(f.path.read_text(encoding="utf-8"))
    return python_imports(_tree(f), f.module, f.is_package)


def _layer_violations(files: list[SourceFile]) -> list[str]:
    problems = []
    for f in files:
        own = layer_of(f.module)
        assert own in LAYERS
        allowed = LAYERS[: LAYERS.index(own) + 1]
        for imp in _imports(f):
            target = layer_of(imp.module)
            if target is not None and target not in allowed:
                problems.append(f"{f.rel}:{imp.line}: {own} imports {imp.module} ({target} layer)")
    return problems


def _files_in(layer: str) -> list[SourceFile]:
    return [f for f in CORE_FILES if layer_of(f.module) == layer]


def _report(problems: list[str], rule: str) -> str:
    return f"{rule}:\n  " + "\n  ".join(problems)


# -- the checkers, tried on sources that break each rule ---------------------------------------
def test_import_walker_resolves_relative_absolute_aliased_and_dynamic_imports() -> None:
    source = (
        "import socket as s, os\n"
        "from time import monotonic\n"
        "from .. import errors\n"
        "from ..blocking import connect\n"
        "from . import frame\n"
        "def f():\n"
        "    import threading\n"
        "    importlib.import_module('random')\n"
    )
    tree = ast.parse(source)
    got = sorted((i.module, i.line) for i in python_imports(tree, "amqp10.framing.reader", False))
    assert got == sorted([
        ("socket", 1), ("os", 1), ("time", 2), ("amqp10.errors", 3), ("amqp10.blocking", 4),
        ("amqp10.framing.frame", 5), ("threading", 7), ("random", 8),
    ])
    # In a package's __init__, one dot is the package itself.
    init = python_imports(ast.parse("from .spec import X\n"), "amqp10.codec", True)
    assert [i.module for i in init] == ["amqp10.codec.spec"]


def test_cython_scanner_finds_imports_and_cimports() -> None:
    text = (
        "from libc.string cimport memcpy\n"
        "import datetime as _dt, time\n"
        "cimport cython\n"
        "    from amqp10.engine import Connection\n"
    )
    assert [(i.module, i.line) for i in cython_imports(text)] == [
        ("libc.string", 1), ("datetime", 2), ("time", 2), ("cython", 3), ("amqp10.engine", 4),
    ]


def test_layer_of_places_every_module_in_its_layer() -> None:
    assert layer_of("amqp10.codec._pure") == "codec"
    assert layer_of("amqp10._speedups._codec") == "codec"
    assert layer_of("amqp10._speedups._framing") == "framing"
    assert layer_of("amqp10.errors") == "errors"
    assert layer_of("amqp10.framing.reader") == "framing"
    assert layer_of("amqp10.engine") == "engine"
    assert layer_of("amqp10") == ADAPTERS  # its __init__ imports the blocking adapter
    for adapter in ("blocking", "trio", "asyncio", "peer", "cli", "_api", "url", "tls", "testing"):
        assert layer_of(f"amqp10.{adapter}") == ADAPTERS
    assert layer_of("trio") is None
    assert layer_of("asyncio") is None  # the standard library's, not ours


def test_sleep_clock_and_env_detectors_see_every_spelling() -> None:
    tree = ast.parse(
        "time.sleep(1)\nsleep(0)\ndatetime.now()\n_os.environ.get('X')\n"
        "os.getenv('Y')\ngetenv('Z')\nfrom os import environ\n"
    )
    assert [line for line, _ in sleep_and_clock_calls(tree)] == [1, 2, 3]
    assert sorted(line for line, _ in env_reads(tree)) == [4, 5, 6, 7]


def test_walker_sees_the_whole_core() -> None:
    rels = {f.rel for f in CORE_FILES}
    for expected in (
        "codec/__init__.py", "codec/_pure_decode.py", "amqp10/errors.py",
        "amqp10/framing/reader.py", "amqp10/engine/connection.py", "amqp10/engine/trace.py",
    ):
        assert expected in rels
    assert not any(r.startswith(("amqp10/blocking/", "amqp10/trio/", "amqp10/asyncio/", "amqp10/cli/")) for r in rels)
    # A walker that silently parsed nothing would make every rule below pass.
    assert sum(len(_imports(f)) for f in CORE_FILES) > 100


# -- the rules -----------------------------------------------------------------------------------
def test_core_imports_no_io_thread_clock_or_random_module() -> None:
    problems = [
        f"{f.rel}:{imp.line}: imports {imp.module}"
        for f in CORE_FILES
        for imp in _imports(f)
        if imp.module.split(".")[0] in FORBIDDEN_MODULES
    ]
    assert not problems, _report(problems, "the sans-IO core must not import these modules")


def test_core_never_sleeps_or_reads_the_clock() -> None:
    problems = []
    for f in CORE_FILES:
        if f.is_cython:
            for lineno, line in enumerate(f.path.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(r"\bsleep\s*\(", line):
                    problems.append(f"{f.rel}:{lineno}: sleeps")
        else:
            problems += [f"{f.rel}:{line}: {what}" for line, what in sleep_and_clock_calls(_tree(f))]
    assert not problems, _report(problems, "the core gets `now` passed in and never sleeps")


def test_codec_imports_nothing_from_the_layers_above() -> None:
    files = _files_in("codec")
    assert files
    problems = _layer_violations(files)
    assert not problems, _report(problems, "codec imports nothing from framing, engine or adapters")


def test_errors_module_imports_only_the_codec() -> None:
    files = _files_in("errors")
    assert [f.rel for f in files] == ["amqp10/errors.py"]
    problems = _layer_violations(files)
    assert not problems, _report(problems, "amqp10/errors.py sits just above the codec")


def test_framing_imports_nothing_from_engine_or_adapters() -> None:
    files = _files_in("framing")
    assert files
    problems = _layer_violations(files)
    assert not problems, _report(problems, "framing imports nothing from engine or adapters")


def test_engine_imports_nothing_from_the_adapters() -> None:
    files = _files_in("engine")
    assert files
    problems = _layer_violations(files)
    assert not problems, _report(problems, "engine imports nothing from the adapters")


def _env_allowed(rel: str) -> tuple[bool, frozenset[str] | None]:
    if rel in ENV_ALLOWED_FILES:
        return True, ENV_ALLOWED_FILES[rel]
    return rel.startswith(ENV_ALLOWED_DIRS), None


@pytest.mark.parametrize("rel", sorted(ENV_ALLOWED_FILES))
def test_env_vars_allowed_places_exist_and_read_only_their_variable(rel: str) -> None:
    path = REPO / rel
    assert path.is_file(), f"{rel} is listed as an allowed env reader but does not exist"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert env_reads(tree), f"{rel} no longer reads the environment: drop it from the allow-list"
    allowed = ENV_ALLOWED_FILES[rel]
    assert allowed is not None
    extra = env_names_mentioned(tree) - allowed
    assert not extra, f"{rel} reads {sorted(extra)}; it may read only {sorted(allowed)}"


def test_env_vars_are_read_only_in_the_allowed_places() -> None:
    problems = []
    for f in ALL_FILES:
        if f.is_cython or _env_allowed(f.rel)[0]:
            continue
        problems += [f"{f.rel}:{line}: {what}" for line, what in env_reads(_tree(f))]
    assert not problems, _report(
        problems,
        "environment variables are read only in codec/__init__.py (AMQP10_PURE), "
        "amqp10/engine/trace.py (AMQP10_TRACE_FRM), codec/_gen_spec.py (AMQP10_SPEC_DIR) "
        "and the adapters/CLI",
    )


def test_library_never_imports_the_testing_module() -> None:
    # amqp10/testing.py: "Must never: be imported by the library itself" (it is for tests).
    problems = [
        f"{f.rel}:{imp.line}: imports {imp.module}"
        for f in ALL_FILES
        if f.module != "amqp10.testing"
        for imp in _imports(f)
        if imp.module == "amqp10.testing" or imp.module.startswith("amqp10.testing.")
    ]
    assert not problems, _report(problems, "amqp10.testing is for tests, not for the library")
