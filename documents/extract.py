"""Turning an uploaded file (bytes and a name) into plain text, or refusing it with a reason.

No database access here: `documents.services` decides what to store. Every refusal is a
`ValidationError` whose message starts with the file's name and says what to fix.
"""

from __future__ import annotations

import codecs
import io
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from . import text as textlib

TEXT_SUFFIXES = (".txt", ".text", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
PDF_SUFFIXES = (".pdf",)
DOCX_SUFFIXES = (".docx",)
ARCHIVE_SUFFIXES = (".zip",)
DOCUMENT_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + PDF_SUFFIXES + DOCX_SUFFIXES
SUPPORTED_SUFFIXES = DOCUMENT_SUFFIXES + ARCHIVE_SUFFIXES
SUPPORTED_TYPES_HELP = (
    "plain text (.txt, .text), Markdown (.md, .markdown), HTML (.html, .htm, .xhtml), "
    "PDF with a text layer (.pdf), Word (.docx), and .zip archives of these"
)

# Legacy encodings the importer will consider when a file is not UTF-8 or UTF-16. Keeping the
# list to encodings actually met in the corpus's sources stops the detector from "finding"
# rare code pages in what is really garbage.
_LEGACY_ENCODINGS = [
    "cp1252",
    "cp1251",
    "gb18030",
    "big5",
    "koi8_r",
    "cp866",
    "mac_cyrillic",
    "cp1250",
    "cp1253",
    "cp1254",
    "cp1256",
    "cp1257",
    "shift_jis",
    "euc_jp",
    "euc_kr",
]
# When several encodings read the bytes equally well, the first of these wins.
_PREFERRED = ["cp1252", "cp1251", "gb18030", "koi8_r", "big5"]
_MAX_CHAOS = 0.1


def _rank(encoding: str) -> int:
    return _PREFERRED.index(encoding) if encoding in _PREFERRED else len(_PREFERRED)


def _preference(match: Any) -> int:
    """How usual the encodings that read a match are (lower: more usual)."""
    return min(_rank(encoding) for encoding in [match.encoding, *match.could_be_from_charset])


@dataclass(frozen=True)
class Extracted:
    """What a file holds: its text and what was learned while reading it."""

    filename: str
    format: str
    text: str
    title: str = ""
    encoding: str = ""
    #: Offsets (code points, in `text`) at which pages 2, 3, … begin.
    page_breaks: tuple[int, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        """The part of the import report that describes the source file."""
        report: dict[str, Any] = {"filename": self.filename, "format": self.format}
        if self.encoding:
            report["encoding"] = self.encoding
        if self.page_breaks or self.format == "pdf":
            report["pages"] = len(self.page_breaks) + 1
        report.update(self.details)
        return report


def base_name(filename: str) -> str:
    """The file's own name, without any folder a browser or an archive put in front."""
    return PureWindowsPath(PurePosixPath(filename).name).name or filename


def _refuse(filename: str, message: str, code: str) -> ValidationError:
    return ValidationError(f"{base_name(filename)}: {message}", code=code)


def file_kind(filename: str) -> str:
    """'text', 'markdown', 'html', 'pdf', 'docx' or 'zip'; '' for an unsupported type."""
    name = filename.lower()
    if name.endswith((".md", ".markdown")):
        return "markdown"
    if name.endswith(TEXT_SUFFIXES):
        return "text"
    if name.endswith(HTML_SUFFIXES):
        return "html"
    if name.endswith(PDF_SUFFIXES):
        return "pdf"
    if name.endswith(DOCX_SUFFIXES):
        return "docx"
    if name.endswith(ARCHIVE_SUFFIXES):
        return "zip"
    return ""


def check_size(filename: str, size: int) -> None:
    """Refuse a file above settings.IMPORT_MAX_FILE_BYTES."""
    limit: int = settings.IMPORT_MAX_FILE_BYTES
    if size > limit:
        raise _refuse(
            filename,
            f"the file is {_megabytes(size)}, above the import limit of {_megabytes(limit)} "
            "(IMPORT_MAX_FILE_BYTES). Split it or ask an administrator to raise the limit.",
            "too_large",
        )


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{size} bytes"


def extract(filename: str, data: bytes) -> Extracted:
    """Read one document file. Raises ValidationError, naming the file, when it cannot."""
    kind = file_kind(filename)
    if not kind:
        suffix = PurePosixPath(base_name(filename)).suffix or "(no extension)"
        raise _refuse(
            filename,
            f"unsupported file type {suffix}. Supported: {SUPPORTED_TYPES_HELP}.",
            "unsupported_type",
        )
    if kind == "zip":
        # Archives are unpacked by the callers that take several files (the command and the
        # import pages); one document cannot be a zip.
        raise _refuse(
            filename,
            "a zip archive holds several files: import it with the import page or the "
            "import_documents command, or send its files one by one (an archive inside an "
            "archive is not unpacked).",
            "archive",
        )
    check_size(filename, len(data))
    if not data.strip():
        raise _refuse(filename, "the file is empty: there is no text to import.", "empty")
    if kind in ("text", "markdown"):
        extracted = _extract_text(filename, kind, data)
    elif kind == "html":
        extracted = _extract_html(filename, data)
    elif kind == "pdf":
        extracted = _extract_pdf(filename, data)
    else:
        extracted = _extract_docx(filename, data)
    if not extracted.text.strip():
        raise _refuse(filename, "no text was found in the file.", "empty")
    return extracted


# ---------------------------------------------------------------------------------------
# Plain text and Markdown

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# A byte that starts a multi-byte UTF-8 sequence followed by its continuation bytes.
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")
# The C0 and C1 control characters (Unicode category Cc) except tab, newline, CR, form feed.
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def decode(filename: str, data: bytes) -> tuple[str, str]:
    """The text of a file and the encoding it was read in; refuses what is not clearly text.

    A byte-order mark decides; then strict UTF-8; then, for files that are not broken
    UTF-8, the legacy encoding that reads the bytes with no "chaos" (charset-normalizer),
    as long as no other encoding reads them as well but differently.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding), encoding + " (with byte-order mark)"
            except UnicodeDecodeError as exc:
                raise _refuse(
                    filename,
                    f"the file starts with a {encoding} byte-order mark but is not valid "
                    f"{encoding} (byte {exc.start + len(bom)}). Re-save it as UTF-8.",
                    "undecodable",
                ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    else:
        _refuse_binary(filename, text)
        return text, "utf-8"
    if _UTF8_MULTIBYTE.search(data[: utf8_error.start]):
        # Valid UTF-8 up to a point, then a broken sequence: a damaged or truncated UTF-8
        # file. Reading it in a legacy encoding would turn its accents into mojibake.
        raise _refuse(
            filename,
            f"the file is not valid UTF-8: the byte sequence at byte {utf8_error.start} is broken "
            "(the file looks like UTF-8 elsewhere). Repair it or re-save it as UTF-8.",
            "undecodable",
        )
    if b"\x00" in data:
        raise _refuse(
            filename,
            "the file is not a text file (it contains binary data). Check that the right file was "
            "chosen; supported types: " + SUPPORTED_TYPES_HELP + ".",
            "binary",
        )
    text, encoding = _detect_legacy(filename, data)
    _refuse_binary(filename, text)
    return text, encoding


def _detect_legacy(filename: str, data: bytes) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data, cp_isolation=_LEGACY_ENCODINGS))
    undecidable = _refuse(
        filename,
        "the text's encoding cannot be recognised with confidence (it is not UTF-8, and "
        "no legacy encoding such as Windows-1251 or GB18030 reads it cleanly). Re-save the "
        "file as UTF-8 and import it again.",
        "undecodable",
    )
    if not matches:
        raise undecidable
    best_chaos = min(match.chaos for match in matches)
    if best_chaos > _MAX_CHAOS:
        raise undecidable
    close = [match for match in matches if match.chaos <= best_chaos + 0.05]
    top_coherence = max(match.coherence for match in close)
    if len({str(match) for match in close}) == 1:
        likely = close
    elif top_coherence < 0.1:
        # Several encodings give different text and none of it looks like a language.
        raise undecidable
    else:
        likely = [match for match in close if match.coherence >= top_coherence - 0.1]
    likely.sort(key=lambda match: (_preference(match), -match.coherence))
    chosen = likely[0]
    # charset-normalizer merges encodings that give the same text; name the usual one.
    encodings = [chosen.encoding, *chosen.could_be_from_charset]
    return str(chosen), min(encodings, key=_rank)


def _refuse_binary(filename: str, text: str) -> None:
    # Control characters other than tab, newline, carriage return and form feed do not occur
    # in real text; more than a few per cent means the "text" is binary data.
    sample = text[:20000]
    if sample and len(_CONTROL_CHARACTERS.findall(sample)) / len(sample) > 0.02:
        raise _refuse(
            filename,
            "the file is not a text file (it contains binary data). Check that the right file "
            "was chosen; supported types: " + SUPPORTED_TYPES_HELP + ".",
            "binary",
        )


def _extract_text(filename: str, kind: str, data: bytes) -> Extracted:
    text, encoding = decode(filename, data)
    return Extracted(filename=base_name(filename), format=kind, text=text, encoding=encoding)


# ---------------------------------------------------------------------------------------
# HTML

# Elements whose content is never part of a page's main text.
_HTML_DROPPED = {
    "script",
    "style",
    "noscript",
    "template",
    "head",
    "nav",
    "footer",
    "header",
    "aside",
    "form",
    "button",
    "select",
    "option",
    "textarea",
    "input",
    "label",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "canvas",
    "video",
    "audio",
    "map",
    "dialog",
    "menu",
}
_HTML_DROPPED_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "menu"}
_HTML_BLOCKS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "table",
    "tr",
    "caption",
    "figure",
    "figcaption",
    "address",
    "hr",
    "body",
    "details",
    "summary",
}
_HTML_CELLS = {"td", "th"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_SPACES = re.compile(r"[ \t\n\r\f\v\u00a0]+")


def _decode_html(filename: str, data: bytes) -> tuple[str, str]:
    if not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        declared = _META_CHARSET.search(data[:4096])
        if declared:
            name = declared.group(1).decode("ascii").lower()
            try:
                codecs.lookup(name)
            except LookupError:
                pass
            else:
                try:
                    return data.decode(name), f"{name} (declared by the page)"
                except UnicodeDecodeError:
                    pass  # The declaration is wrong; detect as for a text file.
    return decode(filename, data)


class _TextCollector:
    """Collects a page's text as paragraphs: block elements end one, <br> breaks a line."""

    def __init__(self) -> None:
        self.paragraphs: list[str] = []
        self.current: list[str] = []

    def add(self, text: str | None, preformatted: bool) -> None:
        if text:
            self.current.append(text if preformatted else _SPACES.sub(" ", text))

    def line_break(self) -> None:
        self.current.append("\n")

    def end_paragraph(self) -> None:
        paragraph = "".join(self.current)
        lines = [line.strip() for line in paragraph.split("\n")]
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            self.paragraphs.append(paragraph)
        self.current = []


def _is_dropped(element: Any) -> bool:
    tag = element.tag.lower() if isinstance(element.tag, str) else ""
    if not tag or tag in _HTML_DROPPED:
        return True
    if (element.get("role") or "").lower() in _HTML_DROPPED_ROLES:
        return True
    return element.get("hidden") is not None or element.get("aria-hidden") == "true"


def _walk(element: Any, out: _TextCollector, preformatted: bool = False) -> None:
    tag = element.tag.lower()
    preformatted = preformatted or tag == "pre"
    block = tag in _HTML_BLOCKS
    if block:
        out.end_paragraph()
    if tag == "br":
        out.line_break()
    out.add(element.text, preformatted)
    for child in element:
        if not _is_dropped(child):
            _walk(child, out, preformatted)
            if child.tag.lower() in _HTML_CELLS:
                out.add("\t", True)
        # The text after a child (its tail) belongs to this element, even if the child
        # itself was dropped or is a comment.
        out.add(child.tail, preformatted)
    if block:
        out.end_paragraph()


def _extract_html(filename: str, data: bytes) -> Extracted:
    import lxml.etree
    import lxml.html

    text, encoding = _decode_html(filename, data)
    text = _XML_DECLARATION.sub("", text)
    try:
        root = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise _refuse(filename, f"the HTML page cannot be read ({exc}).", "broken") from None
    title = ""
    title_element = root.find(".//title")
    if title_element is not None and title_element.text_content():
        title = _SPACES.sub(" ", title_element.text_content()).strip()
    body = root.find("body")
    if body is None:
        body = root
    # The main content when the page marks it; otherwise the whole body, less the page's
    # navigation, header, footer, forms and scripts.
    main = body.find(".//main")
    if main is None:
        articles = body.findall(".//article")
        main = articles[0] if len(articles) == 1 else None
    container = main if main is not None else body
    if not title:
        heading = container.find(".//h1")
        if heading is not None:
            title = _SPACES.sub(" ", heading.text_content()).strip()
    collector = _TextCollector()
    _walk(container, collector)
    collector.end_paragraph()
    return Extracted(
        filename=base_name(filename),
        format="html",
        text="\n\n".join(collector.paragraphs),
        title=title[:500],
        encoding=encoding,
        details={"main_element": container.tag if main is not None else "body"},
    )


# ---------------------------------------------------------------------------------------
# PDF


def _extract_pdf(filename: str, data: bytes) -> Extracted:
    from pypdf import PdfReader

    if not data.lstrip()[:5] == b"%PDF-":
        raise _refuse(filename, "the file is not a PDF (it does not start with %PDF-).", "broken")
    if b"%%EOF" not in data[-2048:]:
        raise _refuse(
            filename,
            "the PDF is truncated (its end-of-file marker is missing): the download or copy "
            "was cut short. Get the complete file and import it again.",
            "broken",
        )
    pages: list[str] = []
    changes: dict[str, int] = {}
    try:
        # pypdf warns about the many small defects real PDFs have; they are not ours to fix.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                raise _refuse(
                    filename,
                    "the PDF is protected by a password. Remove the protection first.",
                    "encrypted",
                )
            for pdf_page in reader.pages:
                # Each page is normalised on its own so the page boundaries stay exact.
                normalized = textlib.normalize(pdf_page.extract_text() or "")
                pages.append(normalized.text.strip("\n"))
                for kind, count in normalized.changes.items():
                    changes[kind] = changes.get(kind, 0) + count
    except ValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds of error on bad input.
        raise _refuse(
            filename, f"the PDF is damaged and cannot be read ({exc}).", "broken"
        ) from None
    if not pages:
        raise _refuse(filename, "the PDF has no pages.", "broken")
    if not any(page.strip() for page in pages):
        raise _refuse(
            filename,
            f"the PDF has no text layer ({len(pages)} page(s) of images only: probably a "
            "scan). Run it through OCR to add a text layer, then import it again.",
            "no_text_layer",
        )
    breaks: list[int] = []
    offset = 0
    for index, page in enumerate(pages):
        if index:
            offset += 2  # The blank line between pages.
            breaks.append(offset)
        offset += len(page)
    details: dict[str, Any] = {}
    if changes:
        details["page_normalization"] = changes
    empty = [index + 1 for index, page in enumerate(pages) if not page.strip()]
    if empty:
        details["pages_without_text"] = empty
    return Extracted(
        filename=base_name(filename),
        format="pdf",
        text="\n\n".join(pages),
        title=_pdf_title(reader),
        page_breaks=tuple(breaks),
        details=details,
    )


def _pdf_title(reader: Any) -> str:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:  # noqa: BLE001 - a broken info dictionary only costs us the title.
        return ""
    return _SPACES.sub(" ", str(title)).strip()[:500] if title else ""


# ---------------------------------------------------------------------------------------
# Word


def _extract_docx(filename: str, data: bytes) -> Extracted:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
        paragraphs: list[str] = []
        title = ""
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                text = block.text.strip()
                if text:
                    paragraphs.append(text)
                    style = (block.style.name if block.style is not None else "") or ""
                    if not title and (style == "Title" or style.startswith("Heading")):
                        title = text
            elif isinstance(block, Table):
                for row in block.rows:
                    cells = [cell.text.strip() for cell in row.cells]
                    line = "\t".join(dict.fromkeys(cell for cell in cells if cell))
                    if line:
                        paragraphs.append(line)
        core_title = (document.core_properties.title or "").strip()
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise _refuse(
            filename,
            f"the file is not a readable Word (.docx) file ({exc}). Old .doc files must be "
            "saved as .docx first.",
            "broken",
        ) from None
    except Exception as exc:  # noqa: BLE001 - python-docx raises lxml errors for bad XML.
        raise _refuse(
            filename, f"the Word file is damaged and cannot be read ({exc}).", "broken"
        ) from None
    return Extracted(
        filename=base_name(filename),
        format="docx",
        text="\n\n".join(paragraphs),
        title=(core_title or title)[:500],
    )


# ---------------------------------------------------------------------------------------
# Archives


@dataclass(frozen=True)
class ArchiveMember:
    """One file of an archive: its data, or why it was refused."""

    filename: str
    data: bytes = b""
    error: ValidationError | None = None


def _archive_total_limit() -> int:
    limit: int = settings.IMPORT_MAX_ARCHIVE_BYTES
    return limit


_MAX_ARCHIVE_MEMBERS = 1000


def _unsafe_member_name(name: str) -> bool:
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return True
    return any(part == ".." for part in re.split(r"[\\/]", name))


def expand_archive(filename: str, data: bytes) -> Iterator[ArchiveMember]:
    """The document files in a zip archive, each with its data or the reason it is refused.

    Nothing is written to disk, so a member named ../x cannot escape anywhere; it is still
    refused, as is a member above the size limit, and the archive stops being read once the
    uncompressed total passes the archive limit (a zip bomb). Folders, hidden files and
    macOS resource forks are skipped.
    """
    check_size(filename, len(data))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise _refuse(
            filename, f"the file is not a readable zip archive ({exc}).", "broken"
        ) from None
    members = [info for info in archive.infolist() if not info.is_dir()]
    members = [
        info
        for info in members
        if not any(part.startswith(".") or part == "__MACOSX" for part in info.filename.split("/"))
        or _unsafe_member_name(info.filename)
    ]
    if len(members) > _MAX_ARCHIVE_MEMBERS:
        raise _refuse(
            filename,
            f"the archive holds {len(members)} files; at most {_MAX_ARCHIVE_MEMBERS} are "
            "imported at once. Split it.",
            "too_many_files",
        )
    limit = settings.IMPORT_MAX_FILE_BYTES
    budget = _archive_total_limit()
    for info in members:
        label = f"{base_name(filename)}/{info.filename}"
        if _unsafe_member_name(info.filename):
            yield ArchiveMember(
                label,
                error=ValidationError(
                    f"{label}: refused, its path leaves the archive's folder (absolute or "
                    "with '..'). Re-create the archive with relative paths.",
                    code="unsafe_path",
                ),
            )
            continue
        if info.flag_bits & 0x1:
            yield ArchiveMember(
                label,
                error=ValidationError(f"{label}: the file is encrypted.", code="encrypted"),
            )
            continue
        try:
            with archive.open(info) as member:
                # Read at most one byte past the limits: the sizes in the archive's directory
                # cannot be trusted.
                member_data = member.read(min(limit, budget) + 1)
        except Exception as exc:  # noqa: BLE001 - zlib, bz2 and lzma errors included.
            yield ArchiveMember(
                label,
                error=ValidationError(f"{label}: cannot be unpacked ({exc}).", code="broken"),
            )
            continue
        if len(member_data) > budget:
            raise _refuse(
                filename,
                f"the archive unpacks to more than {_megabytes(_archive_total_limit())} "
                "(IMPORT_MAX_ARCHIVE_BYTES): it is refused as a possible zip bomb. Import "
                "its files in smaller archives.",
                "too_large",
            )
        budget -= len(member_data)
        if len(member_data) > limit:
            yield ArchiveMember(
                label,
                error=ValidationError(
                    f"{label}: the file is above the import limit of {_megabytes(limit)} "
                    "(IMPORT_MAX_FILE_BYTES).",
                    code="too_large",
                ),
            )
            continue
        yield ArchiveMember(label, member_data)


# ---------------------------------------------------------------------------------------
# Language


@cache
def _language_identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


_LETTERS = re.compile(r"[^\W\d_]")
# The model's labels that are not what a researcher would call the language of a document.
_LANGUAGE_ALIASES = {"wuu": "zh", "zxx": ""}


def detect_language(text: str) -> tuple[str, float]:
    """The main language of a text as a BCP 47 tag ('' when there is no language to speak of)
    and the model's confidence, from the first 4,000 characters (plenty for the model, and
    its cost grows with the sample)."""
    sample = text[:4000]
    if len(_LETTERS.findall(sample, 0, 2000)) < 20:
        return "", 0.0
    language, confidence = _language_identifier().classify(sample)
    return _LANGUAGE_ALIASES.get(language, language), round(float(confidence), 3)
