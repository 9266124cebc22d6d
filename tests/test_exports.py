"""The public surface: every re-exported name exists and is documented, and the names DESIGN.md
says others rely on ("Names others rely on") are importable with the promised shape.

The public modules are ``amqp10``, ``amqp10.codec``, ``amqp10.engine``, ``amqp10.blocking``,
``amqp10.trio`` and ``amqp10.testing``. A module's public names are its ``__all__`` plus every
trio-style ``from .x import Name as Name`` re-export in its source (``amqp10`` itself has no
``__all__``). A class must carry its *own* docstring: an inherited one, or the signature a
dataclass makes up when there is none, does not count. A plain value (``IMPL``,
``DEFAULT_LIMITS``) must be documented where it is assigned, by a ``#:`` comment or a string
right after it.
"""

from __future__ import annotations

import ast
import datetime
import decimal
import importlib
import importlib.metadata
import importlib.resources
import importlib.util
import inspect
import uuid
from pathlib import Path
from typing import Any

import pytest

import amqp10
import amqp10.codec

PUBLIC_MODULES = (
    "amqp10", "amqp10.codec", "amqp10.engine", "amqp10.blocking", "amqp10.trio", "amqp10.asyncio", "amqp10.testing",
    "amqp10.patterns", "amqp10.async_patterns",
)


def _source_tree(module_name: str) -> ast.Module:
    spec = importlib.util.find_spec(module_name)
    assert spec is not None and spec.origin is not None, module_name
    return ast.parse(Path(spec.origin).read_text(encoding="utf-8"))


def _reexports(module_name: str) -> dict[str, str]:
    """``Name as Name`` re-exports of a module: name -> the module it comes from."""
    found: dict[str, str] = {}
    spec = importlib.util.find_spec(module_name)
    # Relative imports are relative to the package: the module itself if it is one, else its parent.
    package = module_name if spec is not None and spec.submodule_search_locations is not None else module_name.rpartition(".")[0]
    for node in ast.walk(_source_tree(module_name)):
        if isinstance(node, ast.ImportFrom):
            source = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level else (node.module or "")
            for alias in node.names:
                if alias.asname == alias.name:
                    found[alias.name] = source
    return found


def public_names(module_name: str) -> list[str]:
    """``__all__`` plus the trio-style re-exports."""
    module = importlib.import_module(module_name)
    names = set(getattr(module, "__all__", ())) | set(_reexports(module_name))
    return sorted(names)


def _own_class_doc(cls: type) -> str | None:
    doc = cls.__dict__.get("__doc__")
    if not isinstance(doc, str) or not doc.strip():
        return None
    # dataclasses invent "Name(field: type, ...)" when a class has no docstring.
    if doc.startswith(f"{cls.__name__}("):
        return None
    return doc


def _value_documented(module_name: str, name: str) -> bool:
    """A ``#:`` comment just above, or a string literal just after, the assignment of ``name``
    in ``module_name`` (following one ``from x import name`` re-export)."""
    spec = importlib.util.find_spec(module_name)
    assert spec is not None and spec.origin is not None
    text = Path(spec.origin).read_text(encoding="utf-8")
    lines = text.splitlines()
    body = ast.parse(text).body
    for i, stmt in enumerate(body):
        targets: list[ast.expr] = []
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, ast.AnnAssign):
            targets = [stmt.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            above = lines[stmt.lineno - 2].strip() if stmt.lineno >= 2 else ""
            nxt = body[i + 1] if i + 1 < len(body) else None
            after = (
                isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            )
            if above.startswith("#:") or after:
                return True
    source = _reexports(module_name).get(name)
    return source is not None and source != module_name and _value_documented(source, name)


def _missing_doc(module_name: str, name: str, obj: Any) -> str | None:
    if inspect.isclass(obj):
        return None if _own_class_doc(obj) else "class without its own docstring"
    if inspect.ismodule(obj) or callable(obj):
        doc = getattr(obj, "__doc__", None)
        return None if isinstance(doc, str) and doc.strip() else "no docstring"
    return None if _value_documented(module_name, name) else "value without a #: comment or docstring"


# -- the surface: every public name exists and is documented ----------------------------------
@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_module_has_a_docstring(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__doc__ and module.__doc__.strip()


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_module_exports_names_that_exist(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = public_names(module_name)
    assert names, f"{module_name} exports nothing"
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"{module_name} lists names it does not define: {missing}"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_module_documents_every_exported_name(module_name: str) -> None:
    module = importlib.import_module(module_name)
    problems = []
    for name in public_names(module_name):
        obj = getattr(module, name, None)
        why = _missing_doc(module_name, name, obj)
        if why:
            problems.append(f"{module_name}.{name}: {why}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "module_name", [m for m in PUBLIC_MODULES if hasattr(importlib.import_module(m), "__all__")]
)
def test_public_module_all_lists_every_reexport(module_name: str) -> None:
    # `from amqp10.x import *` and documentation tools go by __all__; a re-export missing from
    # it is public in the source and invisible to them.
    module = importlib.import_module(module_name)
    missing = sorted(set(_reexports(module_name)) - set(module.__all__))
    assert not missing, f"{module_name}.__all__ omits re-exported {missing}"


# -- DESIGN.md "Names others rely on" --------------------------------------------------------
DESIGN_NAMES = [
    "amqp10.codec.encode",
    "amqp10.codec.decode",
    "amqp10.codec.decode_prefix",
    "amqp10.codec.DecodeError",
    "amqp10.codec.IMPL",
    *(
        f"amqp10.codec.types.{n}"
        for n in (
            "Symbol", "Char", "UByte", "UShort", "UInt", "ULong", "Byte", "Short", "Int",
            "Float", "Timestamp", "Decimal32", "Decimal64", "Decimal128", "Described", "Array",
        )
    ),
    "amqp10.Message",
    "amqp10.Header",
    "amqp10.Properties",
    *(f"amqp10.{n}" for n in ("Accepted", "Rejected", "Released", "Modified", "Received")),
    *(
        f"amqp10.{n}"
        for n in (
            "AMQPError", "DecodeError", "FramingError", "ConnectionClosedError",
            "SessionEndedError", "LinkDetachedError", "SASLError", "Timeout",
            "SourceDowngradedError", "AnonymousRelayNotOfferedError",
        )
    ),
    "amqp10.connect",
    "amqp10.listen",
    "amqp10.Delivery",
    "amqp10.blocking.connect",
    "amqp10.blocking.listen",
    "amqp10.trio.connect",
    "amqp10.trio.serve",
    "amqp10.asyncio.connect",
    "amqp10.asyncio.serve",
    "amqp10.testing.EnginePair",
    "amqp10.testing.VirtualClock",
    "amqp10.testing.FrameFactory",
]


def _resolve(dotted: str) -> Any:
    module_name, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


@pytest.mark.parametrize("dotted", DESIGN_NAMES)
def test_design_name_is_importable(dotted: str) -> None:
    _resolve(dotted)


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("Symbol", str), ("Char", str), ("UByte", int), ("UShort", int), ("UInt", int),
        ("ULong", int), ("Byte", int), ("Short", int), ("Int", int), ("Float", float),
        ("Timestamp", int), ("Array", list),
    ],
)
def test_codec_wrapper_subclasses_its_python_type(name: str, base: type) -> None:
    # DESIGN.md: a wrapper "still behaves as a number or a string".
    assert issubclass(getattr(amqp10.codec.types, name), base)


def test_codec_Timestamp_converts_to_datetime() -> None:
    ts = amqp10.codec.types.Timestamp(1_000)
    assert ts.to_datetime() == datetime.datetime(1970, 1, 1, 0, 0, 1, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("name", ["Decimal32", "Decimal64", "Decimal128"])
def test_codec_Decimal_converts_exactly_to_and_from_decimal(name: str) -> None:
    cls = getattr(amqp10.codec.types, name)
    value = decimal.Decimal("-12.5")
    assert cls.from_decimal(value).to_decimal() == value


@pytest.mark.parametrize(
    "value",
    [None, True, False, -(2**63), 2**63 - 1, 1.5, "text", b"\x00bytes", uuid.UUID(int=7), {"k": [1]}, [1, "a"]],
)
def test_codec_decode_gives_back_plain_types_for_plain_values(value: Any) -> None:
    got = amqp10.codec.decode(amqp10.codec.encode(value))
    assert type(got) is type(value)
    assert got == value


def test_codec_decode_refuses_trailing_bytes_and_decode_prefix_reports_what_it_took() -> None:
    data = amqp10.codec.encode("x") + b"\x40"
    with pytest.raises(amqp10.codec.DecodeError):
        amqp10.codec.decode(data)
    assert amqp10.codec.decode_prefix(data) == ("x", len(data) - 1)


def test_Message_takes_and_keeps_every_section_by_its_design_name() -> None:
    message = amqp10.Message(
        body="hello",
        header=amqp10.Header(durable=True, priority=5, ttl=1000, first_acquirer=False, delivery_count=1),
        properties=amqp10.Properties(
            message_id="id-1", to="queue", reply_to="replies", correlation_id="c-1",
            subject="s", content_type="text/plain",
        ),
        application_properties={"k": 1},
        delivery_annotations={amqp10.codec.Symbol("x-d"): 1},
        message_annotations={amqp10.codec.Symbol("x-m"): 2},
        footer={amqp10.codec.Symbol("x-f"): 3},
    )
    again = amqp10.Message.decode(message.encode())
    for attr in (
        "header", "delivery_annotations", "message_annotations", "properties",
        "application_properties", "body", "footer",
    ):
        assert getattr(again, attr) == getattr(message, attr), attr
    assert again.properties is not None and again.properties.reply_to == "replies"


def test_outcomes_take_their_design_arguments() -> None:
    error = amqp10.codec.spec.Error(condition=amqp10.codec.Symbol("amqp:not-found"), description="no")
    assert amqp10.Rejected(error).error == error
    assert amqp10.Modified(delivery_failed=True).delivery_failed is True
    assert amqp10.Received(section_number=0, section_offset=0).section_number == 0
    amqp10.Accepted()
    amqp10.Released()


@pytest.mark.parametrize(
    "name",
    [
        "DecodeError", "FramingError", "ConnectionClosedError", "SessionEndedError",
        "LinkDetachedError", "SASLError", "Timeout", "SourceDowngradedError",
        "AnonymousRelayNotOfferedError",
    ],
)
def test_error_is_an_AMQPError_carrying_condition_and_description(name: str) -> None:
    cls = getattr(amqp10, name)
    assert issubclass(cls, amqp10.AMQPError)
    if name == "DecodeError":
        err = cls("bad bytes")
        assert err.condition == "amqp:decode-error"
    else:
        err = cls("what happened", condition="amqp:internal-error")
        assert err.condition == "amqp:internal-error"
    assert err.description in ("bad bytes", "what happened")


def test_Timeout_is_also_a_TimeoutError() -> None:
    assert issubclass(amqp10.Timeout, TimeoutError)


def test_DecodeError_is_one_class_across_the_layers() -> None:
    assert amqp10.DecodeError is amqp10.codec.DecodeError


def test_blocking_connect_and_listen_are_the_top_level_ones() -> None:
    import amqp10.blocking

    assert amqp10.connect is amqp10.blocking.connect
    assert amqp10.listen is amqp10.blocking.listen


@pytest.mark.parametrize(
    ("cls", "members"),
    [
        ("Connection", ("__enter__", "__exit__", "open_session", "open_sender", "open_receiver", "close")),
        ("Sender", ("send", "close")),
        ("Receiver", ("receive", "__iter__", "close")),
    ],
)
def test_blocking_class_has_its_design_methods(cls: str, members: tuple[str, ...]) -> None:
    import amqp10.blocking

    klass = getattr(amqp10.blocking, cls)
    assert [m for m in members if not callable(getattr(klass, m, None))] == []


def test_Delivery_has_message_and_the_four_outcome_helpers() -> None:
    for member in ("accept", "reject", "release", "modify"):
        assert callable(getattr(amqp10.Delivery, member, None)), member
    assert isinstance(inspect.getattr_static(amqp10.Delivery, "message"), property)


def test_trio_adapter_is_async_with_the_same_names() -> None:
    import amqp10.trio

    assert callable(amqp10.trio.connect)
    assert inspect.iscoroutinefunction(amqp10.trio.serve)
    assert inspect.iscoroutinefunction(amqp10.trio.Sender.send)
    assert inspect.iscoroutinefunction(amqp10.trio.Receiver.receive)
    assert hasattr(amqp10.trio.Receiver, "__aiter__")
    for member in ("open_session", "open_sender", "open_receiver"):
        assert callable(getattr(amqp10.trio.Connection, member, None)), member


def test_asyncio_adapter_has_the_trio_adapters_names_with_the_same_shape() -> None:
    import amqp10.asyncio
    import amqp10.trio

    assert set(amqp10.trio.__all__) <= set(amqp10.asyncio.__all__)
    assert inspect.iscoroutinefunction(amqp10.asyncio.serve)
    for cls in ("Connection", "Session", "Sender", "Receiver", "Requester"):
        trio_cls, asyncio_cls = getattr(amqp10.trio, cls), getattr(amqp10.asyncio, cls)
        public = {n for n in dir(trio_cls) if not n.startswith("_") or n in ("__aiter__", "__anext__", "__aenter__", "__aexit__")}
        assert public <= set(dir(asyncio_cls)), (cls, public - set(dir(asyncio_cls)))
        for name in public:
            trio_member = inspect.getattr_static(trio_cls, name)
            if inspect.isfunction(trio_member):
                asyncio_member = inspect.getattr_static(asyncio_cls, name)
                assert inspect.iscoroutinefunction(asyncio_member) == inspect.iscoroutinefunction(trio_member), (cls, name)
                assert inspect.signature(asyncio_member) == inspect.signature(trio_member), (cls, name)


# -- packaging ------------------------------------------------------------------------------
@pytest.mark.parametrize("package", ["amqp10", "amqp10.codec"])
def test_installed_package_ships_py_typed(package: str) -> None:
    assert importlib.resources.files(package).joinpath("py.typed").is_file()


def test_version_matches_the_installed_distribution() -> None:
    assert amqp10.__version__ == importlib.metadata.version("amqp10")
