"""The codebook as a living document: its page (a tree, every member), a code's page with its
history, the owners' changes (rename, move, merge, retire, restore, example) by page and
API, REFI-QDA codebook exchange (.qdc) and the contrast of text over codes' colours."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from lxml import etree

from documents import colours, refiqda, sample, services
from documents.models import Activity, Annotation, Document, Tag
from projects import services as project_services
from projects.models import Project, Role
from tests.conftest import member
from tests.helpers import annotate


@pytest.fixture
def owner(django_user_model, project):
    return member(
        project,
        django_user_model.objects.create_user(username="owner", password="owner-pass-1"),
        Role.OWNER,
    )


def _tag(project, slug):
    return Tag.objects.get(project=project, slug=slug)


# ---------------------------------------------------------------------------------------
# Contrast


@pytest.mark.parametrize(
    ("first", "second", "ratio"),
    [
        ("#000000", "#ffffff", 21.0),
        ("#ffffff", "#ffffff", 1.0),
        ("#777777", "#ffffff", 4.48),  # just below AA
        ("#767676", "#ffffff", 4.54),  # the lightest grey that passes on white
        ("#0000ff", "#ffffff", 8.59),
        ("#ff0000", "#000000", 5.25),
    ],
)
def test_contrast_ratio_matches_wcag_for_known_pairs(first, second, ratio):
    assert colours.contrast_ratio(first, second) == pytest.approx(ratio, abs=0.01)
    assert colours.contrast_ratio(second, first) == pytest.approx(ratio, abs=0.01)


@pytest.mark.parametrize(
    ("background", "ink"),
    [
        ("#ffd54f", "#000000"),
        ("#1a237e", "#ffffff"),
        ("#000000", "#ffffff"),
        ("#777777", "#000000"),
    ],
)
def test_ink_is_the_text_colour_that_contrasts_more(background, ink):
    assert colours.ink_for(background) == ink


def test_every_colour_gets_an_ink_that_meets_wcag_aa():
    # A coarse walk over the colour cube, the sample codebook's colours and the mid greys
    # where black and white contrast least.
    steps = range(0, 256, 17)
    cube = [f"#{r:02x}{g:02x}{b:02x}" for r in steps for g in steps for b in steps]
    greys = [f"#{v:02x}{v:02x}{v:02x}" for v in range(100, 140)]
    samples = [entry["colour"] for entry in sample.codebook_entries()]
    for colour in [*cube, *greys, *samples]:
        assert colours.contrast_ratio(colours.ink_for(colour), colour) >= colours.AA_CONTRAST


def test_every_highlight_fill_gets_an_ink_that_meets_wcag_aa():
    """A highlight is its code's colour mixed with white, darker where annotations
    overlap: whatever the colour and the depth, its text stays readable."""
    steps = range(0, 256, 17)
    cube = [f"#{r:02x}{g:02x}{b:02x}" for r in steps for g in steps for b in steps]
    for colour in cube:
        fills = colours.highlight_fills(colour)
        assert len(fills) == 3
        for fill, ink in fills:
            assert colours.contrast_ratio(ink, fill) >= colours.AA_CONTRAST, (colour, fill)


def test_a_highlight_fill_is_the_colour_mixed_with_white():
    assert colours.mix("#000000", 0.5) == "#808080"
    assert colours.mix("#1a237e", 1.0) == "#1a237e"
    assert colours.mix("#1a237e", 0.0) == "#ffffff"
    # Dark codes overlapping three deep take white text; light ones keep black.
    assert colours.highlight_fills("#1a237e")[2][1] == colours.WHITE
    assert {ink for _, ink in colours.highlight_fills("#ffd54f")} == {colours.BLACK}


def test_sample_codebook_colours_take_black_text():
    for entry in sample.codebook_entries():
        assert colours.ink_for(entry["colour"]) == colours.BLACK, entry["slug"]


# ---------------------------------------------------------------------------------------
# Services: move, merge, retire, restore, example


def test_moving_a_code_below_its_own_child_is_refused_with_the_reason(project, owner, tags):
    parent, child = tags["three-evils"], tags["definition-of-terrorism"]
    with pytest.raises(ValidationError) as refused:
        project_services.code_save(
            user=owner,
            project=project,
            pk=parent.pk,
            values={
                "name": parent.name,
                "colour": parent.colour,
                "parent": child.pk,
                "is_active": True,
            },
        )
    assert refused.value.message_dict["parent"] == [
        "Three evils cannot go under Definition of terrorism: Definition of terrorism is "
        "below Three evils already. Choose a code that is not below it."
    ]
    parent.refresh_from_db()
    assert parent.parent_id is None


def test_merge_moves_passages_keeps_one_tag_and_retires_the_code(
    project, owner, user, document, tags
):
    a, b = tags["forced-return"], tags["extradition"]
    only_a = annotate(user, document, "Shanghai", tags=["forced-return"])
    both = annotate(user, document, "Emoji", tags=["forced-return", "extradition"])
    deleted = annotate(user, document, "Convention", tags=["forced-return"])
    services.annotation_delete(user=user, annotation=deleted)
    version_before = Document.objects.get(pk=document.pk).annotations_version
    activity_before = Activity.objects.count()

    moved = services.tag_merge(user=owner, tag=a, into=b)

    assert moved == 3
    for annotation in (only_a, both, deleted):
        assert list(
            Annotation.objects.get(pk=annotation.pk).tags.values_list("slug", flat=True)
        ) == ["extradition"]
    assert Annotation.objects.get(pk=only_a.pk).version == only_a.version + 1
    a.refresh_from_db()
    assert (a.is_active, a.merged_into_id) == (False, b.pk)
    assert Document.objects.get(pk=document.pk).annotations_version != version_before
    [row] = Activity.objects.order_by("-id")[: Activity.objects.count() - activity_before]
    assert row.action == "tag.merge"
    assert row.after["from"]["slug"] == "forced-return"
    assert row.after["into"]["slug"] == "extradition"
    assert (row.after["passages"], row.after["passages_with_both"]) == (3, 1)


def test_merge_moves_the_children_under_the_target(project, owner, tags):
    services.tag_merge(user=owner, tag=tags["three-evils"], into=tags["due-process"])
    assert _tag(project, "definition-of-terrorism").parent_id == tags["due-process"].pk


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("extradition", "extradition", "Choose another code than Extradition to merge into."),
        (
            "three-evils",
            "definition-of-terrorism",
            "Definition of terrorism is below Three evils: move it out first",
        ),
    ],
)
def test_merge_refuses_itself_and_a_code_below_it(project, owner, tags, source, target, message):
    with pytest.raises(ValidationError) as refused:
        services.tag_merge(user=owner, tag=tags[source], into=tags[target])
    assert message in refused.value.message_dict["into"][0]
    assert Activity.objects.filter(action="tag.merge").count() == 0


def test_merge_into_a_retired_code_is_refused(project, owner, tags):
    services.tag_retire(user=owner, tag=tags["due-process"])
    with pytest.raises(ValidationError, match="is retired: restore it first"):
        services.tag_merge(user=owner, tag=tags["extradition"], into=tags["due-process"])


def test_coders_may_not_change_the_codebook(project, user, tags):
    with pytest.raises(PermissionDenied):
        services.tag_merge(user=user, tag=tags["forced-return"], into=tags["extradition"])
    with pytest.raises(PermissionDenied):
        services.tag_retire(user=user, tag=tags["forced-return"])


def test_retire_and_restore_are_logged_and_keep_passages(project, owner, user, document, tags):
    annotation = annotate(user, document, "Shanghai", tags=["due-process"])
    services.tag_retire(user=owner, tag=tags["due-process"])
    assert not _tag(project, "due-process").is_active
    assert annotation.tags.filter(slug="due-process").exists()
    with pytest.raises(ValidationError, match="Retired tag"):
        annotate(user, document, "Emoji", tags=["due-process"])
    with pytest.raises(ValidationError, match="retired already"):
        services.tag_retire(user=owner, tag=tags["due-process"])
    services.tag_restore(user=owner, tag=tags["due-process"])
    assert _tag(project, "due-process").is_active
    actions = list(
        Activity.objects.filter(object_type="tag", object_id=tags["due-process"].pk)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["tag.retire", "tag.restore"]


def test_the_example_must_be_a_passage_carrying_the_code(project, owner, user, document, tags):
    coded = annotate(user, document, "Shanghai", tags=["due-process"])
    other = annotate(user, document, "Emoji", tags=["extradition"])
    with pytest.raises(ValidationError, match="Choose a passage coded Due process"):
        services.tag_set_example(user=owner, tag=tags["due-process"], annotation=other.pk)
    services.tag_set_example(user=owner, tag=tags["due-process"], annotation=coded.pk)
    assert _tag(project, "due-process").example_id == coded.pk
    # Its passage deleted later, the code is still changed.
    services.annotation_delete(user=user, annotation=coded)
    tag = _tag(project, "due-process")
    tag.definition = "Changed."
    services.tag_save(user=owner, tag=tag)
    services.tag_set_example(user=owner, tag=tag, annotation=None)
    with pytest.raises(ValidationError, match="not a live passage"):
        services.tag_set_example(user=owner, tag=tag, annotation=coded.pk)


# ---------------------------------------------------------------------------------------
# Pages


def test_codebook_page_shows_the_tree_criteria_counts_and_retired_codes_apart(
    client, project, owner, user, document, tags
):
    annotation = annotate(user, document, "Shanghai", tags=["forced-return"])
    tag = tags["forced-return"]
    tag.inclusion = "Deportation without a hearing."
    tag.exclusion = "Extradition with a court hearing."
    services.tag_save(user=owner, tag=tag)
    services.tag_set_example(user=owner, tag=tag, annotation=annotation.pk)
    services.tag_retire(user=owner, tag=tags["oversight-gap"])
    client.force_login(user)
    page = client.get(reverse("projects:codebook", args=[project.pk])).content.decode()
    # Forced return is in a list nested in Extradition's item.
    extradition = page.index(f'id="code-{tags["extradition"].pk}"')
    nested = page.index('<ul aria-label="Codes under Extradition">')
    forced = page.index(f'id="code-{tag.pk}"')
    assert extradition < nested < forced
    assert "Deportation without a hearing." in page
    assert "Extradition with a court hearing." in page
    assert f'href="/documents/{document.pk}/#a{annotation.pk}"' in page
    passages = reverse("research:passages", args=[project.pk]) + f"?code={tag.pk}"
    assert f'href="{passages}">1 passage<' in page
    retired = page.index("Retired codes")
    assert page.index(f'id="code-{tags["oversight-gap"].pk}"') > retired
    assert "Change the codebook" not in page  # a coder


def test_codebook_page_makes_the_same_queries_for_few_and_many_codes(client, project, owner):
    client.force_login(owner)
    url = reverse("projects:codebook", args=[project.pk])
    project_services.code_save(
        user=owner, project=project, values={"name": "One", "colour": "#ffffff", "is_active": True}
    )
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    sample.load_codebook(project)
    services.tag_retire(user=owner, tag=_tag(project, "due-process"))
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert Tag.objects.filter(project=project).count() > 10
    assert len(many) == len(few), [q["sql"][:120] for q in many]


def test_code_page_shows_its_history_to_members(client, project, owner, user, tags):
    tag = tags["due-process"]
    old_name = tag.name
    tag.name = "Fair trial"
    services.tag_save(user=owner, tag=tag)
    services.tag_merge(user=owner, tag=tags["oversight-gap"], into=tag)
    client.force_login(user)
    response = client.get(reverse("projects:code_edit", args=[project.pk, tag.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert f"name: {old_name} → Fair trial" in page
    assert "Oversight gap merged into Fair trial" in page
    assert "Save the code" not in page  # the form is the owners'


def test_owner_merges_on_the_page_and_a_refusal_says_why(client, project, owner, tags):
    client.force_login(owner)
    a, b = tags["forced-return"], tags["extradition"]
    url = reverse("projects:code_merge", args=[project.pk, a.pk])
    refused = client.post(url, {"into": a.pk})
    assert refused.status_code == 422
    assert "Choose another code than Forced return" in refused.content.decode()
    done = client.post(url, {"into": b.pk})
    assert done.status_code == 302
    assert _tag(project, "forced-return").merged_into_id == b.pk


def test_code_add_form_keeps_working_from_the_project_page(client, project, owner, tags):
    client.force_login(owner)
    response = client.post(
        reverse("projects:code_add", args=[project.pk]),
        {"name": "Torture", "colour": "#336699", "is_active": "on", "inclusion": "Any account."},
    )
    assert response.status_code == 302
    assert response["Location"] == project.get_absolute_url()
    assert _tag(project, "torture").inclusion == "Any account."


# ---------------------------------------------------------------------------------------
# REFI-QDA codebook exchange


def _schema():
    return etree.XMLSchema(etree.parse(str(refiqda.SCHEMA_PATH)))


def test_exported_codebook_is_valid_refi_qda(client, project, owner, user, tags):
    tag = tags["forced-return"]
    tag.inclusion = "Deportation & expulsion <without> a hearing."
    services.tag_save(user=owner, tag=tag)
    services.tag_retire(user=owner, tag=tags["oversight-gap"])
    client.force_login(user)
    response = client.get(reverse("projects:codebook_export", args=[project.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.qdc"')
    document = etree.fromstring(response.content).getroottree()
    assert _schema().validate(document), _schema().error_log
    ns = {"q": refiqda.NAMESPACE}
    nested = document.find(
        f".//q:Code[@guid='{tags['extradition'].uuid}']/q:Code[@guid='{tag.uuid}']", ns
    )
    assert nested is not None and nested.get("name") == "Forced return"
    assert "When to use:\nDeportation & expulsion <without> a hearing." in nested.findtext(
        "q:Description", namespaces=ns
    )
    retired = document.find(f".//q:Code[@guid='{tags['oversight-gap'].uuid}']", ns)
    assert retired.get("isCodable") == "false"


def test_export_then_import_into_an_empty_project_reproduces_the_tree(project, owner, tags):
    tag = tags["forced-return"]
    tag.inclusion = "Deportation."
    tag.exclusion = "A court hearing."
    services.tag_save(user=owner, tag=tag)
    services.tag_retire(user=owner, tag=tags["oversight-gap"])
    data = refiqda.codebook_xml(list(Tag.objects.filter(project=project)), origin="test")
    empty = Project.objects.create(name="Empty")
    member(empty, owner, Role.OWNER)

    added = services.codebook_import(user=owner, project=empty, data=data)

    def tree(of):
        return {
            (
                t.uuid,
                t.name,
                t.parent.uuid if t.parent else None,
                t.colour,
                t.definition,
                t.inclusion,
                t.exclusion,
                t.is_active,
            )
            for t in Tag.objects.filter(project=of).select_related("parent")
        }

    assert added == len(tags)
    assert tree(empty) == tree(project)
    assert Activity.objects.filter(action="codebook.import", object_id=empty.pk).count() == 1
    # The same file again: every code is there already, and nothing is added.
    with pytest.raises(ValidationError, match="Nothing was imported"):
        services.codebook_import(user=owner, project=empty, data=data)
    assert Tag.objects.filter(project=empty).count() == len(tags)


CODEBOOK = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="elsewhere"><Codes>{}</Codes></CodeBook>'
)


def _code(guid="6b3d9b8e-1c0f-4a5e-9f7e-2d1c0b9a8f7e", name="Torture", extra="", inner=""):
    return f'<Code guid="{guid}" name="{name}" isCodable="true" {extra}>{inner}</Code>'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"<CodeBook", "not well-formed XML"),
        (b"<CodeBook/>", "not a REFI-QDA CodeBook"),
        (CODEBOOK.format(_code(guid="not-a-guid")).encode(), "not a valid REFI-QDA codebook"),
        (CODEBOOK.format(_code(extra='color="red"')).encode(), "not a valid REFI-QDA codebook"),
        (CODEBOOK.format("").encode(), "not a valid REFI-QDA codebook"),
        (
            (
                '<?xml version="1.0"?><!DOCTYPE CodeBook [<!ENTITY x "boom">]>'
                + CODEBOOK.split("?>\n", 1)[1].format(_code(name="&x;"))
            ).encode(),
            "declares a DTD",
        ),
        (
            (
                '<?xml version="1.0"?><!DOCTYPE CodeBook SYSTEM "http://127.0.0.1:9/x.dtd">'
                + CODEBOOK.split("?>\n", 1)[1].format(_code())
            ).encode(),
            "declares a DTD",
        ),
        (CODEBOOK.format(_code() + _code(name="Other")).encode(), "the guid comes twice"),
        (
            CODEBOOK.format(_code() + _code(guid="7b3d9b8e-1c0f-4a5e-9f7e-2d1c0b9a8f7e")).encode(),
            "the name comes twice",
        ),
        (CODEBOOK.format(_code(name="x" * 101)).encode(), "at most 100 characters"),
        (CODEBOOK.format(_code(guid="not-a-guid")).encode(), "guid"),
        (b" " * (refiqda.MAX_BYTES + 1), "at most"),
    ],
)
def test_a_bad_codebook_file_is_refused_with_the_reason_and_saves_nothing(
    project, owner, data, message
):
    before = Tag.objects.count()
    with pytest.raises(ValidationError) as refused:
        services.codebook_import(user=owner, project=project, data=data)
    assert message in " ".join(refused.value.message_dict["file"])
    assert Tag.objects.count() == before


def test_too_many_codes_are_refused(project, owner, monkeypatch):
    monkeypatch.setattr(refiqda, "MAX_CODES", 2)
    codes = "".join(
        _code(guid=f"6b3d9b8e-1c0f-4a5e-9f7e-2d1c0b9a8f7{i}", name=f"Code {i}") for i in range(3)
    )
    with pytest.raises(ValidationError, match="at most 2 are read at once"):
        services.codebook_import(user=owner, project=project, data=CODEBOOK.format(codes).encode())


def test_codes_nested_too_deep_are_refused(project, owner):
    nested = ""
    for level in range(refiqda.MAX_DEPTH + 1):
        nested = _code(guid=f"6b3d9b8e-1c0f-4a5e-9f7e-{level:012d}", name=f"L{level}", inner=nested)
    with pytest.raises(ValidationError, match=f"at most {refiqda.MAX_DEPTH}"):
        services.codebook_import(user=owner, project=project, data=CODEBOOK.format(nested).encode())
    assert not Tag.objects.filter(project=project).exists()


def test_import_is_all_or_nothing_when_a_name_is_taken(project, owner, tags):
    codes = _code(name="Torture") + _code(
        guid="7b3d9b8e-1c0f-4a5e-9f7e-2d1c0b9a8f7e", name="Extradition"
    )
    with pytest.raises(ValidationError, match="has a code of this name already"):
        services.codebook_import(user=owner, project=project, data=CODEBOOK.format(codes).encode())
    assert not Tag.objects.filter(project=project, name="Torture").exists()


def test_import_reads_nesting_short_colours_and_names_without_latin_letters(project, owner):
    inner = _code(guid="7b3d9b8e-1c0f-4a5e-9f7e-2d1c0b9a8f7e", name="酷刑", extra='color="#a3c"')
    outer = _code(
        name="Torture",
        inner="<Description>Ill-treatment.\n\nWhen not to use:\nLawful detention.</Description>"
        + inner,
    )
    assert (
        services.codebook_import(user=owner, project=project, data=CODEBOOK.format(outer).encode())
        == 2
    )
    child = Tag.objects.get(project=project, name="酷刑")
    assert (child.parent.name, child.colour, child.slug) == ("Torture", "#aa33cc", "code-7b3d9b8e")
    assert (child.parent.definition, child.parent.exclusion) == (
        "Ill-treatment.",
        "Lawful detention.",
    )


def test_import_page_for_owners(client, project, owner, user):
    data = CODEBOOK.format(_code()).encode()
    url = reverse("projects:codebook_import", args=[project.pk])
    client.force_login(user)
    assert client.post(url, {"file": SimpleUploadedFile("c.qdc", data)}).status_code == 403
    client.force_login(owner)
    bad = client.post(url, {"file": SimpleUploadedFile("c.qdc", b"<nope")})
    assert bad.status_code == 422
    assert "not well-formed XML" in bad.content.decode()
    done = client.post(url, {"file": SimpleUploadedFile("c.qdc", data)})
    assert done.status_code == 302
    assert Tag.objects.filter(project=project, name="Torture").exists()


# ---------------------------------------------------------------------------------------
# API


def _json(client, method, url, body, headers):
    return getattr(client, method)(
        url, data=json.dumps(body), content_type="application/json", headers=headers
    )


def test_api_creates_changes_merges_retires_and_restores_codes(
    client, project, owner, user, document, tags, bearer
):
    headers = bearer(owner)
    created = _json(
        client,
        "post",
        reverse("api:tag-list"),
        {
            "project": project.pk,
            "name": "Torture",
            "inclusion": "Any account.",
            "parent": "due-process",
        },
        headers,
    )
    assert created.status_code == 201, created.content
    assert created.json()["slug"] == "torture"
    assert created.json()["parent"] == "due-process"
    assert created["Location"].endswith(f"/api/v1/tags/torture/?project={project.pk}")
    detail = reverse("api:tag-detail", args=["torture"])
    changed = _json(client, "patch", detail, {"colour": "#123456", "parent": None}, headers)
    assert changed.status_code == 200, changed.content
    assert (changed.json()["colour"], changed.json()["parent"]) == ("#123456", None)
    assert changed.json()["inclusion"] == "Any account."

    coded = annotate(user, document, "Shanghai", tags=["torture"])
    merged = _json(
        client, "post", reverse("api:tag-merge", args=["torture"]), {"into": "due-process"}, headers
    )
    assert merged.status_code == 200, merged.content
    assert merged.json()["passages"] == 1
    assert merged.json()["merged"]["merged_into"] == "due-process"
    assert merged.json()["merged"]["is_active"] is False
    assert list(coded.tags.values_list("slug", flat=True)) == ["due-process"]

    restored = client.post(reverse("api:tag-restore", args=["torture"]), headers=headers)
    assert restored.status_code == 200
    assert (restored.json()["is_active"], restored.json()["merged_into"]) == (True, None)
    retired = client.post(reverse("api:tag-retire", args=["torture"]), headers=headers)
    assert retired.json()["is_active"] is False


@pytest.mark.parametrize(
    ("method", "name", "body", "field", "message"),
    [
        ("post", "api:tag-list", {"name": "X", "colour": "red"}, "colour", "#rrggbb"),
        ("post", "api:tag-list", {"name": "X", "parent": "nope"}, "parent", "No code 'nope'"),
        ("post", "api:tag-list", {"name": "X", "id": 3}, "id", "Read-only"),
        (
            "post",
            "api:tag-list",
            {"name": "Extradition"},
            "non_field_errors",
            "Another code of the project has this name.",
        ),
        ("patch", "api:tag-detail", {}, "non_field_errors", "Nothing to change"),
        ("patch", "api:tag-detail", {"slug": "new"}, "slug", "Read-only"),
        ("patch", "api:tag-detail", {"parent": "forced-return"}, "parent", "is below Extradition"),
        ("post", "api:tag-merge", {"into": "extradition"}, "into", "Choose another code"),
        ("post", "api:tag-merge", {"into": "nope"}, "into", "No code 'nope'"),
        ("post", "api:tag-merge", {}, "into", "required"),
        ("post", "api:tag-restore", None, "code", "in use, not retired"),
    ],
)
def test_api_codebook_writes_answer_bad_input_with_400(
    client, project, owner, tags, bearer, method, name, body, field, message
):
    url = reverse(name) if name == "api:tag-list" else reverse(name, args=["extradition"])
    response = (
        _json(client, method, url, body, bearer(owner))
        if body is not None
        else (client.post(url, headers=bearer(owner)))
    )
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()[field])
    assert Tag.objects.filter(project=project).count() == len(tags)


def test_api_codebook_writes_are_for_owners(client, project, user, tags, bearer):
    response = _json(
        client,
        "patch",
        reverse("api:tag-detail", args=["extradition"]),
        {"name": "X"},
        bearer(user),
    )
    assert response.status_code == 403
    created = _json(
        client, "post", reverse("api:tag-list"), {"project": project.pk, "name": "X"}, bearer(user)
    )
    assert created.status_code == 403


def test_a_guid_with_spaces_or_braces_is_read_and_a_bad_one_refused(project, owner):
    added = services.codebook_import(
        user=owner,
        project=project,
        data=CODEBOOK.format(_code(guid=" {6b3d9b8e-1c0f-4a5e-9f7e-2d1c0b9a8f7e} ")).encode(),
    )
    assert added == 1
    assert str(Tag.objects.get(project=project, name="Torture").uuid) == (
        "6b3d9b8e-1c0f-4a5e-9f7e-2d1c0b9a8f7e"
    )


def test_control_characters_in_a_codes_text_leave_the_export_valid(project, owner, tags):
    tag = tags["forced-return"]
    tag.definition = "Sent back\x0bwithout\x0c a hearing."
    services.tag_save(user=owner, tag=tag)
    data = refiqda.codebook_xml(list(Tag.objects.filter(project=project)), origin="A\x01B")
    document = etree.fromstring(data).getroottree()
    assert _schema().validate(document), _schema().error_log
    assert b"Sent backwithout a hearing." in data
