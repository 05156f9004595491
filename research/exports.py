"""The passages export's files: CSV, Markdown, XLSX and a DOCX quotation report.

The selector builds the `Passage`s (one per annotation matching the analyst's query, with
its citation) and the `CodeGroup`s; these functions only write them out. CSV and Markdown
are streamed as text; XLSX and DOCX are written to a temporary file that the view hands to
`FileResponse`. Each reads its passages once, as they come, so that a selector may produce
them lazily from the database.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO
from urllib.parse import quote, urlsplit

import docx
from docx.document import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import RGBColor
from docx.text.paragraph import Paragraph
from openpyxl import Workbook
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.utils import get_column_letter

from documents.exports import neutralise


@dataclass(frozen=True)
class Citation:
    title: str  # the document's title
    organisation: str  # who published it, may be ''
    published: str  # publication date at its precision ('16 June 2011', '2012') or ''
    page: int | None  # page number of the passage's start, for PDFs; else None
    url: str  # absolute permalink that opens the document at the passage


@dataclass(frozen=True)
class Passage:
    id: int
    document_id: int
    start: int  # code-point offsets in the document text
    end: int
    quote: str  # the tagged text
    before: str  # a little context before the quote ('' at the start of a paragraph)
    after: str  # a little context after it
    codes: tuple[str, ...]  # names of the passage's codes, in codebook order
    note: str
    coder: str  # username of the annotation's author
    created: str  # RFC 3339 timestamp
    citation: Citation
    # (name, value as text) of its document's attributes that have a value, in their order
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CodeGroup:
    code: str  # the code's name
    definition: str  # may be ''
    passages: Iterable[Passage]  # lazily produced: iterate it once, do not len() it


#: The columns of the CSV and of the spreadsheet's "Passages" sheet.
COLUMNS = (
    "passage_id",
    "codes",
    "quote",
    "context_before",
    "context_after",
    "note",
    "coder",
    "created",
    "document_id",
    "title",
    "organisation",
    "published",
    "page",
    "url",
)

NO_PASSAGES = "No passages."

# A download starts with the header at once, then comes in batches: one write per row would
# cost a system call each on a large export.
_ROWS_PER_CHUNK = 100
# A spreadsheet or report this small stays in memory; a larger one goes to disk.
_SPOOL_BYTES = 4 * 1024 * 1024


# Shared helpers --------------------------------------------------------------------------

# XML 1.0 forbids the C0 control characters other than tab, newline and carriage return,
# U+FFFE and U+FFFF, and surrogates (in a Python str a surrogate is always unpaired).
# openpyxl and python-docx raise on them, so the XLSX and DOCX files leave them out: they
# carry no meaning in a quotation.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """The text without the characters that XML 1.0 forbids."""
    return _XML_FORBIDDEN.sub("", text)


def is_rtl(text: str) -> bool:
    """Whether the text's first strong character is right to left (Arabic, Uyghur, Hebrew)."""
    for char in text:
        direction = unicodedata.bidirectional(char)
        if direction in ("R", "AL"):
            return True
        if direction == "L":
            return False
    return False


def citation_text(c: Citation) -> str:
    """The citation as one line: "Title. Organisation, 16 June 2011, p. 4."

    The permalink is not in it: each format shows it as a link of its own.
    """
    details = [_one_line(part) for part in (c.organisation, c.published) if part.strip()]
    if c.page is not None:
        details.append(f"p. {c.page}")
    sentences = (_one_line(c.title), ", ".join(details))
    return " ".join(_sentence(part) for part in sentences if part)


def _sentence(text: str) -> str:
    # A title that ends with its own full stop or question mark gets no second one.
    return text if text.endswith((".", "?", "!", "…")) else text + "."


def _one_line(text: str) -> str:
    """Headings and citations on one line, whatever line breaks the user typed."""
    return " ".join(text.split())


def _linkable(url: str) -> bool:
    # The permalink is the app's own, but only a web address becomes a link, so that no
    # other scheme (javascript:, file:) can ever be made clickable in a report.
    return urlsplit(url).scheme in ("http", "https")


def _exported() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _spooled() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)


def attributes_text(passage: Passage) -> str:
    """The document's attributes as a sentence for the citation: "Country: China; Adopted:
    2001-06-15." ('' without any)."""
    parts = [f"{_one_line(name)}: {_one_line(value)}" for name, value in passage.attributes]
    return _sentence("; ".join(parts)) if parts else ""


def _cited(passage: Passage) -> str:
    """The citation line's text: the citation, then the document's attributes."""
    return " ".join(
        part for part in (citation_text(passage.citation), attributes_text(passage)) if part
    )


def _cells(
    passage: Passage, text: Callable[[str], str], attributes: Sequence[str] = ()
) -> list[str | int | None]:
    """One row of the CSV or spreadsheet, each text cell passed through `text`; then one
    cell per attribute named in `attributes` (empty where the document has no value)."""
    citation = passage.citation
    values = dict(passage.attributes)
    return [
        passage.id,
        text("; ".join(passage.codes)),
        text(passage.quote),
        text(passage.before),
        text(passage.after),
        text(passage.note),
        text(passage.coder),
        text(passage.created),
        passage.document_id,
        text(citation.title),
        text(citation.organisation),
        text(citation.published),
        citation.page,
        text(citation.url),
        *(text(values.get(name, "")) for name in attributes),
    ]


# CSV -------------------------------------------------------------------------------------


def csv_chunks(passages: Iterable[Passage], *, attributes: Sequence[str] = ()) -> Iterator[str]:
    """The header line, then one line per passage, as text chunks to stream; a column per
    document attribute named in `attributes`, after the others."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # The byte-order mark makes Excel read the file as UTF-8: without it Excel takes the
    # system's code page and garbles Chinese, Russian and Uyghur text. (Python's csv and
    # pandas skip it with encoding="utf-8-sig".)
    buffer.write("\ufeff")
    writer.writerow([*COLUMNS, *(neutralise(name) for name in attributes)])
    yield _drained(buffer)
    for count, passage in enumerate(passages, 1):
        writer.writerow(_cells(passage, neutralise, attributes))
        if count % _ROWS_PER_CHUNK == 0:
            yield _drained(buffer)
    if buffer.tell():
        yield _drained(buffer)


def _drained(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


# Markdown --------------------------------------------------------------------------------

# Markdown's inline syntax, escaped wherever it appears in user text: the backslash itself,
# emphasis and code (* _ `), links, images and footnotes ([ ]), HTML and autolinks (< >),
# entities (&), headings (#), tables (|), strikethrough and fences (~).
_MD_INLINE = re.compile(r"([\\`*_\[\]<>&#|~])")
# At the start of a line also what opens a list ("-", "+", "1." or "1)") or underlines the
# line above into a heading ("=", "-"). ">" is escaped everywhere already.
_MD_BULLET = re.compile(r"^([-+=])")
_MD_ORDERED = re.compile(r"^(\d{1,9})([.)])")
# Characters a URL may keep as they are in a Markdown link's destination; the others
# (spaces, parentheses, angle brackets, quotes, backslashes) are percent-encoded.
_URL_SAFE = "/:?#[]@!$&'*+,;=%-._~"


def markdown_chunks(groups: Iterable[CodeGroup], *, title: str, description: str) -> Iterator[str]:
    """The passages as Markdown, grouped by code, as text chunks to stream.

    User text (quotes, context, notes, titles, code names) is escaped so that it reads
    literally: a quote cannot make a heading, a link, a list or HTML.
    """
    head = f"# {_md_escape(_one_line(title))}\n\n"
    if description.strip():
        lines = [_md_escape(line) for line in description.strip().split("\n")]
        head += _md_paragraphs(lines) + "\n\n"
    yield head
    for group in groups:
        text = f"## {_md_escape(_one_line(group.code))}\n\n"
        if group.definition.strip():
            text += f"*{_md_escape(_one_line(group.definition))}*\n\n"
        yield text
        empty = True
        for passage in group.passages:
            empty = False
            yield _md_passage(passage)
        if empty:
            yield f"{NO_PASSAGES}\n\n"


def _md_passage(passage: Passage) -> str:
    # The quote in bold between its context, line by line: a newline in the text stays one.
    lines: list[str] = [""]
    for text, markup in (
        (passage.before, _md_escape),
        (passage.quote, _md_bold),
        (passage.after, _md_escape),
    ):
        for index, part in enumerate(text.split("\n")):
            if index:
                lines.append("")
            lines[-1] += markup(part)
    quote = _md_paragraphs(lines, prefix="> ")
    citation = _md_escape(_cited(passage))
    url = passage.citation.url
    if _linkable(url):
        citation += f" [{_md_escape(url)}]({_md_destination(url)})"
    elif url:
        citation += f" {_md_escape(url)}"
    footer = [citation]
    if passage.note.strip():
        note = [_md_escape(line) for line in passage.note.strip().split("\n")]
        footer += [f"Note: {note[0]}", *note[1:]]
    coded = f"Coded by {_md_escape(_one_line(passage.coder))}"
    if passage.created:
        coded += f" on {_md_escape(_one_line(passage.created)[:10])}"
    footer.append(coded + ".")
    return f"{quote}\n\n{_md_paragraphs(footer)}\n\n"


def _md_destination(url: str) -> str:
    """The URL as a Markdown link's destination, which ends at a space or parenthesis."""
    return quote(url, safe=_URL_SAFE)


def _md_escape(text: str) -> str:
    return _MD_INLINE.sub(r"\\\1", text)


def _md_bold(text: str) -> str:
    # CommonMark opens or closes "**" reliably only beside a letter or digit: "**" between
    # a letter and punctuation (Chinese "。" followed by the context) is left as two literal
    # asterisks. Spaces and punctuation at the quote's edges therefore stay outside the bold.
    start, end = 0, len(text)
    while start < end and _md_edge(text[start]):
        start += 1
    while end > start and _md_edge(text[end - 1]):
        end -= 1
    if start == end:
        return _md_escape(text)
    inner = _md_escape(text[start:end])
    return f"{_md_escape(text[:start])}**{inner}**{_md_escape(text[end:])}"


def _md_edge(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] in "PS"


def _md_paragraphs(lines: list[str], prefix: str = "") -> str:
    """Escaped lines as Markdown: line breaks kept (a trailing backslash), empty lines
    separating paragraphs, every line started with `prefix` ("> " in a block quote)."""
    # Leading spaces would make an indented code block, so each line is stripped first.
    lines = [_MD_ORDERED.sub(r"\1\\\2", _MD_BULLET.sub(r"\\\1", line.strip())) for line in lines]
    out = []
    for index, line in enumerate(lines):
        if not line:
            out.append(prefix.rstrip())
            continue
        follows = index + 1 < len(lines) and lines[index + 1]
        out.append(prefix + line + ("\\" if follows else ""))
    return "\n".join(out)


# XLSX ------------------------------------------------------------------------------------

_XLSX_WIDTHS = {
    "codes": 24,
    "quote": 60,
    "context_before": 30,
    "context_after": 30,
    "note": 30,
    "title": 40,
    "url": 40,
}


def xlsx_file(
    passages: Iterable[Passage],
    *,
    title: str,
    description: str,
    attributes: Sequence[str] = (),
) -> IO[bytes]:
    """The passages as a spreadsheet: a "Passages" sheet (the CSV's columns, the attributes'
    among them) and an "About"
    sheet with the title, the description, the time of export and the number of passages.

    openpyxl's write-only mode streams the rows to a temporary file, so memory stays flat.
    The permalinks are plain text: a hyperlink cell keeps an object in memory per row until
    the file is saved.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Passages")
    # Column widths and the frozen header must be set before the first row is written.
    for name, width in _XLSX_WIDTHS.items():
        sheet.column_dimensions[get_column_letter(COLUMNS.index(name) + 1)].width = width
    sheet.freeze_panes = "A2"
    sheet.append([*COLUMNS, *(_xlsx_text(name) for name in attributes)])
    count = 0
    for passage in passages:
        sheet.append(_cells(passage, _xlsx_text, attributes))
        count += 1
    about = workbook.create_sheet("About")
    about.column_dimensions["B"].width = 80
    about.append(["Title", _xlsx_text(title)])
    about.append(["Description", _xlsx_text(description)])
    about.append(["Exported", _exported().isoformat()])
    about.append(["Passages", count])
    file = _spooled()
    workbook.save(file)
    file.seek(0)
    return file


def _xlsx_text(value: str) -> str:
    # neutralise after the removal, which could bring a "=" to the start.
    value = neutralise(xml_safe(value))
    # openpyxl writes a string that reads as a formula ("=...") as a formula, which
    # neutralise prevents, and one that reads as an error ("#N/A") as that error: the same
    # apostrophe keeps it text.
    return "'" + value if value in ERROR_CODES else value


# DOCX ------------------------------------------------------------------------------------

# The context is lighter than the quote it surrounds.
_CONTEXT_COLOUR = RGBColor(0x6B, 0x6B, 0x6B)
# Word's own hyperlink blue: the default template has no "Hyperlink" character style.
_LINK_COLOUR = RGBColor(0x05, 0x63, 0xC1)
# The elements that follow w:bidi in a paragraph's properties (ECMA-376 CT_PPr), before
# which it has to be inserted.
_AFTER_BIDI = (
    "w:adjustRightInd",
    "w:snapToGrid",
    "w:spacing",
    "w:ind",
    "w:contextualSpacing",
    "w:mirrorIndents",
    "w:suppressOverlap",
    "w:jc",
    "w:textDirection",
    "w:textAlignment",
    "w:textboxTightWrap",
    "w:outlineLvl",
    "w:divId",
    "w:cnfStyle",
    "w:rPr",
    "w:sectPr",
    "w:pPrChange",
)


def docx_file(groups: Iterable[CodeGroup], *, title: str, description: str) -> IO[bytes]:
    """A quotation report: per code a heading, then each passage's quote in its context,
    its citation with a link to the passage, the coder's note and the coder."""
    document = docx.Document()
    document.add_heading(xml_safe(_one_line(title)), level=0)
    if description.strip():
        document.add_paragraph(xml_safe(description.strip()))
    document.add_paragraph(f"Exported on {_exported():%Y-%m-%d %H:%M} UTC.")
    for group in groups:
        document.add_heading(xml_safe(_one_line(group.code)), level=1)
        if group.definition.strip():
            document.add_paragraph().add_run(xml_safe(group.definition.strip())).italic = True
        empty = True
        for passage in group.passages:
            empty = False
            _docx_passage(document, passage)
        if empty:
            document.add_paragraph(NO_PASSAGES)
    file = _spooled()
    document.save(file)
    file.seek(0)
    return file


def _docx_passage(document: Document, passage: Passage) -> None:
    paragraph = document.add_paragraph(style="Quote")
    rtl = is_rtl(passage.quote)
    for text, quoted in ((passage.before, False), (passage.quote, True), (passage.after, False)):
        if not text:
            continue
        run = paragraph.add_run(xml_safe(text))
        if quoted:
            run.bold = True
        else:
            run.font.color.rgb = _CONTEXT_COLOUR
        if rtl:
            run.font.rtl = True
            # Word formats a right-to-left run with the complex-script properties.
            run.font.cs_bold = quoted
    if rtl:
        _right_to_left(paragraph)

    citation = document.add_paragraph(xml_safe(_cited(passage)))
    url = xml_safe(passage.citation.url)
    if _linkable(url):
        citation.add_run(" ")
        _add_hyperlink(citation, url)
    elif url:
        citation.add_run(f" {url}")
    if passage.note.strip():
        document.add_paragraph(f"Note: {xml_safe(passage.note.strip())}")
    coded = f"Coded by {xml_safe(_one_line(passage.coder))}"
    if passage.created:
        coded += f" on {xml_safe(_one_line(passage.created)[:10])}"
    document.add_paragraph(coded + ".")


def _right_to_left(paragraph: Paragraph) -> None:
    # The paragraph's own direction (w:bidi): right-aligned, and its punctuation and
    # numbers in right-to-left order, as a reader of Uyghur or Arabic expects.
    properties = paragraph._p.get_or_add_pPr()
    properties.insert_element_before(OxmlElement("w:bidi"), *_AFTER_BIDI)


def _add_hyperlink(paragraph: Paragraph, url: str) -> None:
    # python-docx reads hyperlinks but has no call to write one: a w:hyperlink element
    # names an external relationship of the document's part and holds the run it shows.
    relationship = paragraph.part.relate_to(url, RT.HYPERLINK, is_external=True)
    hyperlink = OxmlElement("w:hyperlink", attrs={qn("r:id"): relationship})
    run = paragraph.add_run(url)
    run.font.underline = True
    run.font.color.rgb = _LINK_COLOUR
    hyperlink.append(run._r)  # moves the run from the paragraph into the link
    paragraph._p.append(hyperlink)
