"""The passages export's files: CSV, Markdown, XLSX and the DOCX quotation report."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import docx
import openpyxl
import pytest
from docx.opc.constants import RELATIONSHIP_TYPE as RT

from research.exports import (
    COLUMNS,
    Citation,
    CodeGroup,
    Passage,
    citation_text,
    csv_chunks,
    docx_file,
    is_rtl,
    markdown_chunks,
    xlsx_file,
    xml_safe,
)

CHINESE = "上海合作组织 打击恐怖主义、分裂主义和极端主义。"
RUSSIAN = "Россия и Китай подписали договор."
UYGHUR = "ئۇيغۇر تىلى: بۇ بىر جۈملە."
EMOJI = "Emoji 👩🏽‍⚖️ and 𠀀 in a passage."
#: Every character XML 1.0 forbids that a str can hold, and the ones it allows around them.
CONTROL = "a\x00b\x08c\x0bd\x0ce\x0ef\x1fg\ufffeh\uffffi\ud800j\tk\nl"
CONTROL_CLEANED = "abcdefghij\tk\nl"

#: Quotes that would be Markdown syntax if written out as they are.
MARKDOWN_INJECTIONS = [
    "[click](javascript:alert(1))",
    "![img](https://evil.example/x.png)",
    "<script>alert(1)</script>",
    "# heading",
    "## heading",
    "`code` and ```fence```",
    "a | b | c",
    "> quoted",
    "- item",
    "+ item",
    "* item",
    "1. item",
    "2) item",
    "===",
    "---",
    "***",
    "~~struck~~",
    "*emphasis* and _emphasis_ and **strong**",
    "&lt;b&gt; an entity",
    "<https://evil.example>",
    "[ref]: https://evil.example",
    "back\\slash\\",
    "    four spaces: code block",
    "first line\n# second line heading\n- third line list",
]


def citation(**fields):
    values = {
        "title": "Shanghai Convention",
        "organisation": "Shanghai Cooperation Organisation",
        "published": "15 June 2001",
        "page": 4,
        "url": "https://annotate.example.org/documents/7/#passage-1",
    }
    values.update(fields)
    return Citation(**values)


def passage(id=1, **fields):
    values = {
        "id": id,
        "document_id": 7,
        "start": 10,
        "end": 20,
        "quote": "extradition of persons",
        "before": "The parties agree on the ",
        "after": " who are accused.",
        "codes": ("Extradition", "Cooperation"),
        "note": "Key clause.",
        "coder": "maria",
        "created": "2025-03-01T10:00:00+00:00",
        "citation": citation(),
    }
    values.update(fields)
    return Passage(**values)


class OnceOnly:
    """Passages that can be iterated once, as a selector's generator reading the database."""

    def __init__(self, passages):
        self.passages = passages
        self.iterated = False

    def __iter__(self):
        if self.iterated:
            raise AssertionError("the passages were iterated twice")
        self.iterated = True
        yield from self.passages


def read_csv(chunks):
    text = "".join(chunks)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def markdown(groups, title="Passages", description="Coded Extradition"):
    return "".join(markdown_chunks(groups, title=title, description=description))


def workbook(passages, title="Passages", description="Coded Extradition"):
    with xlsx_file(passages, title=title, description=description) as file:
        assert file.tell() == 0
        return openpyxl.load_workbook(file)


def report(groups, title="Passages", description="Coded Extradition"):
    with docx_file(groups, title=title, description=description) as file:
        assert file.tell() == 0
        return docx.Document(file)


# Shared helpers ---------------------------------------------------------------------------


def test_citation_text_joins_title_organisation_date_and_page():
    assert (
        citation_text(citation())
        == "Shanghai Convention. Shanghai Cooperation Organisation, 15 June 2001, p. 4."
    )


def test_citation_text_leaves_out_what_is_unknown():
    assert citation_text(citation(organisation="", published="", page=None)) == (
        "Shanghai Convention."
    )
    assert citation_text(citation(organisation="", published="2012", page=None)) == (
        "Shanghai Convention. 2012."
    )


def test_citation_text_keeps_a_titles_own_question_mark_and_one_line():
    assert citation_text(citation(title="Who\nis   watching?", page=None)) == (
        "Who is watching? Shanghai Cooperation Organisation, 15 June 2001."
    )


def test_is_rtl_follows_the_first_strong_character():
    assert is_rtl(UYGHUR)
    assert is_rtl("« 2014 » " + UYGHUR)
    assert not is_rtl(RUSSIAN)
    assert not is_rtl(CHINESE)
    assert not is_rtl("Uyghur: " + UYGHUR)
    assert not is_rtl("123 …")


def test_xml_safe_removes_what_xml_forbids_and_keeps_the_rest():
    assert xml_safe(CONTROL) == CONTROL_CLEANED
    assert xml_safe(EMOJI + UYGHUR) == EMOJI + UYGHUR


# CSV --------------------------------------------------------------------------------------


def test_csv_starts_with_a_byte_order_mark_and_the_header():
    rows = read_csv(csv_chunks([passage()]))
    assert rows[0] == list(COLUMNS)
    assert dict(zip(COLUMNS, rows[1], strict=True)) == {
        "passage_id": "1",
        "codes": "Extradition; Cooperation",
        "quote": "extradition of persons",
        "context_before": "The parties agree on the ",
        "context_after": " who are accused.",
        "note": "Key clause.",
        "coder": "maria",
        "created": "2025-03-01T10:00:00+00:00",
        "document_id": "7",
        "title": "Shanghai Convention",
        "organisation": "Shanghai Cooperation Organisation",
        "published": "15 June 2001",
        "page": "4",
        "url": "https://annotate.example.org/documents/7/#passage-1",
    }


def test_csv_leaves_an_unknown_page_empty():
    rows = read_csv(csv_chunks([passage(citation=citation(page=None))]))
    assert rows[1][COLUMNS.index("page")] == ""


def test_csv_neutralises_every_text_cell_that_reads_as_a_formula():
    hostile = passage(
        quote='=HYPERLINK("http://evil.example","click")',
        before="+1+2",
        after="-2+3",
        note="@SUM(A1:A2)",
        coder="\tcoder",
        codes=("=cmd|' /C calc'!A0",),
        citation=citation(title="=1+1", organisation="@org", published="'2012"),
    )
    row = dict(zip(COLUMNS, read_csv(csv_chunks([hostile]))[1], strict=True))
    assert row["quote"] == '\'=HYPERLINK("http://evil.example","click")'
    assert row["context_before"] == "'+1+2"
    assert row["context_after"] == "'-2+3"
    assert row["note"] == "'@SUM(A1:A2)"
    assert row["coder"] == "'\tcoder"
    assert row["codes"] == "'=cmd|' /C calc'!A0"
    assert row["title"] == "'=1+1"
    assert row["organisation"] == "'@org"
    assert row["published"] == "''2012"


def test_csv_keeps_chinese_russian_uyghur_and_emoji():
    texts = [CHINESE, RUSSIAN, UYGHUR, EMOJI]
    passages = [
        passage(id=i, quote=text, note=text, citation=citation(title=text))
        for i, text in enumerate(texts)
    ]
    rows = read_csv(csv_chunks(passages))[1:]
    assert [row[COLUMNS.index("quote")] for row in rows] == texts
    assert [row[COLUMNS.index("note")] for row in rows] == texts
    assert [row[COLUMNS.index("title")] for row in rows] == texts


def test_csv_keeps_newlines_commas_and_quotes_inside_a_cell():
    text = 'He said, "no".\nThen left.'
    rows = read_csv(csv_chunks([passage(quote=text)]))
    assert len(rows) == 2
    assert rows[1][COLUMNS.index("quote")] == text


def test_csv_streams_the_header_before_reading_passages_then_batches():
    read = []

    def passages():
        for i in range(250):
            read.append(i)
            yield passage(id=i)

    chunks = csv_chunks(passages())
    header = next(chunks)
    assert read == []  # the download starts before the first row is read
    assert header == "\ufeff" + ",".join(COLUMNS) + "\r\n"
    rest = list(chunks)
    assert len(rest) > 1
    assert len(read) == 250
    assert len(read_csv([header, *rest])) == 251


# Markdown ---------------------------------------------------------------------------------


def unescaped(line):
    """The line with each backslash escape replaced by a letter: what is left is live
    Markdown."""
    return re.sub(r"\\.", "x", line)


def test_markdown_has_title_description_and_a_heading_per_group_in_order():
    groups = [
        CodeGroup(code="Extradition", definition="Handing over\na suspect.", passages=[passage()]),
        CodeGroup(code="Cooperation", definition="", passages=[passage(id=2)]),
    ]
    text = markdown(groups, title="Passages on extradition", description="Query: A and B")
    lines = text.split("\n")
    assert lines[0] == "# Passages on extradition"
    assert "Query: A and B" in lines
    assert [line for line in lines if line.startswith("#")] == [
        "# Passages on extradition",
        "## Extradition",
        "## Cooperation",
    ]
    assert "*Handing over a suspect.*" in lines


def test_markdown_shows_the_quote_in_bold_in_its_context_then_the_citation():
    text = markdown([CodeGroup(code="Extradition", definition="", passages=[passage()])])
    assert "> The parties agree on the **extradition of persons** who are accused." in text
    url = "https://annotate.example.org/documents/7/#passage-1"
    escaped_url = "https://annotate.example.org/documents/7/\\#passage-1"
    assert (
        "Shanghai Convention. Shanghai Cooperation Organisation, 15 June 2001, p. 4. "
        f"[{escaped_url}]({url})\\\nNote: Key clause.\\\nCoded by maria on 2025-03-01."
    ) in text


def test_markdown_says_no_passages_under_an_empty_group():
    text = markdown([CodeGroup(code="Torture", definition="", passages=[])])
    assert text.endswith("## Torture\n\nNo passages.\n\n")


@pytest.mark.parametrize("hostile", MARKDOWN_INJECTIONS)
def test_markdown_writes_user_text_literally(hostile):
    hostile_passage = passage(
        quote=hostile,
        before=hostile + " ",
        after=" " + hostile,
        note=hostile,
        coder=hostile,
        citation=citation(title=hostile, organisation=hostile),
    )
    groups = [CodeGroup(code=hostile, definition=hostile, passages=[hostile_passage])]
    text = markdown(groups, title=hostile, description=hostile)
    # Our own link: the permalink, its text escaped.
    ours = re.compile(r"\[[^\[\]]*\]\(" + re.escape(hostile_passage.citation.url) + r"\)")
    lines = text.split("\n")
    live_lines = [unescaped(line) for line in lines]
    # The only headings are the title's and the group's, whose text is escaped.
    heading_lines = [i for i, line in enumerate(live_lines) if re.match(r"\s*#", line)]
    assert len(heading_lines) == 2
    assert heading_lines[0] == 0
    assert lines[heading_lines[1]].startswith("## ")
    for line, live in zip(lines, live_lines, strict=True):
        if live in (">", ""):
            continue
        body = live.removeprefix("> ")
        # No nested quote, list item, setext underline or indented code.
        assert not re.match(r"\s*(>|[-+*](\s|$)|\d+[.)](\s|$)|[=-]+\s*$)", body), line
        assert not line.startswith("    ")
        assert "](" not in ours.sub("", live), line
        for char in "<`|[~&":
            assert char not in ours.sub("", live), line


def md_tokens(text):
    import markdown_it

    parser = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    return parser.parse(text)


def inline_text(token):
    parts = []
    for child in token.children:
        if child.type == "text":
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts)


@pytest.mark.parametrize("hostile", MARKDOWN_INJECTIONS)
def test_markdown_parses_to_one_quote_and_one_link_whatever_the_text(hostile):
    """A CommonMark parser (with tables and strikethrough) reads the quote as text."""
    hostile_passage = passage(quote=hostile, note=hostile, citation=citation(title=hostile))
    groups = [CodeGroup(code=hostile, definition=hostile, passages=[hostile_passage])]
    tokens = md_tokens(markdown(groups, title=hostile, description=hostile))
    blocks = [token.type for token in tokens if token.type.endswith("_open")]
    assert blocks.count("heading_open") == 2
    assert blocks.count("blockquote_open") == 1
    assert set(blocks) <= {"heading_open", "paragraph_open", "blockquote_open"}
    inline = [child for token in tokens if token.children for child in token.children]
    kinds = [child.type for child in inline]
    assert not set(kinds) & {"html_inline", "code_inline", "image", "s_open"}
    assert kinds.count("em_open") == 1  # the definition
    links = [child.attrs["href"] for child in inline if child.type == "link_open"]
    assert links == [hostile_passage.citation.url]
    headings = [
        inline_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open"
    ]
    assert headings == [" ".join(hostile.split())] * 2
    quote_at = next(i for i, t in enumerate(tokens) if t.type == "blockquote_open")
    quoted = "\n".join(
        inline_text(token) for token in tokens[quote_at:] if token.type == "inline"
    ).split("\n")
    expected = [
        line.strip()
        for line in (hostile_passage.before + hostile + hostile_passage.after).split("\n")
    ]
    assert quoted[: len(expected)] == expected


def test_markdown_bolds_a_chinese_quote_between_punctuation_and_letters():
    quoted = passage(before="报告说", quote="“强迫劳动。”", after="的证据")
    tokens = md_tokens(markdown([CodeGroup(code="劳动", definition="", passages=[quoted])]))
    quote_at = next(i for i, t in enumerate(tokens) if t.type == "blockquote_open")
    children = tokens[quote_at + 2].children
    strong = [
        children[i + 1].content for i, child in enumerate(children) if child.type == "strong_open"
    ]
    assert strong == ["强迫劳动"]
    assert inline_text(tokens[quote_at + 2]) == "报告说“强迫劳动。”的证据"


def test_markdown_keeps_the_lines_of_a_quote_in_the_block_quote():
    text = markdown(
        [
            CodeGroup(
                code="A",
                definition="",
                passages=[passage(before="", after="", quote="one\n\ntwo\nthree")],
            )
        ]
    )
    assert "> **one**\n>\n> **two**\\\n> **three**\n\n" in text


def test_markdown_shows_a_non_web_permalink_as_text():
    text = markdown(
        [
            CodeGroup(
                code="A",
                definition="",
                passages=[passage(citation=citation(url="javascript:alert(1)"))],
            )
        ]
    )
    assert "javascript:alert(1)" in text
    assert "](" not in unescaped(text)


# XLSX -------------------------------------------------------------------------------------


def test_xlsx_has_a_passages_sheet_with_the_csv_columns():
    book = workbook([passage(), passage(id=2, citation=citation(page=None))])
    assert book.sheetnames == ["Passages", "About"]
    rows = list(book["Passages"].iter_rows(values_only=True))
    assert rows[0] == COLUMNS
    assert dict(zip(COLUMNS, rows[1], strict=True)) == {
        "passage_id": 1,
        "codes": "Extradition; Cooperation",
        "quote": "extradition of persons",
        "context_before": "The parties agree on the ",
        "context_after": " who are accused.",
        "note": "Key clause.",
        "coder": "maria",
        "created": "2025-03-01T10:00:00+00:00",
        "document_id": 7,
        "title": "Shanghai Convention",
        "organisation": "Shanghai Cooperation Organisation",
        "published": "15 June 2001",
        "page": 4,
        "url": "https://annotate.example.org/documents/7/#passage-1",
    }
    assert rows[2][COLUMNS.index("page")] is None


def test_xlsx_about_sheet_has_title_description_time_and_count():
    before = datetime.now().astimezone().replace(microsecond=0)
    book = workbook([passage(), passage(id=2)], title="On extradition", description="A and B")
    about = dict(book["About"].iter_rows(values_only=True))
    assert about["Title"] == "On extradition"
    assert about["Description"] == "A and B"
    assert about["Passages"] == 2
    assert datetime.fromisoformat(about["Exported"]) >= before


def test_xlsx_keeps_formula_looking_text_as_text():
    hostile = passage(
        quote='=HYPERLINK("http://evil.example","click")',
        note="@SUM(A1:A2)",
        after="#N/A",
        citation=citation(title="=1+1"),
    )
    book = workbook([hostile], title="=2+2")
    sheet = book["Passages"]
    for name, value in [
        ("quote", '\'=HYPERLINK("http://evil.example","click")'),
        ("note", "'@SUM(A1:A2)"),
        ("context_after", "'#N/A"),
        ("title", "'=1+1"),
    ]:
        cell = sheet.cell(row=2, column=COLUMNS.index(name) + 1)
        assert cell.data_type == "s"
        assert cell.value == value
    title = book["About"]["B1"]
    assert (title.data_type, title.value) == ("s", "'=2+2")


def test_xlsx_removes_control_characters_and_keeps_every_script():
    book = workbook(
        [passage(quote=CONTROL, note=UYGHUR, before=EMOJI, after=CHINESE + RUSSIAN)],
        description="\x00" + UYGHUR,
    )
    row = dict(zip(COLUMNS, list(book["Passages"].iter_rows(values_only=True))[1], strict=True))
    assert row["quote"] == CONTROL_CLEANED
    assert row["note"] == UYGHUR
    assert row["context_before"] == EMOJI
    assert row["context_after"] == CHINESE + RUSSIAN
    assert dict(book["About"].iter_rows(values_only=True))["Description"] == UYGHUR


def test_xlsx_with_no_passages_has_only_the_header():
    book = workbook([])
    assert list(book["Passages"].iter_rows(values_only=True)) == [COLUMNS]
    assert dict(book["About"].iter_rows(values_only=True))["Passages"] == 0


# DOCX -------------------------------------------------------------------------------------


def headings(document):
    return [
        (p.style.name, p.text)
        for p in document.paragraphs
        if p.style.name.startswith(("Heading", "Title"))
    ]


def quote_paragraphs(document):
    return [p for p in document.paragraphs if p.style.name == "Quote"]


def test_docx_has_a_title_and_a_heading_per_code_in_order():
    groups = [
        CodeGroup(code="Extradition", definition="Handing over a suspect.", passages=[passage()]),
        CodeGroup(code="Torture", definition="", passages=[]),
        CodeGroup(code="Cooperation", definition="", passages=[passage(id=2)]),
    ]
    document = report(groups, title="On extradition", description="A and B")
    assert headings(document) == [
        ("Title", "On extradition"),
        ("Heading 1", "Extradition"),
        ("Heading 1", "Torture"),
        ("Heading 1", "Cooperation"),
    ]
    texts = [p.text for p in document.paragraphs]
    assert "A and B" in texts
    assert any(re.fullmatch(r"Exported on \d{4}-\d\d-\d\d \d\d:\d\d UTC\.", t) for t in texts)
    torture = texts.index("Torture")
    assert texts[torture + 1] == "No passages."
    definition = document.paragraphs[texts.index("Handing over a suspect.")]
    assert all(run.italic for run in definition.runs)


def test_docx_shows_the_quote_in_bold_between_lighter_context():
    document = report([CodeGroup(code="Extradition", definition="", passages=[passage()])])
    (quote,) = quote_paragraphs(document)
    assert quote.text == "The parties agree on the extradition of persons who are accused."
    before, quoted, after = quote.runs
    assert quoted.text == "extradition of persons"
    assert quoted.bold
    assert not before.bold
    assert before.font.color.rgb != quoted.font.color.rgb
    assert after.font.color.rgb == before.font.color.rgb


def test_docx_cites_the_passage_with_a_link_to_it():
    document = report([CodeGroup(code="Extradition", definition="", passages=[passage()])])
    texts = [p.text for p in document.paragraphs]
    url = "https://annotate.example.org/documents/7/#passage-1"
    citation_line = (
        f"Shanghai Convention. Shanghai Cooperation Organisation, 15 June 2001, p. 4. {url}"
    )
    assert citation_line in texts
    paragraph = document.paragraphs[texts.index(citation_line)]
    (link,) = paragraph.hyperlinks
    assert link.text == url
    assert link.address == url
    relationship = document.part.rels[link._hyperlink.rId]
    assert relationship.reltype == RT.HYPERLINK
    assert relationship.is_external
    assert relationship.target_ref == url
    assert "Note: Key clause." in texts
    assert "Coded by maria on 2025-03-01." in texts


def test_docx_sets_right_to_left_on_a_uyghur_quote():
    groups = [
        CodeGroup(
            code="Language",
            definition="",
            passages=[passage(quote=UYGHUR, before="", after=""), passage(id=2, quote=RUSSIAN)],
        )
    ]
    uyghur, russian = quote_paragraphs(report(groups))
    assert uyghur.text == UYGHUR
    assert uyghur.runs[0].font.rtl is True
    assert uyghur.runs[0].font.cs_bold is True
    assert (
        uyghur._p.pPr.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}bidi")
        is not None
    )
    assert all(not run.font.rtl for run in russian.runs)


def test_docx_removes_control_characters_and_keeps_every_script():
    groups = [
        CodeGroup(
            code="Scripts\x01",
            definition=CHINESE,
            passages=[passage(quote=CONTROL, before=EMOJI, after=RUSSIAN, note="\x0b" + UYGHUR)],
        )
    ]
    document = report(groups, description="\x00" + CHINESE)
    texts = [p.text for p in document.paragraphs]
    assert "Scripts" in texts
    assert CHINESE in texts
    (quote,) = quote_paragraphs(document)
    # python-docx writes a newline as a line break and reads it back as one.
    assert quote.text == EMOJI + CONTROL_CLEANED + RUSSIAN
    assert "Note: " + UYGHUR in texts


def test_docx_shows_a_non_web_permalink_as_text():
    bad = passage(citation=citation(url="javascript:alert(1)"))
    document = report([CodeGroup(code="A", definition="", passages=[bad])])
    assert not any(p.hyperlinks for p in document.paragraphs)
    assert any(p.text.endswith(" javascript:alert(1)") for p in document.paragraphs)


# Laziness ---------------------------------------------------------------------------------


def test_grouped_formats_read_each_groups_passages_once():
    def groups():
        return [
            CodeGroup(code="A", definition="", passages=OnceOnly([passage(), passage(id=2)])),
            CodeGroup(code="B", definition="", passages=OnceOnly([])),
        ]

    assert markdown(groups()).count("> ") == 2
    assert len(quote_paragraphs(report(groups()))) == 2


def test_flat_formats_read_the_passages_once():
    rows = read_csv(csv_chunks(OnceOnly([passage(), passage(id=2)])))
    assert len(rows) == 3
    book = workbook(OnceOnly([passage(), passage(id=2)]))
    assert book["Passages"].max_row == 3


def test_markdown_yields_a_group_before_reading_the_next():
    read = []

    def passages(code):
        read.append(code)
        yield passage()

    def groups():
        for code in ("A", "B"):
            yield CodeGroup(code=code, definition="", passages=passages(code))

    chunks = markdown_chunks(groups(), title="T", description="")
    assert next(chunks) == "# T\n\n"
    assert next(chunks) == "## A\n\n"
    assert read == []
    next(chunks)
    assert read == ["A"]
