"""The AMQP 1.0 spec XML as data, for the generator (``codec/_gen_spec.py``).

Owns: reading ``*.xml`` into ``XType`` / ``XField`` records in document order, following
restricted types to their primitive, finding an archetype's providers, and the naming rules
(XML name -> Python class, field and constant names). Must never: render code, or be imported
by the library at run time.
"""

from __future__ import annotations

import dataclasses
import keyword
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Mapping

__all__ = ["XField", "XType", "Spec", "load_spec", "camel", "snake", "upper", "enum_name"]

_NS = "{http://www.amqp.org/schema/amqp.xsd}"
#: Documents in spec order; any other document follows, by name.
_DOC_ORDER = ("types", "transport", "messaging", "security", "transactions")


# -- the XML model --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class XField:
    """One ``<field>`` of a composite type, as the XML says it."""

    name: str
    type: str
    requires: tuple[str, ...]
    mandatory: bool
    multiple: bool
    default: str | None


@dataclasses.dataclass(frozen=True)
class XType:
    """One ``<type>`` (primitive, restricted or composite), as the XML says it."""

    name: str
    klass: str
    source: str | None
    provides: tuple[str, ...]
    descriptor_name: str | None
    descriptor_code: int | None
    fields: tuple[XField, ...]
    choices: tuple[tuple[str, str], ...]
    doc: str
    section: str


@dataclasses.dataclass(frozen=True)
class Spec:
    """Every type and definition of the spec documents, in document order."""

    types: Mapping[str, XType]
    definitions: tuple[tuple[str, str, str], ...]  # (name, value, document)
    files: tuple[str, ...]

    def composites(self) -> list[XType]:
        """The composite types, in document order."""
        return [t for t in self.types.values() if t.klass == "composite"]

    def restricted(self) -> list[XType]:
        """The restricted types, in document order."""
        return [t for t in self.types.values() if t.klass == "restricted"]

    def chain(self, name: str) -> list[str]:
        """``name`` and what it restricts, down to a primitive, a composite or ``*``."""
        out = [name]
        while name != "*":
            t = self.types.get(name)
            if t is None:
                raise ValueError(f"spec type {name!r} is not defined")
            if t.klass != "restricted":
                break
            assert t.source is not None
            name = t.source
            if name in out:
                raise ValueError(f"restricted type cycle at {name!r}")
            out.append(name)
        return out

    def primitive(self, name: str) -> str:
        """What ``name`` is encoded as: a primitive name, ``"composite"`` or ``"*"``."""
        last = self.chain(name)[-1]
        if last == "*":
            return "*"
        return "composite" if self.types[last].klass == "composite" else last

    def providers(self, archetype: str) -> list[XType]:
        """The types whose ``provides`` lists ``archetype``, in document order."""
        return [t for t in self.types.values() if archetype in t.provides]


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (text or "").split(",") if p.strip())


def _code(text: str) -> int:
    # "0x00000000:0x00000010" is domain-id:descriptor-id; the ulong is domain << 32 | id (1.5).
    domain, _, ident = text.partition(":")
    return (int(domain, 16) << 32) | int(ident, 16)


def load_spec(spec_dir: Path) -> Spec:
    """Read every ``*.xml`` in ``spec_dir``.

    Raises:
        FileNotFoundError: ``spec_dir`` holds no XML.
        ValueError: the XML defines a type twice.
    """
    files = sorted(spec_dir.glob("*.xml"))
    if not files:
        raise FileNotFoundError(f"no AMQP spec XML in {spec_dir}")
    docs = []
    for path in files:
        root = ET.parse(path).getroot()
        docs.append((root.get("name") or path.stem, path.name, root))
    rank = {name: i for i, name in enumerate(_DOC_ORDER)}
    docs.sort(key=lambda d: (rank.get(d[0], len(rank)), d[0], d[1]))
    types: dict[str, XType] = {}
    definitions: list[tuple[str, str, str]] = []
    for doc, filename, root in docs:
        for section in root.iter(_NS + "section"):
            for el in section:
                if el.tag == _NS + "type":
                    t = _parse_type(el, filename, section.get("name", ""))
                    if t.name in types:
                        raise ValueError(f"type {t.name!r} is defined twice")
                    types[t.name] = t
                elif el.tag == _NS + "definition":
                    definitions.append((el.get("name", ""), el.get("value", ""), filename))
    return Spec(types, tuple(definitions), tuple(filename for _, filename, _ in docs))


def _parse_type(el: ET.Element, filename: str, section: str) -> XType:
    desc = el.find(_NS + "descriptor")
    return XType(
        name=el.get("name", ""),
        klass=el.get("class", ""),
        source=el.get("source"),
        provides=_split(el.get("provides")),
        descriptor_name=desc.get("name") if desc is not None else None,
        descriptor_code=_code(desc.get("code", "")) if desc is not None else None,
        fields=tuple(
            XField(
                name=f.get("name", ""),
                type=f.get("type", ""),
                requires=_split(f.get("requires")),
                mandatory=f.get("mandatory") == "true",
                multiple=f.get("multiple") == "true",
                default=f.get("default"),
            )
            for f in el.findall(_NS + "field")
        ),
        choices=tuple((c.get("name", ""), c.get("value", "")) for c in el.findall(_NS + "choice")),
        doc=filename,
        section=section,
    )


# -- names ----------------------------------------------------------------------------------


def camel(name: str) -> str:
    """``sasl-mechanisms`` -> ``SaslMechanisms``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("-"))


def snake(name: str) -> str:
    """``max-frame-size`` -> ``max_frame_size`` (a keyword would get a trailing ``_``)."""
    out = name.replace("-", "_")
    return out + "_" if keyword.iskeyword(out) else out


def upper(name: str) -> str:
    """``sys-perm`` -> ``SYS_PERM``."""
    return name.replace("-", "_").upper()


def enum_name(t: XType) -> str:
    """Restricted type -> enum name. Error conditions end in ``Condition`` so that none
    shadows a builtin (``ConnectionError``) or reads like an exception (``AMQPError``)."""
    return camel(t.name) + ("Condition" if "error-condition" in t.provides else "")
