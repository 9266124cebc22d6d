"""FormatCode and its tables are proven against types.bare.xml, read here, never retyped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from amqp10.codec.formats import AMQP_TYPE, CATEGORY, WIDTH, ZERO_WIDTH, Category, FormatCode
from support.spec_xml import spec_dir

_NS = "{http://www.amqp.org/schema/amqp.xsd}"
# Encoding names that describe a representation rather than name a constructor: the enum member
# takes the type's name instead (e.g. float's "ieee-754" is FormatCode.FLOAT).
_REPRESENTATION_NAMES = {"ieee-754", "utf32", "ms64"}


def _xml_encodings() -> list[tuple[str, dict[str, str]]]:
    root = ET.parse(spec_dir() / "types.bare.xml").getroot()
    rows = []
    for type_el in root.iter(f"{_NS}type"):
        for enc in type_el.iter(f"{_NS}encoding"):
            rows.append((type_el.attrib["name"], dict(enc.attrib)))
    return rows


def test_xml_lists_every_primitive_encoding() -> None:
    # A guard against reading the wrong file: 1.6 defines 39 encodings.
    assert len(_xml_encodings()) == 39


def test_every_xml_encoding_has_a_FormatCode_with_the_xml_width_category_and_type() -> None:
    for type_name, enc in _xml_encodings():
        code = FormatCode(int(enc["code"], 16))
        assert WIDTH[code] == int(enc["width"]), (type_name, enc)
        assert CATEGORY[code] is Category(enc["category"]), (type_name, enc)
        assert AMQP_TYPE[code] == type_name, (type_name, enc)


def test_FormatCode_member_names_follow_the_xml_encoding_names() -> None:
    for type_name, enc in _xml_encodings():
        name = enc.get("name", type_name)
        if name in _REPRESENTATION_NAMES:
            name = type_name
        expected = name.removesuffix("-utf8").upper()
        assert FormatCode(int(enc["code"], 16)).name == expected, enc


def test_FormatCode_has_nothing_the_xml_lacks_except_the_described_constructor() -> None:
    xml_codes = {int(enc["code"], 16) for _, enc in _xml_encodings()}
    assert {int(c) for c in FormatCode} - xml_codes == {0x00}
    assert FormatCode.DESCRIBED == 0x00
    assert set(WIDTH) == set(CATEGORY) == set(AMQP_TYPE) == set(FormatCode) - {FormatCode.DESCRIBED}


def test_ZERO_WIDTH_is_exactly_the_fixed_encodings_of_width_zero_in_the_xml() -> None:
    expected = {
        FormatCode(int(enc["code"], 16))
        for _, enc in _xml_encodings()
        if enc["category"] == "fixed" and enc["width"] == "0"
    }
    assert ZERO_WIDTH == expected
    assert FormatCode.TRUE in ZERO_WIDTH and FormatCode.LIST0 in ZERO_WIDTH


@pytest.mark.parametrize("code", list(FormatCode))
def test_FormatCode_values_are_single_constructor_bytes(code: FormatCode) -> None:
    assert 0 <= code <= 0xFF
