"""Memos: services (history, restoring an earlier version, roles, targets, soft delete),
the pages that show and change them, and the API."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from documents import services as document_services
from documents.models import Activity, Tag
from memos import selectors, services
from memos.diff import Line, history, line_diff
from memos.models import MAX_TEXT, MAX_TITLE, About, Memo, MemoRevision
from projects.models import Project, Role
from tests.conftest import member

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def reader(django_user_model, project):
    return member(project, django_user_model.objects.create_user(username="rhea"), Role.READER)


@pytest.fixture
def reviewer(django_user_model, project):
    return member(project, django_user_model.objects.create_user(username="rev"), Role.REVIEWER)


@pytest.fixture
def outsider(django_user_model):
    """The owner of another project, with a code and a document of its own."""
    other = Project.objects.create(name="Other project")
    return member(other, django_user_model.objects.create_user(username="out"), Role.OWNER)


@pytest.fixture
def code(tags) -> Tag:
    return tags["extradition"]


@pytest.fixture
def memo(user, project, code) -> Memo:
    return services.memo_create(
        user=user, project=project, code=code, title="Scope", text="Covers transfers."
    )


def revisions(memo):
    return list(
        MemoRevision.objects.filter(memo=memo).order_by("version").values_list("version", "text")
    )


# ---------------------------------------------------------------------------------------
# Services


def test_memo_create_writes_version_one_its_revision_and_an_activity_row(memo, user, code):
    assert (memo.about, memo.tag_id, memo.document_id, memo.version) == (
        About.CODE,
        code.pk,
        None,
        1,
    )
    assert revisions(memo) == [(1, "Covers transfers.")]
    row = Activity.objects.get(action="memo.create", object_id=memo.pk)
    assert row.object_type == "memo" and row.actor_id == user.pk
    assert row.after["version"] == 1 and row.after["code"] == code.pk
    assert "text" not in row.after  # the text is in the revisions, which members read


def test_memo_create_normalises_text_and_title(user, project):
    memo = services.memo_create(
        user=user, project=project, title="  Two \n words ", text="\r\n Line one\r\nLine two \n"
    )
    assert memo.title == "Two words"
    assert memo.text == "Line one\nLine two"
    assert memo.about == About.PROJECT


def test_memo_create_about_a_document_logs_the_document(user, project, document):
    memo = services.memo_create(user=user, project=project, document=document, text="Reliable.")
    assert memo.about == About.DOCUMENT
    assert Activity.objects.get(action="memo.create", object_id=memo.pk).document_id == document.pk


def test_memo_update_keeps_every_earlier_text(memo, user):
    services.memo_update(user=user, memo=memo, text="Covers transfers and deportations.")
    services.memo_update(user=user, memo=memo, title="Scope, revised", expected_version=2)
    stored = Memo.objects.get(pk=memo.pk)
    assert (stored.version, stored.title) == (3, "Scope, revised")
    assert revisions(memo) == [
        (1, "Covers transfers."),
        (2, "Covers transfers and deportations."),
        (3, "Covers transfers and deportations."),
    ]
    changes = Activity.objects.filter(action="memo.update", object_id=memo.pk).order_by("pk")
    assert [(c.actor_id, c.before["version"], c.after["version"]) for c in changes] == [
        (user.pk, 1, 2),
        (user.pk, 2, 3),
    ]


def test_memo_update_with_the_same_text_writes_no_version(memo, user):
    services.memo_update(user=user, memo=memo, title="Scope", text="Covers transfers.\n")
    assert Memo.objects.get(pk=memo.pk).version == 1
    assert MemoRevision.objects.filter(memo=memo).count() == 1


def test_memo_update_refuses_a_stale_version_and_changes_nothing(memo, user, other_user, reviewer):
    services.memo_update(user=reviewer, memo=memo, text="The reviewer's text.")
    stale = Memo.objects.get(pk=memo.pk)
    stale.version = 1  # as the page the analyst opened before
    with pytest.raises(services.StaleMemo) as refused:
        services.memo_update(user=user, memo=stale, text="Mine.", expected_version=1)
    assert refused.value.current_version == 2  # the write itself refused: it raced
    current = Memo.objects.get(pk=memo.pk)
    with pytest.raises(services.StaleMemo) as refused:
        services.memo_update(user=user, memo=current, text="Mine.", expected_version=1)
    assert refused.value.current_version == 2
    assert "changed by someone else" in refused.value.messages[0]
    assert Memo.objects.get(pk=memo.pk).text == "The reviewer's text."
    assert MemoRevision.objects.filter(memo=memo).count() == 2


def test_memo_revert_brings_back_an_earlier_version_as_a_new_one(memo, user):
    services.memo_update(user=user, memo=memo, title="Wrong turn", text="A mistaken reading.")
    services.memo_revert(user=user, memo=memo, version=1, expected_version=2)
    stored = Memo.objects.get(pk=memo.pk)
    assert (stored.version, stored.title, stored.text) == (3, "Scope", "Covers transfers.")
    last = MemoRevision.objects.get(memo=memo, version=3)
    assert last.restored_from == 1 and last.author_id == user.pk
    assert MemoRevision.objects.get(memo=memo, version=2).text == "A mistaken reading."
    row = Activity.objects.get(action="memo.revert", object_id=memo.pk)
    assert row.before["version"] == 2 and row.after == {
        **row.after,
        "version": 3,
        "restored_from": 1,
    }


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (2, "is the current one"),
        (9, "has no version 9"),
        (2**70, "has no version"),
        (0, "has no version 0"),
        ("1", "number of the version"),
    ],
)
def test_memo_revert_refuses_what_cannot_be_restored(memo, user, version, message):
    services.memo_update(user=user, memo=memo, text="Second.")
    with pytest.raises(ValidationError) as refused:
        services.memo_revert(user=user, memo=memo, version=version)
    assert message in " ".join(refused.value.messages)
    assert Memo.objects.get(pk=memo.pk).version == 2


def test_memo_revert_refuses_a_version_equal_to_the_current_text(memo, user):
    services.memo_update(user=user, memo=memo, text="Second.")
    services.memo_update(user=user, memo=memo, text="Covers transfers.")
    with pytest.raises(ValidationError, match="same title and text"):
        services.memo_revert(user=user, memo=memo, version=1)


@pytest.mark.parametrize(
    ("title", "text", "field", "message"),
    [
        ("", "", "text", "Write the memo's text: it is empty."),
        ("", " \n\t ", "text", "Write the memo's text: it is empty."),
        ("", "x" * (MAX_TEXT + 1), "text", "At most 100,000 characters"),
        ("t" * (MAX_TITLE + 1), "Fine.", "title", "At most 200 characters"),
        (5, "Fine.", "title", "Must be text."),
        ("", None, "text", "Must be text."),
    ],
)
def test_memo_create_refuses_bad_text_with_a_clear_message_and_saves_nothing(
    user, project, title, text, field, message
):
    with pytest.raises(ValidationError) as refused:
        services.memo_create(user=user, project=project, title=title, text=text)
    assert any(message in m for m in refused.value.message_dict[field])
    assert not Memo.objects.exists() and not MemoRevision.objects.exists()
    assert not Activity.objects.filter(object_type="memo").exists()


def test_memo_update_refuses_empty_text_and_keeps_the_memo(memo, user):
    with pytest.raises(ValidationError, match="empty"):
        services.memo_update(user=user, memo=memo, text="   ")
    assert Memo.objects.get(pk=memo.pk).text == "Covers transfers."
    assert MemoRevision.objects.filter(memo=memo).count() == 1


def test_memo_create_refuses_a_target_of_another_project(user, project, outsider, tags):
    other = Project.objects.get(name="Other project")
    foreign_code = Tag.objects.create(project=other, name="Foreign", slug="foreign")
    foreign_document = document_services.document_create(
        user=None,
        project=other,
        text="Another project's text.",
        metadata=document_services.DocumentMetadata(title="Foreign"),
    )
    with pytest.raises(ValidationError) as refused:
        services.memo_create(user=user, project=project, code=foreign_code.pk, text="x")
    assert refused.value.message_dict["code"] == [
        f"There is no code #{foreign_code.pk} in this project."
    ]
    with pytest.raises(ValidationError) as refused:
        services.memo_create(user=user, project=project, document=foreign_document, text="x")
    assert "no document" in refused.value.message_dict["document"][0]
    with pytest.raises(ValidationError, match="not a code and a document at once"):
        services.memo_create(
            user=user, project=project, code=tags["extradition"], document=1, text="x"
        )
    assert not Memo.objects.exists()


def test_memo_create_refuses_out_of_range_ids(user, project):
    with pytest.raises(ValidationError, match="id of a code"):
        services.memo_create(user=user, project=project, code=2**70, text="x")
    with pytest.raises(ValidationError, match="id of a document"):
        services.memo_create(user=user, project=project, document=True, text="x")


def test_who_may_write_memos(user, reviewer, staff_user, reader, outsider, project):
    for writer in (user, reviewer, staff_user):
        services.memo_create(user=writer, project=project, text=f"By {writer}.")
    with pytest.raises(PermissionDenied, match="Readers read the memos"):
        services.memo_create(user=reader, project=project, text="A reader's memo.")
    with pytest.raises(ValidationError, match="that you are a member of"):
        services.memo_create(user=outsider, project=project, text="Not a member.")
    assert Memo.objects.count() == 3


def test_who_may_change_a_memo(memo, user, other_user, reviewer, staff_user, reader):
    with pytest.raises(PermissionDenied, match="only your own memos"):
        services.memo_update(user=other_user, memo=memo, text="A colleague's change.")
    with pytest.raises(PermissionDenied):
        services.memo_update(user=reader, memo=memo, text="A reader's change.")
    with pytest.raises(PermissionDenied):
        services.memo_delete(user=other_user, memo=memo)
    for changer in (user, reviewer, staff_user):
        services.memo_update(user=changer, memo=memo, text=f"Changed by {changer}.")
    assert Memo.objects.get(pk=memo.pk).version == 4
    authors = MemoRevision.objects.filter(memo=memo).order_by("version")
    assert [r.author.username for r in authors] == ["analyst", "analyst", "rev", "editor"]


def test_an_author_who_became_a_reader_no_longer_changes_their_memo(memo, user, project):
    user.memberships.filter(project=project).update(role=Role.READER)
    with pytest.raises(PermissionDenied):
        services.memo_update(user=user, memo=memo, text="Later.")


def test_delete_is_soft_and_restore_brings_the_memo_back(memo, user, staff_user, project):
    services.memo_delete(user=staff_user, memo=memo)
    stored = Memo.objects.get(pk=memo.pk)
    assert stored.is_deleted and stored.deleted_by_id == staff_user.pk
    assert MemoRevision.objects.filter(memo=memo).count() == 1
    listed = selectors.memo_list(user=user, filters=selectors.MemoFilter(project=project.pk))
    assert list(listed) == []
    everything = selectors.MemoFilter(project=project.pk, include_deleted=True)
    assert [m.pk for m in selectors.memo_list(user=user, filters=everything)] == [memo.pk]
    with pytest.raises(ValidationError, match="restore it before changing it"):
        services.memo_update(user=user, memo=stored, text="While deleted.")
    with pytest.raises(ValidationError, match="restore it before"):
        services.memo_revert(user=user, memo=stored, version=1)
    services.memo_restore(user=user, memo=stored)
    assert not Memo.objects.get(pk=memo.pk).is_deleted
    actions = Activity.objects.filter(object_type="memo", object_id=memo.pk)
    assert sorted(actions.values_list("action", flat=True)) == [
        "memo.create",
        "memo.delete",
        "memo.restore",
    ]


def test_a_delete_racing_a_change_is_refused(memo, user, reviewer):
    loaded = Memo.objects.get(pk=memo.pk)
    services.memo_update(user=reviewer, memo=memo, text="Changed meanwhile.")
    with pytest.raises(services.StaleMemo):
        services.memo_delete(user=user, memo=loaded)
    assert not Memo.objects.get(pk=memo.pk).is_deleted


def test_delete_and_restore_twice_change_nothing_more(memo, user):
    services.memo_delete(user=user, memo=memo)
    services.memo_delete(user=user, memo=memo)
    services.memo_restore(user=user, memo=memo)
    services.memo_restore(user=user, memo=memo)
    assert Activity.objects.filter(object_type="memo", action="memo.delete").count() == 1
    assert Activity.objects.filter(object_type="memo", action="memo.restore").count() == 1


def test_revisions_are_append_only(memo):
    revision = MemoRevision.objects.get(memo=memo)
    with pytest.raises(TypeError):
        MemoRevision.objects.filter(memo=memo).update(text="Rewritten history.")
    with pytest.raises(TypeError):
        MemoRevision.objects.filter(memo=memo).delete()
    with pytest.raises(TypeError):
        revision.save()
    with pytest.raises(TypeError):
        revision.delete()


def test_the_database_refuses_a_memo_with_two_targets_or_none_of_its_kind(
    user, project, code, document
):
    for values in (
        {"about": About.CODE, "tag": code, "document": document},
        {"about": About.CODE},
        {"about": About.PROJECT, "document": document},
        {"about": About.DOCUMENT, "tag": code},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            Memo.objects.create(project=project, author=user, text="x", **values)


def test_a_non_member_reads_no_memo(memo, outsider, project):
    assert not selectors.memo_list(user=outsider, filters=selectors.MemoFilter(project=project.pk))
    with pytest.raises(Memo.DoesNotExist):
        selectors.memo_get(user=outsider, project=project.pk, pk=memo.pk)
    with pytest.raises(Memo.DoesNotExist):
        selectors.memo_get_any(user=outsider, pk=memo.pk)


# ---------------------------------------------------------------------------------------
# The history's line diff


def test_line_diff_shows_changed_lines_with_context_and_gaps():
    old = "\n".join(f"line {n}" for n in range(1, 11))
    new = old.replace("line 5", "line five").replace("line 10", "line ten")
    lines = line_diff(old, new, context=1)
    assert lines == [
        Line("gap", "…"),
        Line("same", "line 4"),
        Line("removed", "line 5"),
        Line("added", "line five"),
        Line("same", "line 6"),
        Line("gap", "…"),
        Line("same", "line 9"),
        Line("removed", "line 10"),
        Line("added", "line ten"),
    ]
    assert line_diff(old, old) == []
    assert line_diff("a", "a\nb") == [Line("same", "a"), Line("added", "b")]


def test_history_is_newest_first_with_title_changes_and_restores(memo, user):
    services.memo_update(user=user, memo=memo, title="Renamed", text="Covers transfers.\nAnd more.")
    services.memo_revert(user=user, memo=memo, version=1)
    versions = history(selectors.memo_revisions(memo=memo))
    assert [v.version for v in versions] == [3, 2, 1]
    assert versions[0].restored_from == 1 and versions[0].title_before == "Renamed"
    assert versions[1].title_before == "Scope"
    assert versions[1].lines == [Line("same", "Covers transfers."), Line("added", "And more.")]
    assert versions[2].first and versions[2].lines == [] and versions[2].author == "analyst"


# ---------------------------------------------------------------------------------------
# Pages


def test_memos_page_lists_and_filters_by_what_they_are_about_and_who_wrote_them(
    client, user, reviewer, project, code, document
):
    services.memo_create(user=user, project=project, code=code, text="On the code.")
    services.memo_create(user=reviewer, project=project, document=document, text="On the doc.")
    services.memo_create(user=user, project=project, title="Plan", text="On the project.")
    client.force_login(user)
    url = reverse("memos:list", args=[project.pk])
    page = client.get(url).content.decode()
    assert all(t in page for t in ("On the code.", "On the doc.", "On the project."))
    assert "3 memos." in page
    only_code = client.get(url, {"about": "code"}).content.decode()
    assert "On the code." in only_code and "On the doc." not in only_code
    by_reviewer = client.get(url, {"author": "rev"}).content.decode()
    assert "On the doc." in by_reviewer and "On the code." not in by_reviewer
    of_document = client.get(url, {"document": document.pk}).content.decode()
    assert "On the doc." in of_document and "On the project." not in of_document
    by_code = client.get(url, {"code": code.pk}).content.decode()
    assert "On the code." in by_code and "1 memo." in by_code


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"about": "everything"}, "About is project, code or document"),
        ({"author": "nobody"}, "Nobody named nobody"),
        ({"code": "999999"}, "There is no code #999999 in this project."),
        ({"document": "999999"}, "There is no document #999999 in this project."),
        ({"document": "x"}, "Give a document&#x27;s id"),
    ],
)
def test_memos_page_answers_bad_filters_with_a_message(client, user, project, tags, query, message):
    client.force_login(user)
    response = client.get(reverse("memos:list", args=[project.pk]), query)
    assert response.status_code == 200
    assert message in response.content.decode()


def test_memos_page_reads_a_constant_number_of_queries(
    client, user, reviewer, staff_user, project, tags, document, django_assert_num_queries
):
    """However many memos, by however many authors, about whatever targets."""

    def fill(n, authors):
        codes = list(tags.values())
        for i in range(n):
            target = [{"code": codes[i % len(codes)]}, {"document": document}, {}][i % 3]
            services.memo_create(
                user=authors[i % len(authors)], project=project, text=f"Memo {i}.", **target
            )

    client.force_login(user)
    url = reverse("memos:list", args=[project.pk])
    fill(3, [user])
    client.get(url)  # the session's first request writes what later ones only read
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, {"include_deleted": "on"}).status_code == 200
    services.memo_delete(user=user, memo=Memo.objects.first())
    fill(30, [user, reviewer, staff_user])
    with django_assert_num_queries(len(few.captured_queries)):
        page = client.get(url, {"include_deleted": "on"})
    assert "Memo 29." in page.content.decode()


def test_memo_page_shows_each_version_with_what_changed_escaped(client, user, project, code):
    memo = services.memo_create(
        user=user, project=project, code=code, text="First line.\n<script>alert(1)</script>"
    )
    services.memo_update(user=user, memo=memo, text="First line.\n<b>bold</b> & more")
    client.force_login(user)
    page = client.get(memo.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in page and "<b>bold</b>" not in page
    assert '<del dir="auto">&lt;script&gt;alert(1)&lt;/script&gt;</del>' in page
    assert '<ins dir="auto">&lt;b&gt;bold&lt;/b&gt; &amp; more</ins>' in page
    assert "Version 2 (current)" in page and "Version 1" in page
    assert "Restore version 1" in page


def test_a_reader_reads_memos_and_their_history_but_gets_no_form(client, reader, memo, project):
    client.force_login(reader)
    page = client.get(memo.get_absolute_url()).content.decode()
    assert "Covers transfers." in page and "History" in page
    assert "Change the memo" not in page and "Restore version" not in page
    passages = client.get(reverse("research:passages", args=[project.pk]), {"code": memo.tag_id})
    text = passages.content.decode()
    assert "Covers transfers." in text and "Write a memo" not in text
    assert (
        client.post(reverse("memos:edit", args=[project.pk, memo.pk]), {"text": "x"}).status_code
        == 403
    )


def test_create_from_a_code_panel_with_htmx_answers_the_panel_with_the_new_memo(
    client, user, project, code
):
    client.force_login(user)
    passages = reverse("research:passages", args=[project.pk]) + f"?code={code.pk}"
    response = client.post(
        reverse("memos:create", args=[project.pk]),
        {
            "code": code.pk,
            "title": "",
            "text": "Extradition now includes <renditions>.",
            "next": passages,
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="memos-code-{code.pk}"' in html
    assert "Extradition now includes &lt;renditions&gt;." in html
    memo = Memo.objects.get()
    assert (memo.about, memo.tag_id, memo.author_id) == (About.CODE, code.pk, user.pk)


def test_create_without_javascript_goes_back_to_where_the_form_was(client, user, project, code):
    client.force_login(user)
    passages = reverse("research:passages", args=[project.pk]) + f"?code={code.pk}"
    response = client.post(
        reverse("memos:create", args=[project.pk]),
        {"code": code.pk, "text": "A plain post.", "next": passages},
    )
    memo = Memo.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{passages}#memo-{memo.pk}"
    elsewhere = client.post(
        reverse("memos:create", args=[project.pk]),
        {"text": "Another.", "next": "https://evil.example/"},
    )
    assert elsewhere["Location"] == Memo.objects.latest("pk").get_absolute_url()


def test_a_refused_create_comes_back_with_what_was_typed_and_why(client, user, project, code):
    client.force_login(user)
    url = reverse("memos:create", args=[project.pk])
    htmx = client.post(url, {"code": code.pk, "title": "Kept title", "text": " "}, headers=HTMX)
    assert htmx.status_code == 422
    html = htmx.content.decode()
    assert "Text: Write the memo&#x27;s text: it is empty." in html
    assert 'value="Kept title"' in html and f'id="memos-code-{code.pk}"' in html
    plain = client.post(url, {"code": "999999", "text": "Lost target."})
    assert plain.status_code == 422
    assert "There is no code #999999 in this project." in plain.content.decode()
    too_long = client.post(url, {"title": "t" * 300, "text": "Fine."})
    assert too_long.status_code == 422 and "At most 200 characters" in too_long.content.decode()
    assert not Memo.objects.exists()


def test_edit_in_place_with_htmx(client, user, project, memo):
    client.force_login(user)
    url = reverse("memos:edit", args=[project.pk, memo.pk])
    form = client.get(url, headers=HTMX)
    assert form.status_code == 200 and "Covers transfers.</textarea>" in form.content.decode()
    saved = client.post(
        url, {"title": "Scope", "text": "Covers transfers, now.", "version": 1}, headers=HTMX
    )
    assert saved.status_code == 200
    assert (
        "Covers transfers, now." in saved.content.decode() and "version 2" in saved.content.decode()
    )
    cancelled = client.get(memo.get_absolute_url(), headers=HTMX)
    assert 'class="memo-card"' in cancelled.content.decode()
    assert client.get(url)["Location"].endswith("#edit")


def test_a_stale_edit_keeps_what_was_typed_and_says_why(client, user, reviewer, project, memo):
    services.memo_update(user=reviewer, memo=memo, text="The reviewer got there first.")
    client.force_login(user)
    url = reverse("memos:edit", args=[project.pk, memo.pk])
    refused = client.post(
        url, {"title": "Scope", "text": "My own take.", "version": 1}, headers=HTMX
    )
    assert refused.status_code == 422
    html = refused.content.decode()
    assert "changed by someone else" in html and "My own take.</textarea>" in html
    assert 'name="version" value="2"' in html  # saving again replaces it; both stay in history
    plain = client.post(url, {"title": "Scope", "text": "My own take.", "version": 1})
    assert plain.status_code == 422 and "My own take." in plain.content.decode()
    assert Memo.objects.get(pk=memo.pk).text == "The reviewer got there first."
    again = client.post(url, {"title": "Scope", "text": "My own take.", "version": 2})
    assert again.status_code == 302
    assert Memo.objects.get(pk=memo.pk).version == 3


def test_bad_form_values_are_refused_with_a_message(client, user, project, memo):
    client.force_login(user)
    edit = client.post(
        reverse("memos:edit", args=[project.pk, memo.pk]), {"text": "x", "version": "two"}
    )
    assert edit.status_code == 422 and "not a number" in edit.content.decode()
    revert = client.post(reverse("memos:revert", args=[project.pk, memo.pk]), {"version": 1})
    assert revert.status_code == 422 and "Say which version to restore." in revert.content.decode()
    huge = client.post(
        reverse("memos:revert", args=[project.pk, memo.pk]), {"version": 1, "revision": 10**30}
    )
    assert huge.status_code == 422 and "less than or equal to" in huge.content.decode()
    assert client.get(reverse("memos:detail", args=[project.pk, 2**70])).status_code == 404


def test_delete_restore_and_revert_on_the_memo_page(client, user, project, memo):
    client.force_login(user)
    services.memo_update(user=user, memo=memo, text="Second thoughts.")
    revert = client.post(
        reverse("memos:revert", args=[project.pk, memo.pk]), {"version": 2, "revision": 1}
    )
    assert revert.status_code == 302
    assert Memo.objects.get(pk=memo.pk).text == "Covers transfers."
    deleted = client.post(reverse("memos:delete", args=[project.pk, memo.pk]), {"version": 3})
    assert deleted.status_code == 302 and Memo.objects.get(pk=memo.pk).is_deleted
    page = client.get(memo.get_absolute_url()).content.decode()
    assert "Deleted by analyst" in page and "Restore the memo" in page
    assert "Change the memo" not in page
    client.post(reverse("memos:restore", args=[project.pk, memo.pk]))
    assert not Memo.objects.get(pk=memo.pk).is_deleted


def test_memos_show_on_the_passages_view_of_one_code_only(client, user, project, memo, tags):
    client.force_login(user)
    url = reverse("research:passages", args=[project.pk])
    one = client.get(url, {"code": memo.tag_id}).content.decode()
    assert "Memos on the code" in one and "Covers transfers." in one
    other = tags["due-process"].pk
    two = client.get(url, {"code": [memo.tag_id, other]}).content.decode()
    assert "Memos on the code" not in two
    assert "Memos on the code" not in client.get(url).content.decode()


def test_memos_show_on_the_code_page_the_document_page_and_the_project_page(
    client, staff_user, user, project, memo, document
):
    on_document = services.memo_create(
        user=user, project=project, document=document, text="Source is reliable."
    )
    services.memo_create(user=user, project=project, title="Plan", text="Project-wide plan.")
    client.force_login(staff_user)
    code_page = client.get(reverse("projects:code_edit", args=[project.pk, memo.tag_id]))
    assert "Covers transfers." in code_page.content.decode()
    document_page = client.get(document.get_absolute_url()).content.decode()
    assert "Source is reliable." in document_page and "Covers transfers." not in document_page
    project_page = client.get(project.get_absolute_url()).content.decode()
    assert "Project-wide plan." in project_page
    assert (
        on_document.get_absolute_url() in project_page and memo.get_absolute_url() in project_page
    )
    assert "All memos (3)" in project_page


def test_memo_pages_of_another_project_are_not_there(client, outsider, project, memo):
    client.force_login(outsider)
    assert client.get(memo.get_absolute_url()).status_code == 404
    assert client.get(reverse("memos:list", args=[project.pk])).status_code == 404
    other = Project.objects.get(name="Other project")
    # The memo's id under the outsider's own project names nothing either.
    assert client.get(reverse("memos:detail", args=[other.pk, memo.pk])).status_code == 404


# ---------------------------------------------------------------------------------------
# API


def test_api_lists_a_projects_memos_with_filters(
    client, user, reviewer, project, memo, document, bearer
):
    on_document = services.memo_create(user=reviewer, project=project, document=document, text="D")
    services.memo_delete(user=reviewer, memo=on_document)
    headers = bearer(user)
    url = reverse("api:memo-list", args=[project.pk])
    listed = client.get(url, headers=headers).json()
    assert listed["count"] == 1
    item = listed["results"][0]
    assert item["code"]["slug"] == "extradition" and item["document"] is None
    assert item["about"] == "code" and item["author"] == "analyst" and item["version"] == 1
    assert item["page_url"].endswith(memo.get_absolute_url())
    assert client.get(url, {"code": memo.tag_id}, headers=headers).json()["count"] == 1
    assert client.get(url, {"document": document.pk}, headers=headers).json()["count"] == 0
    deleted = client.get(url, {"document": document.pk, "include_deleted": "true"}, headers=headers)
    assert deleted.json()["results"][0]["deleted_by"] == "rev"
    bad = client.get(url, {"code": 999999, "colour": "red"}, headers=headers)
    assert bad.status_code == 400
    assert bad.json()["code"] == ["There is no code #999999 in this project."]
    assert "Unknown parameter" in bad.json()["colour"][0]


def test_api_memo_detail_has_every_revision(client, user, memo, bearer):
    services.memo_update(user=user, memo=memo, text="Second.")
    body = client.get(reverse("api:memo-detail", args=[memo.pk]), headers=bearer(user)).json()
    assert body["version"] == 2 and body["text"] == "Second."
    assert [(r["version"], r["text"], r["author"]) for r in body["revisions"]] == [
        (1, "Covers transfers.", "analyst"),
        (2, "Second.", "analyst"),
    ]


def test_api_writes_create_change_delete_restore_and_revert(client, user, project, code, bearer):
    headers = bearer(user)
    created = client.post(
        reverse("api:memo-list", args=[project.pk]),
        {"code": code.pk, "title": "T", "text": "One."},
        content_type="application/json",
        headers=headers,
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert created["Location"].endswith(reverse("api:memo-detail", args=[pk]))
    url = reverse("api:memo-detail", args=[pk])
    changed = client.patch(
        url, {"text": "Two.", "version": 1}, content_type="application/json", headers=headers
    )
    assert changed.status_code == 200 and changed.json()["version"] == 2
    stale = client.patch(
        url, {"text": "Three.", "version": 1}, content_type="application/json", headers=headers
    )
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    reverted = client.post(
        reverse("api:memo-revert", args=[pk]),
        {"version": 1},
        content_type="application/json",
        headers=headers,
    )
    assert (
        reverted.json()["text"] == "One." and reverted.json()["revisions"][-1]["restored_from"] == 1
    )
    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url, headers=headers).json()["deleted"] is True
    restored = client.post(reverse("api:memo-restore", args=[pk]), headers=headers)
    assert restored.status_code == 200 and restored.json()["deleted"] is False
    again = client.post(reverse("api:memo-restore", args=[pk]), headers=headers)
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"text": ""}, "text", "Write the memo's text: it is empty."),
        ({"text": "x", "code": 999999}, "code", "There is no code #999999 in this project."),
        ({"text": "x", "author": "me"}, "author", "Read-only: it cannot be set."),
        ({"text": "x", "colour": "red"}, "colour", "Unknown field"),
        ({"text": 5}, "text", "Must be text, not int."),
        ({}, "text", "This field is required."),
    ],
)
def test_api_create_refuses_bad_input_with_a_message(
    client, user, project, tags, bearer, body, field, message
):
    response = client.post(
        reverse("api:memo-list", args=[project.pk]),
        body,
        content_type="application/json",
        headers=bearer(user),
    )
    assert response.status_code == 400
    assert any(message in m for m in response.json()[field])
    assert not Memo.objects.exists()


def test_api_patch_with_nothing_to_change_is_a_400(client, user, memo, bearer):
    response = client.patch(
        reverse("api:memo-detail", args=[memo.pk]),
        {"version": 1},
        content_type="application/json",
        headers=bearer(user),
    )
    assert response.status_code == 400 and "Nothing to change" in str(response.json())


def test_api_read_only_token_reads_but_never_writes(client, user, project, memo, bearer):
    headers = bearer(user, read_only=True)
    assert (
        client.get(reverse("api:memo-detail", args=[memo.pk]), headers=headers).status_code == 200
    )
    refused = client.patch(
        reverse("api:memo-detail", args=[memo.pk]),
        {"text": "x"},
        content_type="application/json",
        headers=headers,
    )
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    create = client.post(
        reverse("api:memo-list", args=[project.pk]),
        {"text": "x"},
        content_type="application/json",
        headers=headers,
    )
    assert create.status_code == 403
    assert Memo.objects.get(pk=memo.pk).version == 1


def test_api_refuses_others_and_readers(
    client, memo, other_user, reader, outsider, project, bearer
):
    url = reverse("api:memo-detail", args=[memo.pk])
    colleague = client.patch(
        url, {"text": "x"}, content_type="application/json", headers=bearer(other_user)
    )
    assert colleague.status_code == 403
    as_reader = client.post(
        reverse("api:memo-list", args=[project.pk]),
        {"text": "x"},
        content_type="application/json",
        headers=bearer(reader),
    )
    assert as_reader.status_code == 403 and "Readers read the memos" in as_reader.json()["detail"]
    stranger = bearer(outsider)
    assert client.get(url, headers=stranger).status_code == 404
    assert (
        client.get(reverse("api:memo-list", args=[project.pk]), headers=stranger).status_code == 404
    )
    assert client.get(url).status_code == 401


def test_the_admin_shows_memos_and_their_texts_to_members_only(
    client, django_user_model, memo, project
):
    root = django_user_model.objects.create_superuser(username="root", password="root-pass-1")
    client.force_login(root)
    listed = client.get(reverse("admin:memos_memo_changelist"))
    assert listed.status_code == 200 and "Scope" not in listed.content.decode()
    assert client.get(reverse("admin:memos_memo_change", args=[memo.pk])).status_code == 302
    row = Activity.objects.get(action="memo.create", object_id=memo.pk)
    shown = client.get(reverse("admin:documents_activity_change", args=[row.pk]))
    assert shown.status_code == 200 and "Covers transfers." not in shown.content.decode()
    member(project, root, Role.OWNER)
    listed = client.get(reverse("admin:memos_memo_changelist")).content.decode()
    assert "Scope" in listed
    page = client.get(reverse("admin:memos_memo_change", args=[memo.pk])).content.decode()
    assert "Covers transfers." in page
