"""Comparing codes: the code × dimension matrix, co-occurrence, the timeline, their CSV and
SVG files, and the charts' readability without colour."""

from __future__ import annotations

import csv
import datetime
import io
import random
import re
from xml.etree import ElementTree

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from documents import services
from documents.models import Annotation, Attribute, Document
from projects.models import Project
from research import analysis, charts
from research.models import DocumentCodes
from research.selectors import PassageFilter
from tests.conftest import member
from tests.helpers import annotate

TEXT = (
    "Extradition of refugees without judicial oversight.\n"
    "The definition of extremism is vague and broad.\n"
    "Forced return of a journalist to China.\n"
)


@pytest.fixture
def coded(project, user, other_user, tags):
    def add(title, organisation, year):
        return services.document_create(
            user=None,
            project=project,
            text=f"{title}\n{TEXT}",
            metadata=services.DocumentMetadata(
                title=title,
                organisation=organisation,
                published=datetime.date(year, 1, 1),
                date_precision="year",
            ),
        )

    hrw, fidh, undated = add("HRW letter", "HRW", 2002), add("FIDH report", "FIDH", 2012), None
    undated = services.document_create(
        user=None,
        project=project,
        text="Undated\n" + TEXT,
        metadata=services.DocumentMetadata(title="Undated note", organisation="HRW"),
    )
    annotate(user, hrw, "Extradition of refugees", tags=["extradition"])
    # Overlaps the extradition passage: extradition × oversight-gap co-occur.
    annotate(other_user, hrw, "refugees without judicial oversight", tags=["oversight-gap"])
    annotate(user, hrw, "Forced return", tags=["forced-return", "targeting-of-minorities"])
    annotate(user, fidh, "Forced return of a journalist", tags=["forced-return"])
    annotate(user, fidh, "definition of extremism", tags=["definition-of-extremism"])
    annotate(user, undated, "Extradition", tags=["extradition"])
    return {"hrw": hrw, "fidh": fidh, "undated": undated}


def rows_of(found):
    return {row.tag.slug: row.cells for row in found.rows}


@pytest.mark.django_db
def test_the_matrix_counts_a_code_with_its_children(coded, user, project):
    found = analysis.code_matrix(
        user=user, filters=PassageFilter(project=project.pk), dimension="organisation"
    )
    assert [name for _, name in found.columns] == ["FIDH", "HRW"]
    rows = rows_of(found)
    # Extradition includes Forced return, its child.
    assert rows["extradition"] == [1, 3]
    assert rows["forced-return"] == [1, 1]
    assert rows["oversight-gap"] == [0, 1]
    assert rows["three-evils"] == [1, 0]  # through Definition of extremism
    assert found.totals == [2, 4]
    # Rows in tree order: a child right after its parent, one level deeper.
    order = [(row.tag.slug, row.depth) for row in found.rows]
    assert order.index(("forced-return", 1)) == order.index(("extradition", 0)) + 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("dimension", "labels"),
    [
        ("year", ["2002", "2012", "(none)"]),
        ("coder", ["analyst", "colleague"]),
        ("document", ["HRW letter", "FIDH report", "Undated note"]),
    ],
)
def test_the_matrix_by_other_dimensions(coded, user, project, dimension, labels):
    found = analysis.code_matrix(
        user=user, filters=PassageFilter(project=project.pk), dimension=dimension
    )
    assert [name for _, name in found.columns] == labels


@pytest.mark.django_db
def test_the_matrix_keeps_the_passage_filters(coded, user, project):
    found = analysis.code_matrix(
        user=user,
        filters=PassageFilter(project=project.pk, coders=("colleague",)),
        dimension="organisation",
    )
    assert [name for _, name in found.columns] == ["HRW"]
    assert rows_of(found)["oversight-gap"] == [1]
    assert rows_of(found)["extradition"] == [0]


@pytest.mark.django_db
def test_cooccurrence_counts_overlapping_and_shared_passages(coded, user, project, tags):
    found = analysis.cooccurrence(user=user, filters=PassageFilter(project=project.pk))
    counts = found.counts
    ext, gap = tags["extradition"].pk, tags["oversight-gap"].pk
    forced, minorities = tags["forced-return"].pk, tags["targeting-of-minorities"].pk
    assert counts[ext][gap] == counts[gap][ext] == 1  # two passages overlapping
    assert counts[forced][minorities] == 1  # one passage with both codes
    assert counts[forced][forced] == 2
    assert ext not in counts.get(forced, {}) or counts[forced][ext] == 0


@pytest.mark.django_db
def test_the_timeline_runs_year_by_year(coded, user, project):
    found = analysis.timeline(user=user, filters=PassageFilter(project=project.pk))
    assert found.years == list(range(2002, 2013))
    rows = rows_of(found)
    assert rows["extradition"][0] == 2 and rows["extradition"][-1] == 1
    assert sum(rows["extradition"]) == 3
    assert found.undated == 1


@pytest.mark.django_db
def test_nothing_of_another_project_is_counted(coded, project, django_user_model):
    other = Project.objects.create(name="Other")
    stranger = member(other, django_user_model.objects.create_user("stranger"))
    found = analysis.code_matrix(
        user=stranger, filters=PassageFilter(project=project.pk), dimension="organisation"
    )
    assert found.rows == [] and found.columns == []


# ---------------------------------------------------------------------------------------
# Pages and files


@pytest.mark.django_db
def test_matrix_cells_link_to_their_passages(client, coded, user, project, tags):
    client.force_login(user)
    page = client.get(reverse("research:matrix", args=[project.pk]), {"by": "organisation"})
    assert page.status_code == 200
    body = page.content.decode()
    passages = reverse("research:passages", args=[project.pk])
    link = f"{passages}?code={tags['extradition'].pk}&amp;organisation=HRW"
    assert link in body
    followed = client.get(passages, {"code": tags["extradition"].pk, "organisation": "HRW"})
    assert followed.content.decode().count('class="passage"') == 3


@pytest.mark.django_db
@pytest.mark.parametrize("columns", ["9" * 400, "-100", "1e3", "²", "99999999999999999999"])
def test_a_matrix_page_asked_for_columns_out_of_reach_shows_the_first(
    client, coded, user, project, columns
):
    client.force_login(user)
    url = reverse("research:matrix", args=[project.pk])
    page = client.get(url, {"by": "document", "columns": columns})
    assert page.status_code == 200
    # The first page of columns, each document's cells linking to its passages.
    body = page.content.decode()
    for document in coded.values():
        assert f"document={document.pk}" in body


@pytest.mark.django_db
def test_the_matrix_downloads_as_csv_and_svg(client, coded, user, project):
    client.force_login(user)
    url = reverse("research:matrix_export", args=[project.pk, "csv"])
    answer = client.get(url, {"by": "organisation"})
    assert answer["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == ["code", "FIDH", "HRW", "total"]
    assert ["Extradition", "1", "3", "4"] in rows
    assert rows[-1] == ["passages (each once)", "2", "4", "6"]
    svg = client.get(reverse("research:matrix_export", args=[project.pk, "svg"]))
    assert svg["Content-Type"] == "image/svg+xml"
    root = ElementTree.fromstring(svg.content)
    texts = [element.text for element in root.iter("{http://www.w3.org/2000/svg}text")]
    # Every count is written out: the chart reads without colour.
    assert "Extradition" in texts and "3" in texts


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["cooccurrence", "timeline"])
def test_cooccurrence_and_timeline_pages_and_files(client, coded, user, project, name):
    client.force_login(user)
    page = client.get(reverse(f"research:{name}", args=[project.pk]))
    assert page.status_code == 200
    for fmt in ("csv", "svg"):
        answer = client.get(reverse(f"research:{name}_export", args=[project.pk, fmt]))
        assert answer.status_code == 200
        if fmt == "svg":
            ElementTree.fromstring(answer.content)  # well-formed
    assert (
        client.get(reverse(f"research:{name}_export", args=[project.pk, "png"])).status_code == 404
    )


@pytest.mark.django_db
def test_bad_filters_and_dimensions_say_what_to_fix(client, coded, user, project):
    client.force_login(user)
    url = reverse("research:matrix", args=[project.pk])
    bad = client.get(url, {"published_after": "2020-01-01", "published_before": "2000-01-01"})
    assert bad.status_code == 400
    assert "must not come after" in bad.content.decode()
    assert client.get(url, {"by": "colour"}).status_code == 404


@pytest.mark.django_db
def test_analysis_pages_make_a_constant_number_of_queries(client, coded, user, project):
    client.force_login(user)

    def count(name, params):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse(name, args=[project.pk]), params).status_code == 200
        return len(queries)

    before = [
        count("research:matrix", {"by": "document"}),
        count("research:cooccurrence", {}),
        count("research:timeline", {}),
    ]
    for i in range(5):
        document = services.document_create(
            user=None,
            project=project,
            text=f"More {i}\n{TEXT}",
            metadata=services.DocumentMetadata(title=f"More {i}", organisation=f"Org {i}"),
        )
        annotate(user, document, "Forced return", tags=["forced-return", "oversight-gap"])
    after = [
        count("research:matrix", {"by": "document"}),
        count("research:cooccurrence", {}),
        count("research:timeline", {}),
    ]
    assert after == before


def test_shading_is_never_the_only_signal():
    svg = charts.grid_svg(
        title="T <&>", rows=[("Code & co", 0, [0, 5, 10])], columns=["a", "b", "c"], most=10
    )
    root = ElementTree.fromstring(svg)
    texts = [element.text for element in root.iter("{http://www.w3.org/2000/svg}text")]
    assert [t for t in texts if t in ("0", "5", "10")] == ["0", "5", "10"]
    assert "T <&>" in texts and "Code & co" in texts
    assert "style=" not in svg  # the pages' CSP allows no inline styles
    timeline = charts.timeline_svg(title="T", years=[2001, 2002], rows=[("A", 0, [3, 0])], most=3)
    assert "2001: 3" in timeline
    ElementTree.fromstring(timeline)


@pytest.mark.django_db
def test_documents_without_a_date_are_left_out_of_the_timeline_only(coded, user, project):
    Document.objects.update(published=None, date_precision="")
    found = analysis.timeline(user=user, filters=PassageFilter(project=project.pk))
    assert found.years == [] and found.undated == 6


@pytest.mark.django_db
def test_a_kept_analysis_is_never_stale(client, coded, user, project, tags):
    client.force_login(user)
    url = reverse("research:matrix_export", args=[project.pk, "csv"])

    def extradition():
        rows = csv.reader(io.StringIO(client.get(url).content.decode("utf-8-sig")))
        return next(row for row in rows if row[0] == "Extradition")

    with CaptureQueriesContext(connection) as computed:
        first = extradition()
    with CaptureQueriesContext(connection) as kept:
        assert extradition() == first
    # Kept: the page's own reads and the version, not the counts.
    assert len(kept) < len(computed)
    annotate(user, coded["fidh"], "China", tags=["extradition"])
    assert extradition() != first


@pytest.mark.django_db
def test_the_matrix_by_a_document_attribute(client, coded, user, staff_user, project, tags):
    services.attribute_create(
        user=staff_user, project=project, name="Issuer", kind="choice", choices=["NGO", "State"]
    )
    services.attribute_create(user=staff_user, project=project, name="Adopted", kind="date")
    services.attribute_values_set(
        user=staff_user, document=coded["hrw"], values={"issuer": "NGO", "adopted": "2001-06-15"}
    )
    services.attribute_values_set(
        user=staff_user, document=coded["fidh"], values={"issuer": "NGO", "adopted": "2003-01-01"}
    )
    found = analysis.code_matrix(
        user=user, filters=PassageFilter(project=project.pk), dimension="attr.issuer"
    )
    assert [name for _, name in found.columns] == ["NGO", "(none)"]
    assert rows_of(found)["extradition"] == [3, 1]
    by_year = analysis.code_matrix(
        user=user, filters=PassageFilter(project=project.pk), dimension="attr.adopted"
    )
    assert [name for _, name in by_year.columns] == ["2001", "2003", "(none)"]
    client.force_login(user)
    page = client.get(reverse("research:matrix", args=[project.pk]), {"by": "attr.adopted"})
    assert page.status_code == 200
    passages = reverse("research:passages", args=[project.pk])
    link = (
        f"{passages}?code={tags['extradition'].pk}"
        "&amp;attr.adopted.min=2001-01-01&amp;attr.adopted.max=2001-12-31"
    )
    assert link in page.content.decode()
    followed = client.get(
        passages,
        {
            "code": tags["extradition"].pk,
            "attr.adopted.min": "2001-01-01",
            "attr.adopted.max": "2001-12-31",
        },
    )
    assert followed.content.decode().count('class="passage"') == rows_of(by_year)["extradition"][0]
    assert (
        client.get(
            reverse("research:matrix", args=[project.pk]), {"by": "attr.nothing"}
        ).status_code
        == 404
    )


@pytest.mark.django_db
def test_a_cell_link_replaces_the_filter_on_its_own_field(client, coded, user, project, tags):
    from accounts.models import AccessEvent

    client.force_login(user)
    page = client.get(
        reverse("research:matrix", args=[project.pk]),
        {"by": "coder", "coder": ["analyst", "colleague"]},
    ).content.decode()
    passages = reverse("research:passages", args=[project.pk])
    assert f'{passages}?code={tags["oversight-gap"].pk}&amp;coder=colleague"' in page
    # No cell links to both coders' passages (the tabs keep the page's filters).
    assert not re.search(r"code=\d+&amp;coder=analyst&amp;coder=colleague", page)
    client.get(reverse("research:matrix_export", args=[project.pk, "csv"]))
    assert AccessEvent.objects.filter(kind="export", project_id=project.pk).exists()


# ---------------------------------------------------------------------------------------
# The documents' summaries count as the passages do


@pytest.fixture
def random_corpus(project, user, other_user, tags):
    """Six documents with random overlapping passages of three coders, with one code
    or several (a parent with its child among them), some deleted."""
    rng = random.Random(7)
    slugs = sorted(tags)
    coders = [user, other_user, member(project, User.objects.create_user("third"))]
    documents = []
    for i in range(6):
        text = "".join(f"Line {n} of report {i} on extradition and oversight.\n" for n in range(30))
        documents.append(
            services.document_create(
                user=None,
                project=project,
                text=text,
                metadata=services.DocumentMetadata(
                    title=f"Report {i}",
                    organisation=["HRW", "FIDH", ""][i % 3],
                    language=["en", "ru"][i % 2],
                    published=datetime.date(2000 + i % 4, 1, 1) if i != 5 else None,
                    date_precision="year" if i != 5 else "",
                ),
            )
        )
    for document in documents:
        for _ in range(25):
            start = rng.randrange(0, len(document.text) - 200)
            end = start + rng.randrange(1, 200)
            chosen = rng.sample(slugs, rng.choice([1, 1, 2, 3]))
            if rng.random() < 0.15:
                chosen = ["extradition", "forced-return"]  # a parent and its child
            made = services.annotation_create(
                user=rng.choice(coders), document=document, start=start, end=end, tags=chosen
            )
            if rng.random() < 0.1:
                services.annotation_delete(user=made.author, annotation=made)
    return documents


def _cells(found):
    return (found.columns, [(row.tag.pk, row.cells, row.total) for row in found.rows], found.totals)


def _compare(user, filters):
    attributes = [f"attr.{slug}" for slug in ("issuer", "adopted", "pages")]
    present = set(Attribute.objects.values_list("slug", flat=True))
    attributes = [a for a in attributes if a[5:] in present]
    everything = slice(None)
    assert analysis._counts_current(user, filters)  # no worker: made here, however many
    for dimension in [*analysis.DIMENSIONS, *attributes]:
        summed = analysis._summed_matrix(user, filters, dimension, everything)
        live = analysis._live_matrix(user, filters, dimension, everything)
        assert _cells(summed) == _cells(live), dimension
        # A window of the columns holds those of the whole matrix, with the rows' totals
        # over all of them (a matrix by document sums the window's documents only).
        for window in (slice(0, 2), slice(2, 4), slice(4, 6), slice(50, 52)):
            part = analysis._summed_matrix(user, filters, dimension, window)
            assert part.columns == summed.columns[window], (dimension, window)
            assert part.totals == summed.totals[window]
            assert [(row.cells, row.total) for row in part.rows] == [
                (row.cells[window], row.total) for row in summed.rows
            ]
            assert part.column_count == len(summed.columns)
            assert part.first == (window.start if part.columns else 0)
            live_part = analysis._live_matrix(user, filters, dimension, window)
            assert _cells(live_part) == _cells(part), (dimension, window)
    if not filters.coders:  # pairs are kept for all coders together
        assert analysis._summed_pairs(user, filters) == analysis._live_pairs(user, filters)


@pytest.mark.django_db
def test_summed_comparisons_equal_the_passages_counted(
    random_corpus, user, other_user, staff_user, project
):
    services.attribute_create(
        user=staff_user, project=project, name="Issuer", kind="choice", choices=["NGO", "State"]
    )
    services.attribute_create(user=staff_user, project=project, name="Adopted", kind="date")
    services.attribute_create(user=staff_user, project=project, name="Pages", kind="number")
    for i, document in enumerate(random_corpus[:4]):
        services.attribute_values_set(
            user=staff_user,
            document=document,
            values={"issuer": ["NGO", "State"][i % 2], "adopted": f"200{i}-03-01", "pages": i},
        )
    _compare(user, PassageFilter(project=project.pk))
    _compare(user, PassageFilter(project=project.pk, organisation="HRW"))
    _compare(user, PassageFilter(project=project.pk, language="ru", coders=("colleague",)))
    _compare(
        user,
        PassageFilter(
            project=project.pk,
            published_after=datetime.date(2001, 1, 1),
            published_before=datetime.date(2002, 12, 31),
            document=random_corpus[1].pk,
        ),
    )


@pytest.mark.django_db
def test_summaries_follow_writes_and_the_codebook(random_corpus, user, project, tags):
    filters = PassageFilter(project=project.pk)
    _compare(user, filters)
    kept = dict(DocumentCodes.objects.values_list("document_id", "annotations_version"))
    assert len(kept) == 6
    # A write to one document: only its summary is made again.
    annotate(user, random_corpus[2], "Line 3 of", tags=["oversight-gap", "extradition"])
    with CaptureQueriesContext(connection) as queries:
        analysis.code_matrix(user=user, filters=filters, dimension="document")
    # Its counts deleted and written again, and its versions: one statement each.
    inserts = [q["sql"] for q in queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 3
    changed = dict(DocumentCodes.objects.values_list("document_id", "annotations_version"))
    assert [pk for pk in kept if kept[pk] != changed[pk]] == [random_corpus[2].pk]
    _compare(user, filters)
    # A deleted passage leaves the counts.
    victim = Annotation.objects.filter(document=random_corpus[0], deleted_at__isnull=True).first()
    services.annotation_delete(user=victim.author, annotation=victim)
    _compare(user, filters)
    # A renamed code keeps every summary; a code moved under another changes its new
    # parents' counts: all are made again.
    before = dict(DocumentCodes.objects.values_list("document_id", "tree_token"))
    renamed = tags["definition-of-extremism"]
    renamed.name = "Extremism, defined"
    services.tag_save(user=None, tag=renamed)
    analysis.code_matrix(user=user, filters=filters, dimension="document")
    assert dict(DocumentCodes.objects.values_list("document_id", "tree_token")) == before
    oversight = tags["oversight-gap"]
    oversight.parent = tags["extradition"]
    services.tag_save(user=None, tag=oversight)
    _compare(user, filters)


@pytest.mark.django_db
def test_a_kept_comparison_reads_three_queries(random_corpus, user, project):
    filters = PassageFilter(project=project.pk)
    analysis.code_matrix(user=user, filters=filters, dimension="organisation")
    with CaptureQueriesContext(connection) as queries:
        analysis.code_matrix(user=user, filters=filters, dimension="organisation")
    # The codebook, the documents' versions, the codes' tree, the versions kept, the sums.
    assert len(queries) == 5


@pytest.mark.django_db
def test_a_wide_matrix_page_shows_its_columns_a_page_at_a_time(
    monkeypatch, client, coded, user, project
):
    monkeypatch.setattr("research.analysis_views.COLUMNS_SHOWN", 2)
    client.force_login(user)
    url = reverse("research:matrix", args=[project.pk])
    first = client.get(url, {"by": "document"}).content.decode()
    assert "Document 1–2 of 3" in first
    assert "FIDH report" in first and "Undated note" not in first
    assert "columns=2" in first and "Previous columns" not in first
    second = client.get(url, {"by": "document", "columns": "2"}).content.decode()
    assert "Document 3–3 of 3" in second and "Undated note" in second
    assert "HRW letter" not in second and "Previous columns" in second
    # Anything else is the first page; the download holds every column.
    assert (
        "Document 1–2 of 3" in client.get(url, {"by": "document", "columns": "x"}).content.decode()
    )
    rows = client.get(
        reverse("research:matrix_export", args=[project.pk, "csv"]), {"by": "document"}
    )
    assert rows.content.decode("utf-8-sig").splitlines()[0].count(",") == 4


# Counts out of date on many documents at once (a change to the codebook's tree)


@pytest.fixture
def worker_queue(settings):
    """A server's settings: background work is queued in the database for the worker."""
    settings.BACKGROUND_TASKS = True
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.mark.django_db(transaction=True)
def test_many_stale_counts_are_made_by_the_worker_not_the_page(
    worker_queue, monkeypatch, coded, user, project
):
    """More documents to count again than a page should wait for: the comparison is
    counted from the passages, the recount queued once for the worker; once it has run,
    comparisons read the kept counts again, with the same figures."""
    from django_tasks_db.models import DBTaskResult

    from research.tasks import recount

    monkeypatch.setattr(analysis, "RECOUNT_NOW", 1)
    live = analysis._live_matrix
    calls = []

    def counting_live(*args, **kwargs):
        calls.append(args)
        return live(*args, **kwargs)

    monkeypatch.setattr(analysis, "_live_matrix", counting_live)
    filters = PassageFilter(project=project.pk)

    first = analysis.code_matrix(user=user, filters=filters, dimension="organisation")
    pairs = analysis.cooccurrence(user=user, filters=filters)
    assert len(calls) == 1
    assert not DocumentCodes.objects.exists()
    queued = DBTaskResult.objects.filter(task_path="research.tasks.recount")
    assert queued.count() == 1  # the second comparison did not queue another

    assert recount.call(project.pk) == 3
    assert DocumentCodes.objects.count() == 3
    again = analysis.code_matrix(user=user, filters=filters, dimension="organisation")
    assert len(calls) == 1  # from the kept counts
    assert rows_of(again) == rows_of(first)
    assert again.totals == first.totals
    assert analysis.cooccurrence(user=user, filters=filters).counts == pairs.counts


@pytest.mark.django_db
def test_without_a_worker_the_page_makes_the_counts_itself(monkeypatch, coded, user, project):
    monkeypatch.setattr(analysis, "RECOUNT_NOW", 1)
    found = analysis.code_matrix(
        user=user, filters=PassageFilter(project=project.pk), dimension="organisation"
    )
    assert DocumentCodes.objects.count() == 3
    assert rows_of(found)["extradition"] == [1, 3]  # FIDH, HRW: its child counted too
