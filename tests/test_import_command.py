"""The import service and the import_documents command: formats, metadata, duplicates,
clean-up, and bad input answered with nothing half-saved."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from documents import services
from documents.models import Activity, Document, SourceFile

from .test_extract import CHINESE, RUSSIAN, make_docx, make_pdf, make_scanned_pdf, make_zip

CORPUS = Path(__file__).resolve().parent.parent / "sample_data" / "corpus"

# The command imports into the only project there is (or the one --project names).
pytestmark = pytest.mark.usefixtures("project")


def run(*args):
    """Run the command; returns (exit status, stdout)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_documents", *[str(arg) for arg in args], stdout=out, stderr=err)
    except CommandError as exc:
        assert exc.returncode == 1, exc
        return 1, out.getvalue()
    return 0, out.getvalue()


def upload(name, data):
    return services.Upload(filename=name, data=data)


# The service


def test_document_import_records_source_language_and_unapplied_suggestions(db, staff_user):
    data = (CORPUS / "hrw-2002-open-letter-sco-foreign-ministers.txt").read_bytes()
    document = services.document_import(
        user=staff_user,
        upload=upload("hrw.txt", data),
        metadata=services.DocumentMetadata(),
    )
    assert document.title == "hrw"
    assert document.language == "en" and document.language_detected
    assert document.text.startswith("Skip to main content")
    report = document.import_report
    assert report["source"]["encoding"] == "utf-8"
    assert report["source"]["size"] == len(data)
    assert report["cleanup"]["applied"] == []
    assert [entry["kind"] for entry in report["cleanup"]["not_applied"]] == [
        "navigation",
        "footer",
    ]
    assert document.source_file.data == data
    assert document.imported_by == staff_user


def test_document_import_applies_chosen_cleanup_and_records_what_went(db, staff_user):
    data = (CORPUS / "hrw-2002-open-letter-sco-foreign-ministers.txt").read_bytes()
    document = services.document_import(
        user=staff_user,
        upload=upload("hrw.txt", data),
        metadata=services.DocumentMetadata(title="Open letter"),
        clean=["footer-23"],
    )
    assert document.text.startswith("Skip to main content")
    assert "tax deductible" not in document.text
    applied = document.import_report["cleanup"]["applied"]
    assert [entry["id"] for entry in applied] == ["footer-23"]
    assert applied[0]["text"].startswith("Your tax deductible gift")
    not_applied = document.import_report["cleanup"]["not_applied"][0]
    assert document.text[not_applied["start"] : not_applied["end"]] == "Skip to main content"
    activity = Activity.objects.get(action="document.import", object_id=document.pk)
    assert activity.after["import_report"]["cleanup"]["applied"][0]["id"] == "footer-23"


def test_document_import_reads_normalises_and_hashes_a_file_once(db, staff_user, monkeypatch):
    """One import: one extraction, the text normalised and hashed once (NewText), the
    file's bytes hashed once (for the duplicate check, the report and the source file)."""
    data = (CORPUS / "hrw-2002-open-letter-sco-foreign-ministers.txt").read_bytes()
    calls = {"extract": 0, "text": 0, "bytes": 0}
    extract = services.imports.extractlib.extract
    prepare = services.NewText.of.__func__
    sha256 = services.documents.hashlib.sha256

    def counted_extract(filename, content):
        calls["extract"] += 1
        return extract(filename, content)

    def counted_prepare(cls, text):
        calls["text"] += 1
        return prepare(cls, text)

    def counted_sha256(content=b""):
        calls["bytes"] += content is data
        return sha256(content)

    monkeypatch.setattr(services.imports.extractlib, "extract", counted_extract)
    monkeypatch.setattr(services.NewText, "of", classmethod(counted_prepare))
    monkeypatch.setattr(services.documents.hashlib, "sha256", counted_sha256)
    document = services.document_import(
        user=staff_user, upload=upload("hrw.txt", data), metadata=services.DocumentMetadata()
    )
    assert calls == {"extract": 1, "text": 1, "bytes": 1}
    assert document.source_file.sha256 == document.import_report["source"]["sha256"]


def test_document_import_refuses_unknown_cleanup_choice(db, staff_user):
    with pytest.raises(ValidationError) as info:
        services.document_import(
            user=staff_user,
            upload=upload("a.txt", b"Some text here."),
            metadata=services.DocumentMetadata(),
            clean=["navigation-9"],
        )
    assert "clean" in info.value.message_dict
    assert Document.objects.count() == 0


def test_document_import_pdf_keeps_page_breaks_after_cleanup(db, staff_user):
    data = make_pdf("Skip to content", "Page two text.", "Page three text.")
    document = services.document_import(
        user=staff_user,
        upload=upload("paged.pdf", data),
        metadata=services.DocumentMetadata(title="Paged"),
        clean=True,
    )
    assert document.text.startswith("Page two text.")
    assert len(document.page_breaks) == 1
    assert document.text[document.page_breaks[0] :] == "Page three text."
    assert document.page_at(document.page_breaks[0]) == 2


@pytest.mark.parametrize(
    ("name", "data", "expected", "language"),
    [
        ("ru.txt", RUSSIAN.encode("cp1251"), RUSSIAN.strip(), "ru"),
        ("zh.txt", CHINESE.encode("gb18030"), CHINESE.strip(), "zh"),
        ("memo.docx", make_docx(), "Memo on the Shanghai Convention", "en"),
        (
            "page.html",
            b"<title>T</title><p>The Shanghai Cooperation Organisation met today.</p>",
            "The Shanghai Cooperation Organisation met today.",
            "en",
        ),
    ],
)
def test_document_import_each_format(db, staff_user, name, data, expected, language):
    document = services.document_import(
        user=staff_user, upload=upload(name, data), metadata=services.DocumentMetadata()
    )
    assert document.text.startswith(expected)
    assert document.language == language


def test_document_import_same_file_twice_is_a_duplicate(db, staff_user):
    data = (CORPUS / "hrw-2002-open-letter-sco-foreign-ministers.txt").read_bytes()
    first = services.document_import(
        user=staff_user,
        upload=upload("a.txt", data),
        metadata=services.DocumentMetadata(),
        clean=True,
    )
    # Same file without clean-up: its text differs, but it is the same source.
    with pytest.raises(services.DuplicateDocument) as info:
        services.document_import(
            user=staff_user, upload=upload("b.txt", data), metadata=services.DocumentMetadata()
        )
    assert info.value.document.pk == first.pk
    # The same text from another file.
    with pytest.raises(services.DuplicateDocument):
        services.document_import(
            user=staff_user,
            upload=upload("c.md", first.text.encode("utf-8")),
            metadata=services.DocumentMetadata(),
        )
    assert Document.objects.count() == 1


def test_sample_data_still_imports_through_document_import(sample_corpus):
    assert len(sample_corpus) == 5
    assert all(document.import_report["cleanup"]["applied"] == [] for document in sample_corpus)


# The command


def test_command_imports_folder_with_manifest_and_is_idempotent(db, tmp_path):
    folder = tmp_path / "corpus"
    shutil.copytree(CORPUS, folder)
    status, out = run(folder, "--manifest", folder / "manifest.json")
    assert status == 0
    assert out.splitlines()[-1] == "5 imported, 0 duplicates, 0 failed."
    hric = Document.objects.get(title__startswith="How Will the Shanghai")
    assert hric.organisation == "Human Rights in China (HRIC)"
    assert hric.document_type == "statement"
    assert str(hric.published) == "2011-06-16"
    assert hric.language == "en" and not hric.language_detected
    status, out = run(folder, "--manifest", folder / "manifest.json")
    assert status == 0
    assert out.splitlines()[-1] == "0 imported, 5 duplicates, 0 failed."
    assert out.count("duplicate of #") == 5
    assert Document.objects.count() == 5


def test_command_recurses_into_folders_and_applies_defaults(db, tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one.txt").write_text("Первый документ о ШОС и правах человека в регионе.")
    (tmp_path / "a" / "b" / "two.md").write_text("Second document about the SCO and rights.")
    (tmp_path / "a" / "b" / ".hidden.txt").write_text("skipped")
    status, out = run(
        tmp_path / "a", "--organisation", "FIDH", "--language", "en", "--document-type", "report"
    )
    assert status == 0, out
    documents = Document.objects.order_by("title")
    assert [d.title for d in documents] == ["one", "two"]
    assert {d.organisation for d in documents} == {"FIDH"}
    assert {d.document_type for d in documents} == {"report"}
    assert {d.language for d in documents} == {"en"}


def test_command_csv_manifest(db, tmp_path):
    (tmp_path / "memo.docx").write_bytes(make_docx())
    (tmp_path / "list.csv").write_text(
        "file,title,organisation,published,document_type,language\n"
        "memo.docx,The memo,HRIC,2011-06,report,en\n"
    )
    status, out = run("--manifest", tmp_path / "list.csv")
    assert status == 0, out
    document = Document.objects.get()
    assert (document.title, document.organisation, document.date_precision) == (
        "The memo",
        "HRIC",
        "month",
    )


def test_command_reports_each_bad_file_and_imports_the_rest(db, tmp_path, settings):
    settings.IMPORT_MAX_FILE_BYTES = 50_000
    files = {
        "good.txt": b"A good document about the SCO.",
        "empty.txt": b"",
        "garbage.txt": bytes(range(256)) * 10,
        "slides.pptx": b"PK whatever",
        "cut.pdf": make_pdf("Text")[:300],
        "scan.pdf": make_scanned_pdf(),
        "broken-utf8.txt": "Привет, мир".encode() + b"\xff\xfe",
        "huge.txt": b"a" * 50_001,
        "hostile.html": b"<script>alert(1)</script><p onclick='x()'>Safe text only.</p>",
        "escape.zip": make_zip({"../up.txt": b"escape", "ok.txt": b"Inside the archive."}),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    status, out = run(tmp_path)
    assert status == 1
    lines = {line.split()[1].rstrip(":"): line for line in out.splitlines()[:-1]}

    def line_for(name):
        return next(line for key, line in lines.items() if key.endswith("/" + name))

    for name in ("good.txt", "hostile.html", "escape.zip/ok.txt"):
        assert line_for(name).startswith("imported"), line_for(name)
    expected = {
        "empty.txt": "empty",
        "garbage.txt": "not a text file",
        "slides.pptx": "unsupported file type .pptx",
        "cut.pdf": "truncated",
        "scan.pdf": "no text layer",
        "broken-utf8.txt": "not valid UTF-8",
        "huge.txt": "above the import limit",
        "escape.zip/../up.txt": "leaves the archive's folder",
    }
    for name, reason in expected.items():
        line = line_for(name)
        assert line.startswith("failed"), line
        assert reason in line, line
    assert out.splitlines()[-1] == "3 imported, 0 duplicates, 8 failed."
    assert Document.objects.count() == SourceFile.objects.count() == 3
    hostile = Document.objects.get(title="hostile")
    assert hostile.text == "Safe text only."


def test_command_manifest_row_with_missing_file_or_invalid_date(db, tmp_path):
    (tmp_path / "a.txt").write_text("Document A about the SCO.")
    (tmp_path / "b.txt").write_text("Document B about the SCO.")
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            [
                {"file": "a.txt", "title": "A", "published": "2011-13-45"},
                {"file": "b.txt", "title": "B", "published": "2012"},
                {"file": "missing.txt", "title": "Missing"},
            ]
        )
    )
    status, out = run(tmp_path, "--manifest", tmp_path / "manifest.json")
    assert status == 1
    assert "failed     " in out and "'2011-13-45' is not a date" in out
    assert "missing.txt: named in the manifest, but there is no such file" in out
    assert out.splitlines()[-1] == "1 imported, 0 duplicates, 2 failed."
    assert Document.objects.get().title == "B"


def test_command_manifest_cannot_name_files_outside_its_folder(db, tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    (tmp_path / "secret.txt").write_text("A private key that must not reach the corpus.")
    secret = tmp_path / "passwords.txt"
    secret.write_text("Passwords that must not reach the corpus.")
    (folder / "manifest.json").write_text(
        json.dumps(
            [
                {"file": "../secret.txt", "title": "Escape"},
                {"file": str(secret), "title": "Absolute"},
            ]
        )
    )
    status, out = run(folder, "--manifest", folder / "manifest.json")
    assert status == 1
    assert out.count("this one is outside it, and was not read") == 2
    assert not Document.objects.exists()


def test_command_dry_run_shows_cleanup_paragraph_by_paragraph_and_stores_nothing(db):
    status, out = run(CORPUS / "hric-2011-sco-harmonize-central-asia.txt", "--dry-run", "--clean")
    assert status == 0
    assert "would remove [navigation-1] Navigation" in out
    assert "¶1: 'Skip to content Skip to navigation'" in out
    assert "¶19: 'The website encountered an unexpected error. Please try again later.'" in out
    assert out.splitlines()[-1] == "1 would be imported, 0 duplicates, 0 failed."
    assert Document.objects.count() == 0


def test_command_clean_strips_the_noise(db):
    status, out = run(CORPUS / "rferl-2012-fidh-report-sco-vehicle-for-violations.txt", "--clean")
    assert status == 0
    assert "1 clean-up(s) applied" in out
    document = Document.objects.get()
    assert document.text.count("The Paris-based International Federation") == 1


def test_command_refuses_bad_options(db, tmp_path):
    with pytest.raises(CommandError, match="BCP 47"):
        call_command("import_documents", str(tmp_path), "--language", "english!")
    with pytest.raises(CommandError, match="Give files or folders"):
        call_command("import_documents")
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("import_documents", "--manifest", str(tmp_path / "m.json"))


def test_command_manifest_row_for_a_zip_applies_to_each_file_but_not_its_title(db, tmp_path):
    (tmp_path / "bundle.zip").write_bytes(
        make_zip({"one.txt": b"First text about the SCO.", "sub/two.txt": b"Second text."})
    )
    (tmp_path / "manifest.json").write_text(
        json.dumps([{"file": "bundle.zip", "title": "Bundle", "organisation": "FIDH"}])
    )
    status, out = run("--manifest", tmp_path / "manifest.json")
    assert status == 0, out
    documents = Document.objects.order_by("title")
    assert [(d.title, d.organisation) for d in documents] == [("one", "FIDH"), ("two", "FIDH")]
    assert documents[0].source_file.filename.endswith("bundle.zip/one.txt")


def test_command_clean_only_the_kinds_given(db):
    status, out = run(
        CORPUS / "hrw-2002-open-letter-sco-foreign-ministers.txt", "--clean=footer", "--dry-run"
    )
    assert status == 0
    assert "would remove [footer-23]" in out
    assert "could remove (with --clean) [navigation-1]" in out
    status, out = run(CORPUS / "hrw-2002-open-letter-sco-foreign-ministers.txt", "--clean=footer")
    document = Document.objects.get()
    assert document.text.startswith("Skip to main content")
    assert "tax deductible" not in document.text
    with pytest.raises(CommandError, match="unknown kind 'adverts'"):
        call_command("import_documents", str(CORPUS), "--clean=adverts,footer")


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html", ".pdf", ".docx"])
def test_document_import_answers_random_bytes_with_a_reason(db, staff_user, suffix):
    import random

    data = random.Random(suffix).randbytes(4000)
    with pytest.raises(ValidationError) as info:
        services.document_import(
            user=staff_user,
            upload=upload("noise" + suffix, data),
            metadata=services.DocumentMetadata(),
        )
    assert info.value.messages[0].startswith("noise" + suffix + ": ")
    assert Document.objects.count() == 0


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_command_draws_a_progress_bar_on_a_terminal_only(db, tmp_path, monkeypatch):
    for index in range(3):
        (tmp_path / f"n{index}.txt").write_text(f"Note {index} on the SCO and human rights.")
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    status, out = run(tmp_path, "--dry-run")
    assert status == 0
    assert "] 3/3 " in terminal.getvalue() and "[" + "#" * 30 + "]" in terminal.getvalue()
    assert "#" * 30 not in out
    redirected = io.StringIO()
    monkeypatch.setattr("sys.stderr", redirected)
    run(tmp_path, "--dry-run")
    assert redirected.getvalue() == ""


def test_command_reports_an_empty_or_broken_archive(db, tmp_path):
    (tmp_path / "empty.zip").write_bytes(make_zip({}))
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not a zip")
    status, out = run(tmp_path)
    assert status == 1
    assert "empty.zip: the archive holds no files." in out
    assert "broken.zip: the file is not a readable zip archive" in out
    assert out.splitlines()[-1] == "0 imported, 0 duplicates, 2 failed."
