"""Search, coding search hits (and undoing it), passages with citations, and their API.

The database tests run on both PostgreSQL (tsvector and its GIN index) and SQLite (FTS5):
the same terms go into both, so the same queries must find the same hits.
"""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from documents import selectors as document_selectors
from documents import services
from documents.models import Activity, Annotation, Document
from projects.models import Project, Role
from research import selectors
from research import services as research_services
from research import terms as terms_module
from research.index import index_documents
from research.models import Chunk, CodingBatch, DocumentTerms
from research.search import chunks_matching, documents_matching
from research.selectors import PassageFilter, SearchFilter
from research.terms import (
    LEXEMES_PER_ROW,
    TERM_BUCKETS,
    QueryError,
    chunk_spans,
    document_terms,
    index_terms,
    lexeme_parts,
    lexeme_rows,
    parse_query,
    term_bucket,
    tokens,
    tsvector,
)
from tests.conftest import member
from tests.helpers import annotate

#: What htmx sends with each of its requests.
HTMX = {"HX-Request": "true"}

RUSSIAN = (
    "Выдача лиц, обвиняемых в экстремизме.\n"
    "Государства-члены ШОС договорились о выдаче подозреваемых без судебного контроля.\n"
    "Правозащитники критикуют такие выдачи.\n"
)
ENGLISH = (
    "The SCO members extradited dozens of people.\n"
    "Extraditions happen without judicial oversight. Nobody reviews them.\n"
    "The definition of extremism is vague.\n"
    "極端主義的定義 and 上海合作组织打击恐怖主义公约 are cited.\n"
)


def terms(text: str) -> list[str]:
    return [token.term for token in tokens(text)]


# ---------------------------------------------------------------------------------------
# Terms: pure functions


def test_words_are_folded_and_stemmed_by_script():
    assert terms("Extradited EXTRADITIONS extradition") == ["extradit"] * 3
    assert terms("выдачи Выдаче выдача") == ["выдач"] * 3
    assert terms("Übereinkommen") == ["ubereinkommen"]
    # ё is written е, й stays a letter of its own.
    assert terms("её") == terms("ее")
    assert terms("й") != terms("и")


def test_ideographs_become_pairs_and_keep_their_offsets():
    found = list(tokens("SCO上海合作x", 10))
    assert [t.term for t in found] == ["sco", "上海", "海合", "合作", "作", "x"]
    assert [(t.start, t.end) for t in found][1:5] == [(13, 15), (14, 16), (15, 17), (16, 17)]


def test_uyghur_words_lose_their_vowel_marks_not_their_letters():
    assert terms("ئۇيغۇر") == ["ئۇيغۇر"]
    assert terms("عَرَبِيّ") == terms("عربي")


def test_emoji_and_punctuation_are_not_terms():
    assert terms("👩🏽‍⚖️ — « » 🙂") == []
    assert terms("e-mail") == ["e", "mail"]


def test_queries_parse_into_groups_phrases_and_exclusions():
    query = parse_query('extradited "judicial oversight" -China outlaw OR ban* 引渡条约')
    assert [[p.terms for p in group] for group in query.groups] == [
        [("extradit",)],
        [("judici", "oversight")],
        [("outlaw",), ("ban",)],
        [("引渡", "渡条", "条约")],
    ]
    assert query.groups[2][1].prefix
    assert [p.terms for p in query.excluded] == [("china",)]
    # A single ideograph is a prefix: the first of a pair in the text.
    assert parse_query("法").groups[0][0].prefix


@pytest.mark.parametrize("text", ["", "   ", "-only -excluded", "— !!", "OR"])
def test_a_query_without_words_is_refused_with_what_to_do(text):
    with pytest.raises(QueryError, match="at least one word"):
        parse_query(text)


def test_a_very_long_query_is_refused():
    with pytest.raises(QueryError, match="at most 1,000"):
        parse_query("word " * 300)


def test_hits_are_exact_offsets_of_phrases_in_the_text():
    text = "He was extradited. Extradition treaties: 上海合作组织引渡条约."
    query = parse_query('extradition "上海合作"')
    assert [text[s:e] for s, e in query.hits(text)] == ["extradited", "Extradition", "上海合作"]


def test_chunks_cover_the_text_in_whole_lines():
    text = "".join(f"Line {i} of the report.\n" for i in range(400)) + "x" * 5000
    spans = chunk_spans(text)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert all(text[end - 1] == "\n" for _, end in spans[:-3])
    assert max(end - start for start, end in spans) <= 3000


def test_tsvector_text_numbers_terms_from_one():
    assert tsvector(list(tokens("a b a"))) == "'a':1,3 'b':2"


# ---------------------------------------------------------------------------------------
# Search in the database


@pytest.fixture
def corpus(project, user, tags):
    def add(title, text, **metadata):
        return services.document_create(
            user=None,
            project=project,
            text=text,
            metadata=services.DocumentMetadata(title=title, **metadata),
        )

    return {
        "en": add("English report", ENGLISH, organisation="HRW", language="en"),
        "ru": add("Русский доклад", RUSSIAN, organisation="FIDH", language="ru"),
    }


def run(user, project, text, **filters):
    return selectors.search(
        user=user, filters=SearchFilter(project=project.pk, query=parse_query(text), **filters)
    )


def found(page):
    return {r.document.title: [hit.text for hit in r.hits] for r in page.results}


@pytest.mark.django_db
def test_documents_are_indexed_when_they_are_stored(corpus):
    assert Chunk.objects.filter(document=corpus["en"]).exists()
    if connection.vendor == "postgresql":
        assert Chunk.objects.filter(document=corpus["en"], terms__isnull=False).exists()


@pytest.mark.django_db
def test_an_english_word_finds_its_other_inflections(corpus, user, project):
    assert found(run(user, project, "extradition")) == {
        "English report": ["extradited", "Extraditions"]
    }


@pytest.mark.django_db
def test_a_russian_word_finds_other_cases(corpus, user, project):
    assert found(run(user, project, "выдачами")) == {
        "Русский доклад": ["Выдача", "выдаче", "выдачи"]
    }


@pytest.mark.django_db
def test_a_chinese_phrase_is_found_without_spaces(corpus, user, project):
    assert found(run(user, project, "恐怖主义")) == {"English report": ["恐怖主义"]}
    assert found(run(user, project, "合作组织打击")) == {"English report": ["合作组织打击"]}
    assert found(run(user, project, "恐")) == {"English report": ["恐"]}


@pytest.mark.django_db
def test_phrases_exclusions_or_and_prefixes(corpus, user, project):
    assert found(run(user, project, '"definition of extremism"')) == {
        "English report": ["definition of extremism"]
    }
    assert found(run(user, project, '"extremism definition"')) == {}
    assert found(run(user, project, "extremism -oversight")) == {}
    assert set(found(run(user, project, "extradition OR выдача"))) == {
        "English report",
        "Русский доклад",
    }
    assert found(run(user, project, "judic*")) == {"English report": ["judicial"]}
    # Every word is required, anywhere in the document.
    assert set(found(run(user, project, "extradited vague"))) == {"English report"}
    assert found(run(user, project, "extradited выдача")) == {}


@pytest.mark.django_db
def test_metadata_filters_and_sorting(corpus, user, project):
    both = "extradition OR выдача"
    assert set(found(run(user, project, both, organisation="FIDH"))) == {"Русский доклад"}
    assert set(found(run(user, project, both, language="en"))) == {"English report"}
    page = run(user, project, both, sort="title")
    assert [r.document.title for r in page.results] == ["English report", "Русский доклад"]


@pytest.mark.django_db
def test_the_coded_filter_looks_at_each_hit(corpus, user, project, tags):
    annotate(user, corpus["en"], "extradited")
    assert found(run(user, project, "extradition", coded="yes")) == {
        "English report": ["extradited"]
    }
    assert found(run(user, project, "extradition", coded="no")) == {
        "English report": ["Extraditions"]
    }


@pytest.mark.django_db
def test_a_search_finds_nothing_of_another_project(corpus, user, project, django_user_model):
    other = Project.objects.create(name="Other")
    stranger = member(other, django_user_model.objects.create_user("stranger"))
    services.document_create(
        user=None,
        project=other,
        text="Other extradition text.",
        metadata=services.DocumentMetadata(title="Other report"),
    )
    assert set(found(run(user, project, "extradition"))) == {"English report"}
    assert set(found(run(stranger, other, "extradition"))) == {"Other report"}
    # A project one is not in: its documents are not there.
    assert found(run(stranger, project, "extradition")) == {}


@pytest.mark.django_db
def test_pages_of_documents_follow_each_other(project, user):
    for i in range(7):
        services.document_create(
            user=None,
            project=project,
            text=f"Report {i} on extradition.",
            metadata=services.DocumentMetadata(title=f"Report {i}"),
        )
    filters = SearchFilter(project=project.pk, query=parse_query("extradition"))
    first = selectors.search(user=user, filters=filters, per_page=3)
    assert first.documents == 7 and first.next_offset == 3
    second = selectors.search(user=user, filters=filters, offset=3, per_page=3)
    last = selectors.search(user=user, filters=filters, offset=6, per_page=3)
    titles = [r.document.title for page in (first, second, last) for r in page.results]
    assert titles == [f"Report {i}" for i in range(7)]
    assert last.next_offset is None


@pytest.mark.django_db
def test_reindexing_a_changed_text_replaces_its_chunks(project, user, staff_user):
    document = services.document_create(
        user=None,
        project=project,
        text="First draft about torture.",
        metadata=services.DocumentMetadata(title="Draft"),
    )
    services.document_update(user=staff_user, document=document, text="Final text on asylum.")
    assert found(run(user, project, "torture")) == {}
    assert found(run(user, project, "asylum")) == {"Draft": ["asylum"]}
    assert index_documents([(document.pk, document.text)]) == 1
    assert found(run(user, project, "asylum")) == {"Draft": ["asylum"]}


# ---------------------------------------------------------------------------------------
# Coding hits


def hits_of(user, project, text):
    filters = SearchFilter(project=project.pk, query=parse_query(text))
    return [
        (h.document_id, h.start, h.end)
        for h in selectors.search_hits(user=user, filters=filters, limit=100)
    ]


def test_a_hit_grows_to_its_sentence_or_line():
    text = "First sentence. The SCO extradited him. Last one\nNext line."
    start = text.index("extradited")
    end = start + len("extradited")
    assert text.__getitem__(slice(*research_services.extend(text, start, end, "sentence"))) == (
        "The SCO extradited him."
    )
    assert text.__getitem__(slice(*research_services.extend(text, start, end, "paragraph"))) == (
        "First sentence. The SCO extradited him. Last one"
    )
    assert research_services.extend(text, start, end, "match") == (start, end)


@pytest.mark.django_db
def test_coding_hits_creates_ordinary_annotations_and_one_batch_row(corpus, user, project, tags):
    hits = hits_of(user, project, "extradition")
    planned = research_services.plan(
        user=user, project=project.pk, tag=tags["extradition"], hits=hits, scope="sentence"
    )
    assert [span.quote for span in planned] == [
        "The SCO members extradited dozens of people.",
        "Extraditions happen without judicial oversight.",
    ]
    assert not Annotation.objects.exists()  # a plan writes nothing
    batch = research_services.code_hits(
        user=user,
        project=project.pk,
        tag=tags["extradition"],
        hits=hits,
        scope="sentence",
        query="extradition",
    )
    made = list(batch.annotations.order_by("start"))
    assert [a.quote for a in made] == [span.quote for span in planned]
    for annotation in made:
        text = corpus["en"].text
        assert annotation.quote == text[annotation.start : annotation.end]
        assert annotation.prefix == text[max(0, annotation.start - 32) : annotation.start]
        assert [t.slug for t in annotation.tags.all()] == ["extradition"]
        assert annotation.author == user
    creates = Activity.objects.filter(action="annotation.create", object_type="annotation")
    assert creates.count() == 2
    row = Activity.objects.get(action="codingbatch.create")
    assert row.after["annotations"] == [a.pk for a in batch.annotations.order_by("pk")]
    # Coding the same hits again adds nothing: each span carries the code already.
    again = research_services.plan(
        user=user, project=project.pk, tag=tags["extradition"], hits=hits, scope="sentence"
    )
    assert all(span.exists for span in again)
    with pytest.raises(ValidationError, match="nothing to add"):
        research_services.code_hits(
            user=user,
            project=project.pk,
            tag=tags["extradition"],
            hits=hits,
            scope="sentence",
            query="extradition",
        )


@pytest.mark.django_db
def test_undo_deletes_the_batch_but_keeps_what_changed_since(
    corpus, user, other_user, project, tags
):
    hits = hits_of(user, project, "extradition")
    batch = research_services.code_hits(
        user=user,
        project=project.pk,
        tag=tags["extradition"],
        hits=hits,
        scope="match",
        query="extradition",
    )
    first, second = batch.annotations.order_by("start")
    services.annotation_update(user=user, annotation=first, note="Checked by hand.")
    with pytest.raises(PermissionDenied):
        research_services.batch_undo(user=other_user, batch=batch)
    assert research_services.batch_undo(user=user, batch=batch) == (1, 1)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.deleted_at is None and second.deleted_at is not None
    assert Activity.objects.filter(action="annotation.delete", object_id=second.pk).exists()
    assert Activity.objects.filter(action="codingbatch.undo").count() == 1
    with pytest.raises(ValidationError, match="undone already"):
        research_services.batch_undo(user=user, batch=CodingBatch.objects.get(pk=batch.pk))


@pytest.mark.django_db
def test_coding_hits_is_refused_to_readers_and_for_bad_input(
    corpus, project, tags, django_user_model, user
):
    reader = member(project, django_user_model.objects.create_user("reader"), Role.READER)
    hits = hits_of(user, project, "extradition")
    with pytest.raises(PermissionDenied):
        research_services.plan(
            user=reader, project=project.pk, tag=tags["extradition"], hits=hits, scope="match"
        )
    for bad_hits, message in (
        ([], "at least one hit"),
        ([(corpus["en"].pk, 5, 99999)], "not in the text"),
        ([(10**9, 0, 1)], "no document"),
    ):
        with pytest.raises(ValidationError, match=message):
            research_services.plan(
                user=user,
                project=project.pk,
                tag=tags["extradition"],
                hits=bad_hits,
                scope="match",
            )
    with pytest.raises(ValidationError, match="Choose one of"):
        research_services.plan(
            user=user, project=project.pk, tag=tags["extradition"], hits=hits, scope="page"
        )
    assert not Annotation.objects.exists()


# ---------------------------------------------------------------------------------------
# Passages


@pytest.fixture
def coded(corpus, user, other_user, tags):
    return {
        "extradited": annotate(user, corpus["en"], "extradited", tags=["extradition"]),
        "oversight": annotate(
            other_user, corpus["en"], "judicial oversight", tags=["forced-return", "due-process"]
        ),
        "vague": annotate(user, corpus["en"], "vague", tags=["due-process"], note="Key."),
        "выдаче": annotate(user, corpus["ru"], "выдаче", tags=["extradition"]),
    }


def page_quotes(user, project, start, stop, **filters):
    shown = selectors.passage_page(
        user=user,
        filters=PassageFilter(project=project.pk, **filters),
        start=start,
        stop=stop,
        base_url="",
    )
    return [passage.quote for passage in shown]


def quotes(user, project, **filters):
    listed = selectors.passage_list(user=user, filters=PassageFilter(project=project.pk, **filters))
    return [a.quote for a in listed]


@pytest.mark.django_db
def test_a_code_includes_its_children_and_any_all_not_combine(coded, user, project, tags):
    extradition, due = tags["extradition"].pk, tags["due-process"].pk
    assert quotes(user, project, codes=(extradition,)) == [
        "extradited",
        "judicial oversight",
        "выдаче",
    ]
    assert quotes(user, project, codes=(extradition, due), mode="all") == ["judicial oversight"]
    assert quotes(user, project, codes=(extradition,), without=(due,)) == ["extradited", "выдаче"]
    assert quotes(user, project, coders=("colleague",)) == ["judicial oversight"]
    assert quotes(user, project, organisation="FIDH") == ["выдаче"]
    assert quotes(user, project, q="Key") == ["vague"]
    today = datetime.date.today()
    assert len(quotes(user, project, coded_after=today, coded_before=today)) == 4
    assert quotes(user, project, coded_after=today + datetime.timedelta(days=1)) == []


@pytest.mark.django_db
def test_passages_sort_by_code_date_or_document(coded, user, project):
    # By each passage's first code in codebook order: Extradition, Forced return (its
    # child), ..., Due process.
    by_code = ["extradited", "выдаче", "judicial oversight", "vague"]
    assert page_quotes(user, project, 0, 10, sort="code") == by_code
    # Any window of that order, whichever parts (codes) it starts and ends in.
    for start in range(5):
        for stop in range(start, 6):
            window = page_quotes(user, project, start, stop, sort="code")
            assert window == by_code[start:stop], (start, stop)
    exported = selectors.passage_batches(
        user=user, filters=PassageFilter(project=project.pk, sort="code"), base_url="", size=3
    )
    assert [p.quote for batch in exported for p in batch] == by_code
    # A passage without a code comes last.
    coded["extradited"].tags.clear()
    assert page_quotes(user, project, 0, 10, sort="code") == [*by_code[1:], "extradited"]
    assert quotes(user, project, sort="-date")[0] == "выдаче"
    assert quotes(user, project, sort="date")[0] == "extradited"


@pytest.mark.django_db
def test_a_passage_carries_its_citation(coded, user, project, corpus):
    Document.objects.filter(pk=corpus["en"].pk).update(
        published=datetime.date(2011, 6, 1), date_precision="month", page_breaks=[60, 120]
    )
    (passage,) = selectors.passage_page(
        user=user,
        filters=PassageFilter(project=project.pk, q="vague"),
        start=0,
        stop=10,
        base_url="https://a.example",
    )
    assert passage.codes == ("Due process and fair trial",)
    assert passage.coder == "analyst" and passage.note == "Key."
    assert passage.citation.title == "English report"
    assert passage.citation.organisation == "HRW"
    assert passage.citation.published == "June 2011"
    assert passage.citation.page == 3
    assert passage.citation.url == (
        f"https://a.example/documents/{corpus['en'].pk}/#a{coded['vague'].pk}"
    )
    assert passage.before.endswith("The definition of extremism is ")


@pytest.mark.django_db
def test_passages_of_another_project_are_not_there(coded, project, django_user_model):
    other = Project.objects.create(name="Other")
    stranger = member(other, django_user_model.objects.create_user("stranger"))
    assert quotes(stranger, project) == []


# ---------------------------------------------------------------------------------------
# Pages


@pytest.mark.django_db
def test_the_search_page_codes_hits_and_undoes_it(client, corpus, user, project, tags):
    client.force_login(user)
    url = reverse("research:search", args=[project.pk])
    page = client.get(url, {"q": "extradition"})
    assert page.status_code == 200
    body = page.content.decode()
    assert '<mark class="found">extradited</mark>' in body
    assert f"#t{ENGLISH.index('extradited')}-" in body
    code = reverse("research:code_hits", args=[project.pk])
    form = {"q": "extradition", "code": tags["extradition"].pk, "scope": "sentence", "every": "on"}
    preview = client.post(code, form)
    assert preview.status_code == 200
    assert "Code 2 passages Extradition?" in preview.content.decode()
    assert not Annotation.objects.exists()
    done = client.post(code, {**form, "confirm": "on"})
    assert done.status_code == 302
    assert Annotation.objects.alive().count() == 2
    after = client.get(done["Location"]).content.decode()
    assert "2 passages coded Extradition" in after
    batch = CodingBatch.objects.get()
    client.post(reverse("research:batch_undo", args=[project.pk, batch.pk]))
    assert Annotation.objects.alive().count() == 0


@pytest.mark.django_db
def test_the_search_page_says_what_to_fix(client, corpus, user, project, tags):
    client.force_login(user)
    url = reverse("research:search", args=[project.pk])
    page = client.get(
        url, {"q": "-only", "published_after": "2020-01-01", "published_before": "2001-01-01"}
    )
    body = page.content.decode()
    assert page.status_code == 200
    assert "at least one word" in body and "must not come after" in body
    bad = client.post(
        reverse("research:code_hits", args=[project.pk]),
        {"q": "extradition", "code": tags["extradition"].pk, "scope": "match", "hit": "1:x:2"},
    )
    assert bad.status_code == 422
    assert "names no hit" in bad.content.decode()


@pytest.mark.django_db
def test_the_passages_page_lists_passages_with_citations(client, coded, user, project, tags):
    client.force_login(user)
    url = reverse("research:passages", args=[project.pk])
    page = client.get(url, {"code": tags["extradition"].pk})
    body = page.content.decode()
    assert page.status_code == 200
    assert body.count('class="passage"') == 3
    assert "English report" in body and "Open at the passage" in body
    bad = client.get(url, {"code": "999999", "coded_after": "tomorrow"})
    assert bad.status_code == 200 and 'class="errors"' in bad.content.decode()


@pytest.mark.django_db
def test_codebook_entries_link_to_their_passages(client, coded, user, project, tags):
    client.force_login(user)
    body = client.get(project.get_absolute_url()).content.decode()
    passages = reverse("research:passages", args=[project.pk])
    assert f"{passages}?code={tags['extradition'].pk}" in body


def _queries(client, url, params):
    # Texts read cold, as after a restart: one query for all of a page's documents.
    document_selectors._texts.clear()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params).status_code == 200
    return [q["sql"][:150] for q in queries]


@pytest.mark.django_db
def test_search_and_passage_pages_make_a_constant_number_of_queries(
    client, corpus, user, project, tags
):
    client.force_login(user)
    search = reverse("research:search", args=[project.pk])
    passages = reverse("research:passages", args=[project.pk])
    annotate(user, corpus["en"], "vague", tags=["due-process"])
    few_search = _queries(client, search, {"q": "extradition OR выдача"})
    few_passages = _queries(client, passages, {})
    for i in range(6):
        document = services.document_create(
            user=None,
            project=project,
            text=f"Report {i}: extradition and выдача.\n" + ENGLISH,
            metadata=services.DocumentMetadata(title=f"Report {i}"),
        )
        annotate(user, document, "extradited")
        annotate(user, document, "vague", tags=["due-process"])
    assert _queries(client, search, {"q": "extradition OR выдача"}) == few_search
    assert _queries(client, passages, {}) == few_passages


# ---------------------------------------------------------------------------------------
# API


@pytest.mark.django_db
def test_the_api_lists_passages_with_the_same_filters(client, coded, user, project, tags, bearer):
    headers = bearer(user)
    url = reverse("api:passage-list", args=[project.pk])
    answer = client.get(url, {"code": tags["extradition"].pk, "page_size": 2}, headers=headers)
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == 3
    assert [p["quote"] for p in body["results"]] == ["extradited", "judicial oversight"]
    assert body["results"][0]["citation"]["title"] == "English report"
    assert body["next"] and "page=2" in body["next"]
    bad = client.get(url, {"code": "x", "colour": "red"}, headers=headers)
    assert bad.status_code == 400
    assert set(bad.json()) == {"code", "colour"}
    other = Project.objects.create(name="Other")
    assert (
        client.get(reverse("api:passage-list", args=[other.pk]), headers=headers).status_code == 404
    )


@pytest.mark.django_db
def test_the_api_searches(client, corpus, user, project, bearer):
    headers = bearer(user)
    url = reverse("api:search", args=[project.pk])
    answer = client.get(url, {"q": "выдача"}, headers=headers).json()
    assert answer["documents"] == 1
    hits = answer["results"][0]["hits"]
    assert [hit["text"] for hit in hits] == ["Выдача", "выдаче", "выдачи"]
    assert RUSSIAN[hits[1]["start"] : hits[1]["end"]] == "выдаче"
    missing = client.get(url, {}, headers=headers)
    assert missing.status_code == 400 and "q" in missing.json()
    assert client.get(url, {"q": "-x"}, headers=headers).status_code == 400


@pytest.mark.django_db
def test_the_reindex_command_rebuilds_the_index(corpus, user, project):
    from io import StringIO

    from django.core.management import CommandError, call_command

    Chunk.objects.all().delete()
    assert found(run(user, project, "extradition")) == {}
    out = StringIO()
    call_command("reindex_search", stdout=out)
    assert "Indexed 2 documents" in out.getvalue()
    assert set(found(run(user, project, "extradition"))) == {"English report"}
    call_command("reindex_search", project=project.pk, stdout=out)
    assert set(found(run(user, project, "extradition"))) == {"English report"}
    with pytest.raises(CommandError, match="no project #999"):
        call_command("reindex_search", project=999)


@pytest.mark.django_db
def test_counts_stop_at_the_limit_and_exports_read_every_batch(
    client, coded, user, project, monkeypatch
):
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 2)
    client.force_login(user)
    counted = client.get(reverse("research:passages_count", args=[project.pk]), headers=HTMX)
    assert counted.content.decode().strip() == (
        '<span id="passage-count">More than 2 passages.</span>'
    )
    listed = PassageFilter(project=project.pk)
    batches = list(selectors.passage_batches(user=user, filters=listed, base_url="", size=3))
    assert [len(batch) for batch in batches] == [3, 1]
    everything = [p.quote for batch in batches for p in batch]
    assert everything == quotes(user, project)


@pytest.mark.django_db
def test_passage_pages_follow_each_other(client, coded, user, project, tags, bearer, monkeypatch):
    from research import views as research_views

    monkeypatch.setattr(research_views, "PASSAGES_PER_PAGE", 3)
    client.force_login(user)
    url = reverse("research:passages", args=[project.pk])
    first = client.get(url).content.decode()
    assert first.count('class="passage"') == 3 and '<a href="?&amp;page=2">Next</a>' in first
    # A page with a next one is shown before its passages are counted: the count follows
    # in a request of its own, which the page names (and links to, without JavaScript).
    count_url = reverse("research:passages_count", args=[project.pk])
    assert f'hx-get="{count_url}?"' in first and "4 passages" not in first
    counted = client.get(count_url, headers=HTMX).content.decode()
    assert counted.strip() == '<span id="passage-count">4 passages on 2 pages.</span>'
    without_script = client.get(count_url).content.decode()
    assert "4 passages on 2 pages." in without_script and "<html" in without_script
    # The last page counts them itself; a page past it leaves it to the count.
    second = client.get(url, {"page": 2}).content.decode()
    assert second.count('class="passage"') == 1 and "Previous" in second
    assert '<span id="passage-count">4 passages on 2 pages.</span>' in second
    assert "hx-get" in client.get(url, {"page": 3}).content.decode()
    # A first page without a next one holds them all: counted at once.
    one = client.get(url, {"code": tags["extradition"].pk}).content.decode()
    assert "passage-count" in one and "hx-get" not in one.split("passage-count")[1][:80]
    bad = client.get(count_url, {"published_after": "not a date"})
    assert bad.status_code == 400 and "Enter a valid date" in bad.content.decode()
    assert client.get(url, {"page": "x"}).status_code == 200
    api = reverse("api:passage-list", args=[project.pk])
    answer = client.get(api, {"page_size": 3, "page": 2}, headers=bearer(user)).json()
    assert answer["count"] == 4 and answer["count_exact"] and answer["next"] is None
    assert client.get(api, {"page": 9}, headers=bearer(user)).status_code == 404


@pytest.mark.django_db
def test_review_cases_answer_clearly(client, coded, user, project, tags, bearer):
    client.force_login(user)
    passages = reverse("research:passages", args=[project.pk])
    assert client.get(passages, {"page": "²"}).status_code == 200
    big = client.get(passages, {"document": "99999999999999999999"})
    assert big.status_code == 200 and 'class="errors"' in big.content.decode()
    api = reverse("api:passage-list", args=[project.pk])
    assert client.get(api, {"page": "²"}, headers=bearer(user)).status_code == 400
    # A whole word as a prefix finds its stems' words.
    text = "The treaty and the treaties."
    assert [text[s:e] for s, e in parse_query("treaty*").hits(text)] == ["treaty", "treaties"]


@pytest.mark.django_db
def test_a_preview_confirms_its_hits_in_one_field(client, corpus, user, project, tags):
    client.force_login(user)
    url = reverse("research:code_hits", args=[project.pk])
    hits = " ".join(f"{d}:{s}:{e}" for d, s, e in hits_of(user, project, "extradition"))
    done = client.post(
        url,
        {
            "q": "extradition",
            "code": tags["extradition"].pk,
            "scope": "match",
            "hits": hits,
            "confirm": "on",
        },
    )
    assert done.status_code == 302
    assert Annotation.objects.alive().count() == 2
    row = Activity.objects.get(action="codingbatch.create")
    assert "query" not in row.after  # site administrators read rows without a document


@pytest.mark.django_db
def test_the_report_of_all_of_two_codes_is_one_section(client, coded, user, project, tags):
    import docx

    client.force_login(user)
    url = reverse("research:passages_export", args=[project.pk, "docx"])
    answer = client.get(
        url,
        {"code": [tags["forced-return"].pk, tags["due-process"].pk], "mode": "all"},
    )
    report = docx.Document(io.BytesIO(b"".join(answer.streaming_content)))
    headings = [p.text for p in report.paragraphs if p.style.name.startswith("Heading 1")]
    assert headings == ["Forced return and Due process and fair trial"]
    assert "judicial oversight" in "\n".join(p.text for p in report.paragraphs)


@pytest.mark.parametrize(
    "text",
    [ENGLISH, RUSSIAN, "SCO上海合作x 𠀀𠀁 ئۇيغۇر ﹝x﹞ ｶﾀｶﾅ 👩🏽‍⚖️ " + "a" * 300, ""],
)
def test_the_index_stores_the_terms_that_hits_are_found_by(text):

    assert index_terms(text) == [token.term for token in tokens(text)]


def test_lexeme_parts_hold_every_term_once_within_postgresql_limits():
    terms = [f"term{i:06d}" for i in range(120_000)] + ["term000001"]
    parts = lexeme_parts(terms)
    assert len(parts) > 1
    assert all(len(part) <= LEXEMES_PER_ROW for part in parts)
    lexemes = [lexeme for part in parts for lexeme in part.split(" ")]
    assert len(lexemes) == len(set(lexemes)) == 120_000


def test_lexeme_rows_put_each_term_once_in_its_bucket(monkeypatch):
    monkeypatch.setattr(terms_module, "LEXEMES_PER_ROW", 2_000)
    terms = [f"term{i:05d}" for i in range(5_000)] + ["term00001", "выдач", "引渡", "ئۇيغۇر"]
    rows = lexeme_rows(terms)
    assert len({bucket for bucket, _, _ in rows}) == TERM_BUCKETS
    assert any(part > 0 for _, part, _ in rows)
    assert len({(bucket, part) for bucket, part, _ in rows}) == len(rows)
    held = [(bucket, lexeme.strip("'")) for bucket, _, value in rows for lexeme in value.split(" ")]
    assert sorted(term for _, term in held) == sorted(set(terms))
    assert all(bucket == term_bucket(term) for bucket, term in held)
    assert all(len(value) <= 2_000 for _, _, value in rows)


def test_a_terms_bucket_is_the_same_in_every_process():
    # Stored buckets must match the ones a later process computes: not hash(), which is
    # salted per process. These are crc32's, modulo 16.
    assert [term_bucket(term) for term in ["extradit", "выдач", "引渡"]] == [3, 1, 13]
    assert term_bucket("a" + chr(0xD800)) in range(TERM_BUCKETS)  # a lone surrogate


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions: PostgreSQL")
def test_the_documents_terms_have_a_partition_for_each_bucket():
    import importlib

    migration = importlib.import_module("research.migrations.0007_document_terms_buckets")
    assert migration.BUCKETS == TERM_BUCKETS
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'research_documentterms'::regclass"
        )
        assert cursor.fetchone() == (TERM_BUCKETS,)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text",
    [
        # Long lines without a place to cut: chunks end inside a word or a run of ideographs.
        "abc," * 748 + "extraditions,judicial\n",
        "条约" * 1500 + "引渡\n",
        ENGLISH,
    ],
)
def test_a_documents_terms_are_those_of_its_chunks(text, project):
    document = services.document_create(
        user=None, project=project, text=text, metadata=services.DocumentMetadata(title="T")
    )
    chunked = {
        term for chunk in chunk_spans(text) for term in index_terms(text[chunk[0] : chunk[1]])
    }
    # What migration research 0007 writes for a stored document.
    assert document_terms(text) == chunked
    if connection.vendor == "postgresql":
        rows = DocumentTerms.objects.filter(document=document).values_list("terms", flat=True)
        stored = {lexeme.strip("'") for value in rows for lexeme in value.split(" ")}
        assert stored == chunked


@pytest.mark.django_db
def test_words_find_the_same_documents_from_document_terms_as_from_chunks(
    corpus, project, monkeypatch
):
    # Many distinct terms, and a small limit on a row: each bucket of the document's
    # terms takes several rows on PostgreSQL.
    monkeypatch.setattr(terms_module, "LEXEMES_PER_ROW", 20_000)
    many = services.document_create(
        user=None,
        project=project,
        text=" ".join(f"w{i:06d}" for i in range(100_000)) + "\nzzzlast\n",
        metadata=services.DocumentMetadata(title="Many terms"),
    )
    # Two words next to each other whose terms are in different buckets, and two in
    # different parts of the same bucket.
    straddling = next(
        f'"w{i:06d} w{i + 1:06d}"'
        for i in range(1000)
        if term_bucket(f"w{i:06d}") != term_bucket(f"w{i + 1:06d}")
    )
    _, _, first_part = lexeme_rows(index_terms(many.text))[0]
    last = first_part.rsplit(" ", 1)[-1].strip("'")
    beyond = next(
        f"w{i:06d}"
        for i in range(int(last[1:]) + 1, 100_000)
        if term_bucket(f"w{i:06d}") == term_bucket(last)
    )
    queries = [
        "extradition",
        "выдача",
        "extradition OR выдача",
        "ban*",
        "法",
        "zzzlast",
        "w099999",
        '"judicial oversight"',
        '"judicial oversight" OR выдача',
        '"oversight judicial"',
        '"judicial oversight" OR "human rights" OR ban*',
        '"judicial overs*"',
        "引渡条约",
        straddling,
        f'"{last} {beyond}"',
        f"{last} {beyond}",
    ]
    for text in queries:
        for group in parse_query(text).groups:
            matching = Document.objects.filter(documents_matching(group))
            by_documents = set(matching.values_list("pk", flat=True))
            by_chunks = set(chunks_matching(group).values_list("document_id", flat=True))
            assert by_documents == by_chunks, text
    assert set(Document.objects.filter(documents_matching(parse_query(straddling).groups[0]))) == {
        many
    }
    for word in [last, beyond]:
        found = Document.objects.filter(documents_matching(parse_query(word).groups[0]))
        assert set(found) == {many}
    zzz = Document.objects.filter(documents_matching(parse_query("zzzlast").groups[0]))
    assert set(zzz) == {many}
    if connection.vendor == "postgresql":
        rows = DocumentTerms.objects.filter(document=many)
        assert rows.filter(part__gt=0).exists()
        assert rows.values("bucket").distinct().count() == TERM_BUCKETS


@pytest.mark.django_db
def test_words_folding_to_punctuation_find_the_documents_where_their_hits_are(project):
    # "⑴" folds to "(1)" and "ͺ" to " ι": terms holding ASCII punctuation or a space, which
    # SQLite's FTS5 would otherwise cut into other tokens ("1"), finding documents
    # without a hit.
    texts = {
        "numbered": "Article 5 ⑴ applies; see ㈠ and ͺa.\n",
        "plain": "Article 5(1) applies, 1 and 2; see (一) and a ι.\n",
        "other": "Nothing here.\n",
    }
    documents = {
        name: services.document_create(
            user=None, project=project, text=text, metadata=services.DocumentMetadata(title=name)
        )
        for name, text in texts.items()
    }
    for typed in ["⑴", "㈠", "ͺa", "⑴ OR nothing", '"5 ⑴"', "⑴*", "(1)", "1"]:
        query = parse_query(typed)
        with_hits = {document.pk for document in documents.values() if query.hits(document.text)}
        for group in query.groups:
            found = set(chunks_matching(group).values_list("document_id", flat=True))
            matching = set(
                Document.objects.filter(documents_matching(group)).values_list("pk", flat=True)
            )
            assert found == matching == with_hits, typed


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions: PostgreSQL")
def test_a_word_is_read_from_its_buckets_partition_alone(corpus):
    import re

    def partitions(text: str) -> set[int]:
        query = parse_query(text)
        documents = Document.objects.filter(documents_matching(query.groups[0]))
        plan = documents.values_list("pk", flat=True).explain()
        return {int(n) for n in re.findall(r"research_documentterms_(\d+)", plan)}

    assert partitions("extradition") == {term_bucket("extradit")}
    assert partitions("extradition OR выдача") == {term_bucket("extradit"), term_bucket("выдач")}
    assert partitions('"judicial oversight"') == {term_bucket("judici"), term_bucket("oversight")}
    # A prefix may end any term: every bucket.
    assert partitions("ban*") == set(range(TERM_BUCKETS))


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")
def test_a_phrase_search_is_planned_for_its_phrase_each_time(corpus, user, project):
    """The statement that finds the documents holding a phrase is never prepared (a generic
    plan reads every chunk holding the phrase); that of a search for words is."""
    from research.search import planned_each_time

    def prepared() -> int:
        with connection.cursor() as cursor:
            # The statements that find the matching documents (in the documents' terms).
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements"
                " WHERE statement LIKE '%research_documentterms%'"
            )
            return cursor.fetchone()[0]

    threshold = connection.connection.prepare_threshold
    assert threshold is not None  # settings prepare statements on their fifth run
    before = prepared()
    for _ in range(threshold + 3):
        page = run(user, project, '"judicial oversight"')
    assert found(page) == {"English report": ["judicial oversight"]}
    assert prepared() == before
    assert connection.connection.prepare_threshold == threshold
    with planned_each_time():
        assert connection.connection.prepare_threshold is None
    for _ in range(threshold + 3):
        run(user, project, "oversight")
    assert prepared() > before


@pytest.mark.django_db
def test_a_report_sorted_by_code_reads_each_section_once(client, coded, user, project):
    """A report's section holds one code's passages: sorted by code or by document, it reads
    them the same way (not once for every code of the codebook)."""
    client.force_login(user)
    url = reverse("research:passages_export", args=[project.pk, "md"])
    counts, bodies = [], []
    for sort in ("document", "code"):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"sort": sort})
            bodies.append(b"".join(response.streaming_content).decode())
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert bodies[0] == bodies[1] and "выдаче" in bodies[1]
