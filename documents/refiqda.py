"""REFI-QDA codebook exchange (`.qdc`, the REFI-QDA Standard's Codebook.xsd, namespace
urn:QDA-XML:codebook:1.0): a codebook written out, and a file read back as a tree of codes.

REFI-QDA has one free-text description per code; ours carries the definition, then the
inclusion and exclusion criteria under the headings below, so that a file this app wrote
comes back field by field, and other programs still show all three to their users.

Reading a file is defensive: its size and number of codes are bounded, it is parsed without
a DTD, entities or the network, and it must be valid against the schema before anything is
made of it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from lxml import etree

NAMESPACE = "urn:QDA-XML:codebook:1.0"
SCHEMA_PATH = Path(__file__).parent / "schemas" / "refi-qda-codebook.xsd"
CONTENT_TYPE = "application/xml"

#: The largest file read (a codebook of thousands of codes with long descriptions fits).
MAX_BYTES = 5 * 1024 * 1024
#: The most codes one file may bring.
MAX_CODES = 2000
#: The deepest nesting of codes accepted.
MAX_DEPTH = 20

WHEN_TO_USE = "When to use:"
WHEN_NOT_TO_USE = "When not to use:"
DEFAULT_COLOUR = "#ffd54f"

_CRITERIA = re.compile(
    rf"(?:^|\n\n)({re.escape(WHEN_TO_USE)}|{re.escape(WHEN_NOT_TO_USE)})[ \t]*\n?"
)


@dataclass
class CodeEntry:
    """One code of a codebook file, with the codes under it."""

    guid: uuid.UUID
    name: str
    codable: bool
    colour: str
    definition: str = ""
    inclusion: str = ""
    exclusion: str = ""
    children: list[CodeEntry] = field(default_factory=list)

    def walk(self) -> Iterable[CodeEntry]:
        yield self
        for child in self.children:
            yield from child.walk()


# ---------------------------------------------------------------------------------------
# Writing


def description(definition: str, inclusion: str, exclusion: str) -> str:
    """A code's REFI-QDA description: the definition, then the criteria under headings."""
    parts = [definition.strip()] if definition.strip() else []
    if inclusion.strip():
        parts.append(f"{WHEN_TO_USE}\n{inclusion.strip()}")
    if exclusion.strip():
        parts.append(f"{WHEN_NOT_TO_USE}\n{exclusion.strip()}")
    return "\n\n".join(parts)


def codebook_xml(tags: Sequence[Any], *, origin: str) -> bytes:
    """The codebook file of `tags` (a project's codes, each with pk, parent_id, uuid, name,
    is_active, colour, definition, inclusion, exclusion), in their order, nested as they
    are. A retired code is not codable."""
    ids = {tag.pk for tag in tags}
    children: dict[int | None, list[Any]] = {}
    for tag in tags:
        parent = tag.parent_id if tag.parent_id in ids else None
        children.setdefault(parent, []).append(tag)
    root = etree.Element(
        f"{{{NAMESPACE}}}CodeBook", nsmap={None: NAMESPACE}, origin=_xml_text(origin)
    )
    codes = etree.SubElement(root, f"{{{NAMESPACE}}}Codes")

    def add(parent: etree._Element, tag: Any) -> None:
        element = etree.SubElement(
            parent,
            f"{{{NAMESPACE}}}Code",
            guid=str(tag.uuid),
            name=_xml_text(tag.name),
            isCodable="true" if tag.is_active else "false",
            color=tag.colour,
        )
        text = description(tag.definition, tag.inclusion, tag.exclusion)
        if text:
            etree.SubElement(element, f"{{{NAMESPACE}}}Description").text = _xml_text(text)
        for child in children.get(tag.pk, ()):
            add(element, child)

    for tag in children.get(None, ()):
        add(codes, tag)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True))


# ---------------------------------------------------------------------------------------
# Reading


def _refused(message: str) -> ValidationError:
    return ValidationError({"file": [message]})


_schema: etree.XMLSchema | None = None


def _codebook_schema() -> etree.XMLSchema:
    global _schema  # noqa: PLW0603 - parsed once per process, read-only afterwards
    if _schema is None:
        _schema = etree.XMLSchema(etree.parse(str(SCHEMA_PATH), _parser()))
    return _schema


def _parser() -> etree.XMLParser:
    # Nothing from outside the file: no DTD, no entity expansion, no network.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_codebook(data: bytes) -> list[CodeEntry]:
    """The top-level codes of a REFI-QDA codebook file, each with its children; raises a
    ValidationError on `file` saying what is wrong (too large, not XML, a DTD, not valid
    against Codebook.xsd, too many codes or levels)."""
    if not data:
        raise _refused("The file is empty: choose a REFI-QDA codebook (.qdc) file.")
    if len(data) > MAX_BYTES:
        raise _refused(
            f"The file has {len(data):,} bytes; a codebook file may have at most {MAX_BYTES:,}."
        )
    try:
        document = etree.fromstring(data, _parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise _refused(f"The file is not well-formed XML: {exc.msg}.") from None
    if document.docinfo.doctype or document.docinfo.internalDTD is not None:
        raise _refused("The file declares a DTD (<!DOCTYPE …>); codebook files have none.")
    root = document.getroot()
    if root.tag != f"{{{NAMESPACE}}}CodeBook":
        raise _refused(
            f"The file's root element is {etree.QName(root).localname!r}, not a REFI-QDA "
            f"CodeBook in the namespace {NAMESPACE}."
        )
    found = sum(1 for _ in root.iter(f"{{{NAMESPACE}}}Code"))
    if found > MAX_CODES:
        raise _refused(f"The file has {found:,} codes; at most {MAX_CODES:,} are read at once.")
    schema = _codebook_schema()
    if not schema.validate(document):
        problems = [f"line {error.line}: {error.message}" for error in schema.error_log][:5]
        raise _refused("The file is not a valid REFI-QDA codebook: " + "; ".join(problems))
    codes = root.find(f"{{{NAMESPACE}}}Codes")
    assert codes is not None  # the schema requires it
    return [_entry(element, 1) for element in codes.iterchildren(f"{{{NAMESPACE}}}Code")]


def _guid(value: str | None, name: str) -> uuid.UUID:
    # The schema's guid is an xsd:token: spaces around it, and braces, are allowed.
    try:
        return uuid.UUID(str(value).strip().strip("{}"))
    except ValueError:
        raise _refused(f"Code {name!r} has a guid that is not a GUID: {value!r}.") from None


def _xml_text(text: str) -> str:
    """`text` without the characters XML 1.0 cannot hold (control characters other than
    tab and line breaks), which a code's text may contain."""
    return _NOT_XML.sub("", text)


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _entry(element: etree._Element, depth: int) -> CodeEntry:
    name = (element.get("name") or "").strip()
    if depth > MAX_DEPTH:
        raise _refused(f"Code {name!r} is nested {depth} levels deep; at most {MAX_DEPTH}.")
    described = element.findtext(f"{{{NAMESPACE}}}Description") or ""
    definition, inclusion, exclusion = _criteria(described)
    return CodeEntry(
        guid=_guid(element.get("guid"), name),
        name=name,
        codable=str(element.get("isCodable")).strip() in ("true", "1"),
        colour=_colour(element.get("color")),
        definition=definition,
        inclusion=inclusion,
        exclusion=exclusion,
        children=[
            _entry(child, depth + 1) for child in element.iterchildren(f"{{{NAMESPACE}}}Code")
        ],
    )


def _colour(value: str | None) -> str:
    """#rrggbb from a REFI-QDA colour (#rgb or #rrggbb; the schema checked the form)."""
    if not value:
        return DEFAULT_COLOUR
    digits = value.strip().lstrip("#")
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return f"#{digits.lower()}"


def _criteria(text: str) -> tuple[str, str, str]:
    """Definition, inclusion and exclusion criteria from a description (`description`)."""
    text = text.replace("\r\n", "\n").strip()
    pieces = _CRITERIA.split(text)
    found = {"": pieces[0]}
    for heading, body in zip(pieces[1::2], pieces[2::2], strict=True):
        found[heading] = body
    return (
        found[""].strip(),
        found.get(WHEN_TO_USE, "").strip(),
        found.get(WHEN_NOT_TO_USE, "").strip(),
    )
