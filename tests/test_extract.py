"""Reading files: encodings, HTML, PDF, Word, archives, and every refusal."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest
from django.core.exceptions import ValidationError
from fpdf import FPDF
from PIL import Image

from documents import extract

RUSSIAN = (
    "Шанхайская организация сотрудничества и права человека. Правозащитники считают, "
    "что экстрадиция беженцев нарушает международное право.\n"
)
CHINESE = "上海合作组织打击恐怖主义、分裂主义和极端主义上海公约。人权组织表示关切。\n"
TRADITIONAL = "上海合作組織打擊恐怖主義、分裂主義和極端主義上海公約。人權組織表示關切。\n"
FRENCH = (
    "Le rapport de la Fédération internationale des ligues des droits de l'homme décrit une "
    "organisation où les États membres échangent des informations sur les réfugiés.\n"
)
GERMAN = (
    "Die Schanghaier Organisation für Zusammenarbeit hat große Bedeutung für Menschenrechte "
    "in Zentralasien. Übergriffe gegen Flüchtlinge werden dokumentiert.\n"
)


def make_pdf(*pages: str) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for page in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, page)
    return bytes(pdf.output())


def make_scanned_pdf() -> bytes:
    """A PDF whose only page is a picture, as a scanner makes it."""
    image = Image.new("RGB", (200, 100), "white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    buffer.seek(0)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(buffer, x=10, y=10, w=100)
    return bytes(pdf.output())


def make_docx() -> bytes:
    document = docx.Document()
    document.add_heading("Memo on the Shanghai Convention", level=1)
    document.add_paragraph("First paragraph about extradition.")
    document.add_paragraph("")
    document.add_paragraph("Second paragraph, Россия.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Country"
    table.rows[0].cells[1].text = "Kazakhstan"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def refusal(filename: str, data: bytes) -> str:
    with pytest.raises(ValidationError) as info:
        extract.extract(filename, data)
    message = " ".join(info.value.messages)
    assert message.startswith(filename.rsplit("/", 1)[-1] + ":"), message
    return message


# Plain text and encodings


@pytest.mark.parametrize(
    ("text", "data", "encoding"),
    [
        (RUSSIAN, RUSSIAN.encode("utf-8"), "utf-8"),
        (RUSSIAN, b"\xef\xbb\xbf" + RUSSIAN.encode("utf-8"), "utf-8 (with byte-order mark)"),
        (RUSSIAN, RUSSIAN.encode("utf-16"), "utf-16-le (with byte-order mark)"),
        (RUSSIAN, RUSSIAN.encode("cp1251"), "cp1251"),
        (RUSSIAN, RUSSIAN.encode("koi8_r"), "koi8_r"),
        (CHINESE, CHINESE.encode("gb18030"), "gb18030"),
        (TRADITIONAL, TRADITIONAL.encode("big5"), "big5"),
        (FRENCH, FRENCH.encode("cp1252"), "cp1252"),
        (GERMAN, GERMAN.encode("cp1252"), "cp1252"),
    ],
)
def test_extract_text_decodes_each_encoding_without_mojibake(text, data, encoding):
    extracted = extract.extract("report.txt", data)
    assert extracted.text == text
    assert extracted.encoding == encoding
    assert extracted.format == "text"


def test_extract_markdown_is_read_as_text():
    extracted = extract.extract("notes.md", b"# Heading\n\n**Bold** text.\n")
    assert extracted.format == "markdown"
    assert extracted.text == "# Heading\n\n**Bold** text.\n"


def test_extract_refuses_empty_file():
    assert "empty" in refusal("empty.txt", b"")
    assert "empty" in refusal("blank.txt", b"  \n\n ")


def test_extract_refuses_binary_garbage_named_txt():
    garbage = bytes(range(256)) * 40
    message = refusal("photo.txt", garbage)
    assert "not a text file" in message


def test_extract_refuses_random_bytes_named_txt():
    import random

    garbage = random.Random(3).randbytes(5000)
    message = refusal("noise.txt", garbage)
    assert "not a text file" in message or "cannot be recognised" in message


def test_extract_refuses_invalid_utf8():
    data = RUSSIAN.encode("utf-8")[:21] + b"\xff\xfe" + RUSSIAN.encode("utf-8")
    message = refusal("broken.txt", data)
    assert "not valid UTF-8" in message
    assert "byte 21" in message


def test_extract_refuses_text_whose_encoding_is_ambiguous():
    # Six Cyrillic letters in Windows-1251 read as plausible text in several code pages.
    message = refusal("short.txt", "Привет".encode("cp1251"))
    assert "cannot be recognised with confidence" in message
    assert "UTF-8" in message


def test_extract_refuses_unsupported_type_with_the_supported_list():
    message = refusal("slides.pptx", b"PK\x03\x04 whatever")
    assert "unsupported file type .pptx" in message
    assert ".docx" in message and ".pdf" in message and ".html" in message


def test_extract_refuses_file_above_size_limit(settings):
    settings.IMPORT_MAX_FILE_BYTES = 100
    message = refusal("big.txt", b"a" * 101)
    assert "above the import limit" in message
    assert "IMPORT_MAX_FILE_BYTES" in message


# HTML

HOSTILE_PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>SCO report | Rights Watch</title>
<script>alert("head")</script><style>p { color: red }</style></head>
<body onload="alert(1)">
<header><a href="#main">Skip to main content</a>
<nav><ul><li>Home</li><li>About</li></ul></nav></header>
<main id="main">
<h1 onclick="steal()">The SCO and extradition</h1>
<p onmouseover="alert(2)">First <b>paragraph</b> with <a href="javascript:alert(3)">a link</a>.</p>
<script>document.write("injected")</script>
<p>Second paragraph &lt;script&gt; stays as text &amp; so does this.<br>New line.</p>
<img src=x onerror="alert(4)">
<noscript>Enable JavaScript</noscript>
<form><input value="secret"><button>Donate</button></form>
</main>
<aside>Related stories</aside>
<footer>Copyright 2024</footer>
</body></html>"""


def test_extract_html_keeps_main_text_with_paragraph_breaks():
    extracted = extract.extract("page.html", HOSTILE_PAGE)
    assert extracted.text == (
        "The SCO and extradition\n\n"
        "First paragraph with a link.\n\n"
        "Second paragraph <script> stays as text & so does this.\nNew line."
    )
    assert extracted.title == "SCO report | Rights Watch"
    assert extracted.format == "html"


def test_extract_html_drops_scripts_styles_navigation_and_event_handlers():
    text = extract.extract("page.html", HOSTILE_PAGE).text
    for gone in ("alert", "injected", "color: red", "Home", "Related", "Copyright", "secret"):
        assert gone not in text
    assert "onerror" not in text and "onclick" not in text


def test_extract_html_without_main_uses_body_and_h1_title():
    page = (
        "<html><body><nav>Menu</nav><h1>Заявление</h1><div>Текст <i>документа</i>.</div>"
        "<footer>Footer</footer></body></html>"
    ).encode("cp1251")
    extracted = extract.extract("page.htm", b'<meta charset="windows-1251">' + page)
    assert extracted.text == "Заявление\n\nТекст документа."
    assert extracted.title == "Заявление"


# PDF


def test_extract_pdf_reads_pages_and_remembers_page_breaks():
    data = make_pdf("Page one about the SCO.", "Page two about extradition.", "Page three.")
    extracted = extract.extract("report.pdf", data)
    assert extracted.format == "pdf"
    assert len(extracted.page_breaks) == 2
    text = extracted.text
    second, third = extracted.page_breaks
    assert text[:second].strip() == "Page one about the SCO."
    assert text[second:third].strip() == "Page two about extradition."
    assert text[third:] == "Page three."
    assert extracted.report()["pages"] == 3


def test_extract_refuses_scanned_pdf_without_text_layer():
    message = refusal("scan.pdf", make_scanned_pdf())
    assert "no text layer" in message
    assert "OCR" in message


def test_extract_refuses_truncated_pdf():
    data = make_pdf("Some text on a page.")
    message = refusal("cut.pdf", data[: len(data) // 2])
    assert "truncated" in message


def test_extract_refuses_broken_pdf():
    message = refusal("broken.pdf", b"%PDF-1.4\n garbage garbage \n%%EOF\n")
    assert "damaged" in message or "no pages" in message


def test_extract_refuses_pdf_that_is_not_a_pdf():
    assert "not a PDF" in refusal("fake.pdf", b"<html>not a pdf</html>")


# Word


def test_extract_docx_paragraphs_tables_and_title():
    extracted = extract.extract("memo.docx", make_docx())
    assert extracted.text == (
        "Memo on the Shanghai Convention\n\nFirst paragraph about extradition.\n\n"
        "Second paragraph, Россия.\n\nCountry\tKazakhstan"
    )
    assert extracted.title == "Memo on the Shanghai Convention"


def test_extract_refuses_broken_docx():
    message = refusal("memo.docx", b"this is not a zip at all")
    assert "not a readable Word" in message


# Archives


def test_expand_archive_yields_members_and_refuses_escaping_paths():
    data = make_zip(
        {
            "a.txt": b"Alpha text.",
            "folder/b.md": b"Beta text.",
            "../evil.txt": b"escape",
            "/etc/passwd.txt": b"absolute",
            "__MACOSX/._a.txt": b"resource fork",
            ".hidden.txt": b"hidden",
        }
    )
    members = list(extract.expand_archive("batch.zip", data))
    good = {member.filename: member.data for member in members if member.error is None}
    bad = {member.filename: member.error for member in members if member.error is not None}
    assert good == {"batch.zip/a.txt": b"Alpha text.", "batch.zip/folder/b.md": b"Beta text."}
    assert set(bad) == {"batch.zip/../evil.txt", "batch.zip//etc/passwd.txt"}
    assert all("leaves the archive's folder" in " ".join(error.messages) for error in bad.values())


def test_expand_archive_refuses_zip_bomb(settings):
    settings.IMPORT_MAX_FILE_BYTES = 10_000
    settings.IMPORT_MAX_ARCHIVE_BYTES = 20_000
    data = make_zip({f"f{index}.txt": b"a" * 9_000 for index in range(5)})
    assert len(data) < 2_000
    with pytest.raises(ValidationError) as info:
        list(extract.expand_archive("bomb.zip", data))
    assert "zip bomb" in info.value.messages[0]


def test_expand_archive_refuses_member_above_size_limit(settings):
    settings.IMPORT_MAX_FILE_BYTES = 1_000
    data = make_zip({"big.txt": b"a" * 5_000, "small.txt": b"small"})
    members = {member.filename: member for member in extract.expand_archive("x.zip", data)}
    assert members["x.zip/small.txt"].error is None
    assert "above the import limit" in members["x.zip/big.txt"].error.messages[0]


def test_expand_archive_refuses_broken_zip():
    with pytest.raises(ValidationError) as info:
        list(extract.expand_archive("broken.zip", b"PK\x03\x04 not really"))
    assert "not a readable zip" in info.value.messages[0]


# Language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The Shanghai Cooperation Organization is a regional security group.", "en"),
        (RUSSIAN, "ru"),
        (CHINESE, "zh"),
    ],
)
def test_detect_language(text, language):
    assert extract.detect_language(text)[0] == language


def test_detect_language_gives_up_without_words():
    assert extract.detect_language("12 34 56 ---") == ("", 0.0)


def test_extract_refuses_a_zip_as_one_document():
    message = refusal("bundle.zip", make_zip({"a.txt": b"A"}))
    assert "zip archive holds several files" in message


def test_extract_refuses_password_protected_pdf():
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.cell(text="Confidential")
    message = refusal("locked.pdf", bytes(pdf.output()))
    assert "protected by a password" in message


@pytest.mark.parametrize("cut", [0.2, 0.5, 0.9])
def test_extract_never_crashes_on_damaged_pdf_bytes(cut):
    data = bytearray(make_pdf("Some text on a page.", "More text."))
    # Scramble the middle of the file but keep its header and end marker.
    start = int(len(data) * cut)
    data[start : start + 200] = bytes(200)
    try:
        extracted = extract.extract("damaged.pdf", bytes(data))
    except ValidationError as exc:
        assert exc.messages[0].startswith("damaged.pdf: ")
    else:
        assert isinstance(extracted.text, str)
