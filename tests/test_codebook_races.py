"""Codebook changes that meet other changes: a page opened before someone else's change, a
merge while a passage is being saved, two owners adding the same code at once."""

from __future__ import annotations

import re
import threading
from html.parser import HTMLParser
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.urls import reverse

from documents import services
from documents.cleanup import applied_rows
from documents.models import Activity, Annotation, Document, Tag
from documents.services.codebook import tag_merge, tag_save
from projects import services as project_services
from projects.models import Role

from .conftest import member

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(django_user_model, project):
    return member(
        project,
        django_user_model.objects.create_user(username="owner", password="owner-pass-1"),
        Role.OWNER,
    )


class _CodeForm(HTMLParser):
    """The fields of the code page's change form (the form holding the code's name) as a
    browser would post it back: inputs, ticked checkboxes, textareas, chosen options."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str]] = []
        self.textarea: str | None = None
        self.select: str | None = None

    def handle_starttag(self, tag, attrs) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({})
        elif not self.forms:
            return
        elif tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
            if a.get("type") != "checkbox" or "checked" in a:
                self.forms[-1][a["name"]] = a.get("value") or (
                    "on" if a.get("type") == "checkbox" else ""
                )
        elif tag == "textarea":
            self.textarea = a["name"]
            self.forms[-1][self.textarea] = ""
        elif tag == "select":
            self.select = a["name"]
            self.forms[-1].setdefault(self.select, "")
        elif tag == "option" and self.select and "selected" in a:
            self.forms[-1][self.select] = a.get("value", "")

    def handle_endtag(self, tag) -> None:
        if tag == "textarea":
            self.textarea = None
        elif tag == "select":
            self.select = None

    def handle_data(self, data) -> None:
        if self.textarea:
            # The first newline after <textarea> is not part of the value.
            text = self.forms[-1][self.textarea] + data
            self.forms[-1][self.textarea] = text.removeprefix("\n")


def _page_form(html: str) -> dict[str, str]:
    parser = _CodeForm()
    parser.feed(html)
    (found,) = [form for form in parser.forms if "name" in form and "seen" in form]
    found.pop("csrfmiddlewaretoken", None)
    return found


def _edit_form(client, project, tag) -> dict[str, str]:
    """The code page's change form as the browser would send it back unchanged."""
    page = client.get(reverse("projects:code_edit", args=[project.pk, tag.pk])).content.decode()
    form = _page_form(page)
    assert form["seen"], "the change form carries when the code was last changed"
    assert form["initial-name"] == tag.name, "and each field as the page showed it"
    return form


def _opened_then_changed_by_a_colleague(client, project, owner, tag):
    """The code's page opened by `owner`, then its definition changed by someone else: the
    page's form, unchanged, and where it is sent."""
    client.force_login(owner)
    form = _edit_form(client, project, tag)
    project_services.code_save(
        user=owner, project=project, values={"definition": "Changed by a colleague."}, pk=tag.pk
    )
    return form, reverse("projects:code_edit", args=[project.pk, tag.pk])


def test_a_change_made_meanwhile_is_not_overwritten_unseen(client, project, owner, tags):
    tag = tags["extradition"]
    form, url = _opened_then_changed_by_a_colleague(client, project, owner, tag)
    response = client.post(url, {**form, "name": "Extradition (mine)"})
    assert response.status_code == 422
    page = response.content.decode()
    assert "was changed by someone else since this page was opened" in page
    tag.refresh_from_db()
    assert (tag.name, tag.definition) == ("Extradition", "Changed by a colleague.")
    # The form comes back with what was typed, over the code as it is now: a second save
    # makes the change knowingly.
    assert 'value="Extradition (mine)"' in page
    seen = re.search(r'name="seen" value="([^"]+)"', page).group(1)
    assert seen == tag.updated.isoformat()
    response = client.post(url, {**form, "name": "Extradition (mine)", "seen": seen})
    assert response.status_code == 302
    tag.refresh_from_db()
    assert tag.name == "Extradition (mine)"


def test_saving_again_after_a_colleagues_change_keeps_it(client, project, owner, tags):
    """The owner renamed the code while a colleague re-defined it: refused, the page comes
    back with the colleague's definition and the owner's name; saved again, both stay."""
    tag = tags["extradition"]
    form, url = _opened_then_changed_by_a_colleague(client, project, owner, tag)
    refused = client.post(url, {**form, "name": "Extradition (mine)"})
    assert refused.status_code == 422
    again = _page_form(refused.content.decode())
    assert again["name"] == "Extradition (mine)"
    assert again["definition"] == "Changed by a colleague."
    assert client.post(url, again).status_code == 302
    tag.refresh_from_db()
    assert (tag.name, tag.definition) == ("Extradition (mine)", "Changed by a colleague.")


def test_only_the_fields_changed_on_the_page_are_written(client, project, owner, tags):
    """A field left as the page showed it is not written: a colleague's change to it made
    since the page's last save stays (here, written without moving `updated`, as a
    migration or a command might)."""
    tag = tags["extradition"]
    client.force_login(owner)
    form = _edit_form(client, project, tag)
    Tag.objects.filter(pk=tag.pk).update(inclusion="Set elsewhere.")
    url = reverse("projects:code_edit", args=[project.pk, tag.pk])
    taken = set(Tag.objects.filter(project=project).values_list("shortcut", flat=True))
    free = next(key for key in "qjkzxvwy" if key not in taken)
    assert client.post(url, {**form, "shortcut": free}).status_code == 302
    tag.refresh_from_db()
    assert (tag.shortcut, tag.inclusion) == (free, "Set elsewhere.")


def test_a_save_with_nothing_changed_writes_nothing(client, project, owner, tags):
    """Nothing is written, so that other pages open on the code do not see it changed."""
    tag = tags["extradition"]
    client.force_login(owner)
    form = _edit_form(client, project, tag)
    url = reverse("projects:code_edit", args=[project.pk, tag.pk])
    response = client.post(url, form, follow=True)
    assert "Nothing was changed in Extradition." in response.content.decode()
    assert Tag.objects.get(pk=tag.pk).updated == tag.updated
    assert not Activity.objects.filter(action="tag.update", object_id=tag.pk).exists()


def test_a_refused_form_still_meets_a_change_made_meanwhile(client, project, owner, tags):
    """A save refused for what was typed (an empty name) keeps the time the page was
    opened: fixed and sent again, it still does not overwrite a colleague's change."""
    tag = tags["extradition"]
    form, url = _opened_then_changed_by_a_colleague(client, project, owner, tag)
    response = client.post(url, {**form, "name": ""})
    assert response.status_code == 422
    page = response.content.decode()
    assert re.search(r'name="seen" value="([^"]+)"', page).group(1) == form["seen"]
    response = client.post(url, {**form, "name": "Extradition (mine)"})
    assert response.status_code == 422
    assert "was changed by someone else" in response.content.decode()
    tag.refresh_from_db()
    assert (tag.name, tag.definition) == ("Extradition", "Changed by a colleague.")


def test_a_page_opened_before_a_merge_cannot_undo_it(client, project, owner, tags, annotation):
    merged, into = tags["extradition"], tags["oversight-gap"]
    client.force_login(owner)
    form = _edit_form(client, project, merged)
    tag_merge(user=owner, tag=merged, into=into)
    url = reverse("projects:code_edit", args=[project.pk, merged.pk])
    # Renamed on a page where "Active" is still ticked, as it showed the code.
    response = client.post(url, {**form, "name": "Extradition (renamed)"})
    assert response.status_code == 422
    merged.refresh_from_db()
    assert not merged.is_active and merged.merged_into_id == into.pk
    # The page came back on the code as it is now: retired. Ticking "Active" there, an
    # edit still does not bring a merged code back: Restore does.
    again = _page_form(response.content.decode())
    assert "is_active" not in again
    response = client.post(url, {**again, "is_active": "on"})
    assert response.status_code == 422
    assert "Restore" in response.content.decode()
    merged.refresh_from_db()
    assert not merged.is_active and merged.merged_into_id == into.pk


def test_a_child_moved_by_a_merge_is_not_put_back_by_an_old_page(client, project, owner, tags):
    parent, into = tags["extradition"], tags["oversight-gap"]
    child = Tag.objects.create(project=project, name="Surrender", slug="surrender", parent=parent)
    client.force_login(owner)
    form = _edit_form(client, project, child)
    tag_merge(user=owner, tag=parent, into=into)
    url = reverse("projects:code_edit", args=[project.pk, child.pk])
    # Nothing changed on the page: nothing written.
    assert client.post(url, form).status_code == 302
    child.refresh_from_db()
    assert child.parent_id == into.pk
    # Re-defined on a page that still shows it under the merged code: refused.
    response = client.post(url, {**form, "definition": "Handing over."})
    assert response.status_code == 422
    child.refresh_from_db()
    assert (child.parent_id, child.definition) == (into.pk, "")


def test_an_api_change_sets_only_what_it_sends(client, project, owner, tags, bearer):
    tag = tags["extradition"]
    tag_merge(user=owner, tag=tag, into=tags["oversight-gap"])
    response = client.patch(
        f"/api/v1/tags/{tag.slug}/?project={project.pk}",
        {"definition": "Handing over a person."},
        content_type="application/json",
        headers=bearer(owner),
    )
    assert response.status_code == 200, response.content
    tag.refresh_from_db()
    assert tag.definition == "Handing over a person."
    assert not tag.is_active and tag.merged_into_id is not None


def test_the_same_code_added_twice_at_once_is_refused_clearly(project, owner, tags):
    """Both owners' checks pass before either writes; the second write's unique index
    refuses it, and the refusal names the field as the check would have."""
    first = Tag(project=project, name="Asylum", slug="asylum")
    tag_save(user=owner, tag=first)
    second = Tag(project=project, name="Asylum", slug="asylum")
    real = Tag.full_clean
    calls = []

    def check_before_the_other_wrote(self, *args, **kwargs):
        calls.append(self)
        if len(calls) == 1:
            return None
        return real(self, *args, **kwargs)

    with (
        mock.patch.object(Tag, "full_clean", check_before_the_other_wrote),
        pytest.raises(ValidationError) as refused,
    ):
        tag_save(user=owner, tag=second)
    assert "has this slug" in " ".join(refused.value.messages)
    assert Tag.objects.filter(project=project, slug="asylum").count() == 1
    assert not Activity.objects.filter(action="tag.create", object_id=None).exists()


@pytest.mark.parametrize(
    "entry",
    [
        {"kind": "boilerplate", "paragraph": "three", "paragraphs": 1.5},
        {"kind": "boilerplate", "paragraph": -4, "paragraphs": None},
        {"kind": "boilerplate", "paragraph": True, "paragraphs": [2]},
        {"kind": "boilerplate", "paragraph": "²", "paragraphs": 0},
        {"kind": "boilerplate", "paragraph": "9" * 5000, "paragraphs": "0"},
        {"kind": "boilerplate", "paragraph": "١٢", "paragraphs": -1},
    ],
)
def test_a_hand_edited_report_reads_without_failing(entry):
    rows, _ = applied_rows({"cleanup": {"applied": [entry]}})
    assert (rows[0].paragraph, rows[0].paragraphs) == (0, 1)


def test_paragraph_numbers_written_as_text_still_read():
    rows, _ = applied_rows({"cleanup": {"applied": [{"paragraph": "12", "paragraphs": "2"}]}})
    assert (rows[0].paragraph, rows[0].paragraphs) == (12, 2)


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite runs one writing transaction at a time: there is no meanwhile",
)


def _waiters() -> int:
    """How many connections to the test database wait for a row lock now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _until_waiting(count: int = 1) -> None:
    """Return once `count` connections wait for a lock (the writer under test has reached
    the row it needs), however loaded the machine; fail after 20 seconds."""
    for _ in range(400):
        if _waiters() >= count:
            return
        threading.Event().wait(0.05)
    raise AssertionError("the writer never came to wait for the lock")


def _free(model, pk: int) -> bool:
    """Whether a third connection can lock row `pk` of `model` at once."""
    from django.db import DatabaseError

    result: list[bool] = []

    def look() -> None:
        try:
            with transaction.atomic():
                rows = model.objects.filter(pk=pk).select_related(None)
                list(rows.select_for_update(nowait=True, of=("self",)).values_list("pk"))
            result.append(True)
        except DatabaseError:
            result.append(False)
        finally:
            connection.close()

    third = threading.Thread(target=look)
    third.start()
    third.join(10)
    return result[0]


class Run(threading.Thread):
    """A service call in its own connection, keeping what it returned or raised."""

    def __init__(self, call) -> None:
        super().__init__()
        self.call = call
        self.result = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.call()
        except BaseException as exc:  # noqa: BLE001 - kept for the test to look at
            self.error = exc
        finally:
            connection.close()

    def outcome(self):
        self.join(30)
        assert not self.is_alive(), "the call never ended"
        return self.result, self.error


class Paused:
    """Patch `target` (a "module.name" function) so that its first call runs and then
    waits, in the middle of its caller's transaction, until `go` is set."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.reached, self.go = threading.Event(), threading.Event()

    def __enter__(self) -> Paused:
        module, name = self.target.rsplit(".", 1)
        real = getattr(__import__(module, fromlist=[name]), name)

        def pause(*args, **kwargs):
            result = real(*args, **kwargs)
            if not self.reached.is_set():
                self.reached.set()
                assert self.go.wait(30)
            return result

        self.patch = mock.patch(self.target, pause)
        self.patch.start()
        return self

    def __exit__(self, *exc) -> None:
        self.go.set()
        self.patch.stop()


def _during_a_merge(owner, tag: Tag, document_id: int, write) -> None:
    """Merge `tag` (a real tag_merge) and, while the merge holds the codes, run `write`:
    the writer must come to wait for the code without holding the document (codes come
    first in every writer's lock order), then be refused, the code being retired."""
    # A top-level code: never below the merged one.
    into = Tag.objects.filter(project_id=tag.project_id, parent=None).exclude(pk=tag.pk).first()
    with Paused("documents.services.codebook._check_merge") as paused:
        merge = Run(lambda: tag_merge(user=owner, tag=tag, into=into))
        merge.start()
        assert paused.reached.wait(20), merge.outcome()
        writer = Run(write)
        writer.start()
        _until_waiting()
        document_was_free = _free(Document, document_id)
        paused.go.set()
        assert merge.outcome()[1] is None
        _, refused = writer.outcome()
    assert document_was_free
    assert isinstance(refused, ValidationError), refused
    assert "retired" in " ".join(refused.messages).lower()


@postgresql_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("given_as", ["slug", "object"])
def test_a_passage_saved_during_a_merge_does_not_keep_the_merged_code(
    given_as, project, user, owner, tags, document
):
    """The create reaches the code while a merge holds it and waits; it then reads the
    code retired and is refused rather than leaving a passage on it. A slug takes the
    create's PostgreSQL statements (documents/postgresql.py), a Tag object the ORM's."""
    tag = tags["extradition"]
    _during_a_merge(
        owner,
        tag,
        document.pk,
        lambda: services.annotation_create(
            user=user,
            document=document,
            start=0,
            end=5,
            tags=[tag.slug if given_as == "slug" else tag],
        ),
    )
    assert not Annotation.objects.filter(document=document).exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_passage_given_a_code_during_a_merge_is_refused(project, user, owner, tags, annotation):
    tag = tags["oversight-gap"]
    _during_a_merge(
        owner,
        tag,
        annotation.document_id,
        lambda: services.annotation_update(
            user=user, annotation=annotation, tags=[tag], start=annotation.start + 1
        ),
    )
    assert list(annotation.tags.values_list("slug", flat=True)) == ["extradition"]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_search_hits_coded_during_a_merge_are_refused(project, user, owner, tags, document):
    from research.services import code_hits

    tag = tags["oversight-gap"]
    _during_a_merge(
        owner,
        tag,
        document.pk,
        lambda: code_hits(
            user=user,
            project=project.pk,
            tag=tag,
            hits=[(document.pk, 0, 5)],
            scope="match",
            query="x",
        ),
    )
    assert not Annotation.objects.filter(document=document).exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_code_changed_while_a_child_is_added_under_it(project, owner, tags):
    """The change holds the code; the new child, checked against its parent at commit,
    would wait for it while holding the codebook's shared row that the change then needs.
    Codebook changes take that row first, one after the other: both are saved."""
    parent = tags["extradition"]
    with Paused("documents.services.codebook._check_links") as paused:
        edit = Run(
            lambda: project_services.code_save(
                user=owner, project=project, values={"name": "Extradition, surrender"}, pk=parent.pk
            )
        )
        edit.start()
        assert paused.reached.wait(20)
        child = Run(
            lambda: project_services.code_save(
                user=owner, project=project, values={"name": "Surrender", "parent": parent.pk}
            )
        )
        child.start()
        _until_waiting()
        paused.go.set()
        assert edit.outcome()[1] is None
        assert child.outcome()[1] is None
    parent.refresh_from_db()
    assert parent.name == "Extradition, surrender"
    assert Tag.objects.get(project=project, slug="surrender").parent_id == parent.pk


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_passage_deleted_during_a_merge_waits_for_its_document_first(
    project, user, owner, tags, annotation
):
    """The merge holds the passage's document and is about to change the passage; the
    delete waits for the document without holding the passage (documents before passages
    in every writer), then finds the passage changed by the merge and says so."""
    from documents.services.annotations import StaleAnnotation

    with Paused("documents.services.codebook.documents_list_changed") as paused:
        merge = Run(
            lambda: tag_merge(user=owner, tag=tags["extradition"], into=tags["oversight-gap"])
        )
        merge.start()
        assert paused.reached.wait(20)
        delete = Run(lambda: services.annotation_delete(user=user, annotation=annotation))
        delete.start()
        _until_waiting()
        passage_was_free = _free(Annotation, annotation.pk)
        paused.go.set()
        assert merge.outcome()[1] is None
        _, error = delete.outcome()
    assert passage_was_free
    assert isinstance(error, StaleAnnotation), error
    annotation.refresh_from_db()
    assert annotation.deleted_at is None
    assert list(annotation.tags.values_list("slug", flat=True)) == ["oversight-gap"]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_writers_of_one_code_do_not_wait_for_each_other(project, user, tags, document):
    """Holding a code for a passage (hold_codes) keeps a merge out, not another passage."""
    from documents.services.codebook import hold_codes

    tag = tags["oversight-gap"]
    holding, done = threading.Event(), threading.Event()

    def first_writer() -> None:
        with transaction.atomic():
            hold_codes([tag], document.pk)
            holding.set()
            assert done.wait(30)

    first = Run(first_writer)
    first.start()
    try:
        assert holding.wait(20)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '5s'")
            hold_codes([tag.slug], document.pk)  # at once, not after the first one
        assert not _free(Tag, tag.pk)  # a merge's FOR UPDATE would wait
    finally:
        done.set()
    assert first.outcome()[1] is None
    assert _free(Tag, tag.pk)


def _deadlocked(*errors) -> bool:
    return any(error is not None and "deadlock" in str(error).lower() for error in errors)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_merge_meets_search_hits_coded_with_a_child_code(project, user, owner, tags, annotation):
    """The batch holds the child code and wants the document; the merge of its parent
    moves the child before it takes any document, so neither waits for the other."""
    from research.services import code_hits

    child = tags["forced-return"]
    assert child.parent_id == tags["extradition"].pk
    document = annotation.document
    with Paused("documents.services.codebook.documents_list_changed") as paused:
        merge = Run(
            lambda: tag_merge(user=owner, tag=tags["extradition"], into=tags["oversight-gap"])
        )
        merge.start()
        assert paused.reached.wait(20)  # the merge holds the codes, the child and the document
        hits = Run(
            lambda: code_hits(
                user=user,
                project=project.pk,
                tag=child,
                hits=[(document.pk, 0, 5)],
                scope="match",
                query="x",
            )
        )
        hits.start()
        _until_waiting()
        paused.go.set()
        _, merge_error = merge.outcome()
        _, hits_error = hits.outcome()
    assert not _deadlocked(merge_error, hits_error), (merge_error, hits_error)
    assert merge_error is None
    assert hits_error is None
    child.refresh_from_db()
    assert child.parent_id == tags["oversight-gap"].pk
    assert Annotation.objects.filter(document=document, tags=child).exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_merge_meets_the_recount_of_the_comparisons(project, user, owner, tags, annotation):
    """The recount writes counts naming codes (checked at commit) under the documents'
    lock; it holds the codes first, as the merge does, so one waits for the other."""
    from research.models import DocumentCodes
    from research.tasks import recount

    with Paused("documents.services.codebook._check_merge") as paused:
        merge = Run(
            lambda: tag_merge(user=owner, tag=tags["extradition"], into=tags["oversight-gap"])
        )
        merge.start()
        assert paused.reached.wait(20)  # the merge holds both codes
        count = Run(lambda: recount.call(project.pk))
        count.start()
        _until_waiting()
        assert _free(Document, annotation.document_id)  # the recount waits holding nothing
        paused.go.set()
        _, merge_error = merge.outcome()
        _, count_error = count.outcome()
    assert merge_error is None and count_error is None, (merge_error, count_error)
    assert DocumentCodes.objects.filter(document_id=annotation.document_id).exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_user_renamed_while_deleting_a_passage(project, user, annotation):
    """The rename holds the user's row (a unique name) until it commits, and the user's
    delete checks that row at commit; the rename takes the user's passages first, so it
    waits for the delete rather than the delete for it in a circle."""
    with Paused("documents.services.annotations.log") as paused:
        delete = Run(lambda: services.annotation_delete(user=user, annotation=annotation))
        delete.start()
        assert paused.reached.wait(20)  # the delete holds the document and the passage

        def rename() -> None:
            with transaction.atomic():
                renamed = type(user).objects.get(pk=user.pk)
                renamed.username = "analyst-renamed"
                renamed.save()

        renaming = Run(rename)
        renaming.start()
        _until_waiting()
        paused.go.set()
        _, delete_error = delete.outcome()
        _, rename_error = renaming.outcome()
    assert delete_error is None and rename_error is None, (delete_error, rename_error)
    annotation.refresh_from_db()
    assert annotation.deleted_at is not None
    assert annotation.author.username == "analyst-renamed"
