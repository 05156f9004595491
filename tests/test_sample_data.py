from __future__ import annotations

import json
from pathlib import Path

from django.core.management import call_command

from documents.models import Activity, Document, Tag

CORPUS = Path(__file__).resolve().parent.parent / "sample_data" / "corpus"


def test_load_sample_data_loads_five_documents_with_metadata_and_codebook(db):
    call_command("load_sample_data", verbosity=0)
    assert Document.objects.count() == 5
    letter = Document.objects.get(title__startswith="Open Letter")
    assert letter.organisation.startswith("Human Rights Watch")
    assert letter.published_display == "January 2002"
    assert letter.document_type == "letter"
    assert letter.source_file.filename == "hrw-2002-open-letter-sco-foreign-ministers.txt"
    assert bytes(letter.source_file.data) == (CORPUS / letter.source_file.filename).read_bytes()
    slugs = set(Tag.objects.values_list("slug", flat=True))
    assert {"extradition", "definition-of-extremism", "oversight-gap", "due-process"} <= slugs
    assert all(tag.definition for tag in Tag.objects.all())
    assert Tag.objects.get(slug="definition-of-extremism").parent.slug == "three-evils"


def test_load_sample_data_twice_changes_nothing(db):
    call_command("load_sample_data", verbosity=0)
    before = (Document.objects.count(), Tag.objects.count(), Activity.objects.count())
    call_command("load_sample_data", verbosity=0)
    assert (Document.objects.count(), Tag.objects.count(), Activity.objects.count()) == before


def test_sample_corpus_is_kept_raw_with_its_noise():
    manifest = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
    assert len(manifest) == 5
    hric = (CORPUS / "hric-2011-sco-harmonize-central-asia.txt").read_text(encoding="utf-8")
    assert "Warning" in hric or "Error" in hric
