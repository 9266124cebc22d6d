"""The AMQP 1.0 spec XML, read for tests independently of ``codec/_gen_spec.py``.

Tests check the generated ``spec.py`` against what this module reads, so a bug in the generator's
own XML handling cannot hide behind itself. A missing spec folder fails the test (with where it
looked); it never skips, since then nothing would be checked.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["XmlField", "XmlType", "spec_dir", "xml_types"]

_NS = "{http://www.amqp.org/schema/amqp.xsd}"


def spec_dir() -> Path:
    """``$AMQP10_SPEC_DIR``, else ``<repo>/spec/amqp-1.0`` (committed with the repo); fails
    the test if it holds no XML."""
    env = os.environ.get("AMQP10_SPEC_DIR")
    # The repo is found from this file, not from the package: the tests may run against an
    # installed (non-editable) copy of amqp10 in site-packages.
    repo = Path(__file__).resolve().parents[2]
    where = Path(env) if env else repo / "spec" / "amqp-1.0"
    if not where.is_dir() or not any(where.glob("*.xml")):
        pytest.fail(
            f"the AMQP 1.0 spec XML was not found: looked for *.xml in {where} "
            "(set AMQP10_SPEC_DIR to the folder holding types.bare.xml, transport.bare.xml, ...)"
        )
    return where


@dataclass(frozen=True)
class XmlField:
    """A ``<field>`` as written in the XML."""

    name: str
    type: str
    requires: str | None
    mandatory: bool
    multiple: bool
    default: str | None


@dataclass(frozen=True)
class XmlType:
    """A ``<type>`` as written in the XML."""

    name: str
    klass: str
    source: str | None
    provides: tuple[str, ...]
    code: int | None
    descriptor: str | None
    fields: tuple[XmlField, ...]
    choices: tuple[tuple[str, str], ...]


def xml_types() -> dict[str, XmlType]:
    """Every type of every XML document, by name."""
    out: dict[str, XmlType] = {}
    for path in sorted(spec_dir().glob("*.xml")):
        for el in ET.parse(path).getroot().iter(_NS + "type"):
            desc = el.find(_NS + "descriptor")
            code = None
            if desc is not None:
                hi, lo = desc.attrib["code"].split(":")
                code = int(hi, 16) << 32 | int(lo, 16)
            out[el.attrib["name"]] = XmlType(
                name=el.attrib["name"],
                klass=el.attrib["class"],
                source=el.get("source"),
                provides=tuple(p.strip() for p in el.get("provides", "").split(",") if p.strip()),
                code=code,
                descriptor=desc.attrib["name"] if desc is not None else None,
                fields=tuple(
                    XmlField(
                        name=f.attrib["name"],
                        type=f.attrib["type"],
                        requires=f.get("requires"),
                        mandatory=f.get("mandatory") == "true",
                        multiple=f.get("multiple") == "true",
                        default=f.get("default"),
                    )
                    for f in el.findall(_NS + "field")
                ),
                choices=tuple(
                    (c.attrib["name"], c.attrib["value"]) for c in el.findall(_NS + "choice")
                ),
            )
    return out
