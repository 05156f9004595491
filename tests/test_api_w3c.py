"""W3C Web Annotation output, checked against the Recommendation's requirements.

The checks below are written from https://www.w3.org/TR/annotation-model/ (23 February 2017):
§3.1 Annotations, §3.2 bodies and targets, §3.2.4 TextualBody, §3.3.1 lifecycle (created,
modified), §3.3.2 agents, §3.3.5 purpose/motivation, §4 Specific Resources, §4.2.4 Text
Quote Selector, §4.2.5 Text Position Selector, §5.1 Annotation Collection, §5.2 Annotation
Page.
"""

from __future__ import annotations

import datetime
import re
from urllib.parse import urlsplit

import pytest

from documents import services

pytestmark = pytest.mark.django_db

CONTEXT = "http://www.w3.org/ns/anno.jsonld"
#: §3.3.5: the motivations (and purposes) the model defines.
MOTIVATIONS = {
    "assessing", "bookmarking", "classifying", "commenting", "describing", "editing",
    "highlighting", "identifying", "linking", "moderating", "questioning", "replying",
    "tagging",
}  # fmt: skip
#: §3.3.1: xsd:dateTime, which the model says SHOULD have a timezone; we always give UTC.
XSD_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def is_absolute_iri(value):
    parts = urlsplit(value)
    return isinstance(value, str) and parts.scheme in {"http", "https"} and bool(parts.netloc)


def as_list(value):
    return value if isinstance(value, list) else [value]


def has_type(node, name):
    return name in as_list(node.get("type", []))


def check_agent(agent):
    """§3.3.2: an IRI, or an object with a type among Person/Organization/Software."""
    if isinstance(agent, str):
        assert is_absolute_iri(agent)
        return
    assert set(as_list(agent["type"])) & {"Person", "Organization", "Software"}
    for key in ("name", "nickname"):
        if key in agent:
            assert isinstance(agent[key], str) and agent[key]
    if "id" in agent:
        assert is_absolute_iri(agent["id"])


def check_selector(selector):
    if has_type(selector, "TextQuoteSelector"):
        # §4.2.4: exactly one exact; prefix and suffix optional, strings.
        assert isinstance(selector["exact"], str) and selector["exact"]
        for key in ("prefix", "suffix"):
            if key in selector:
                assert isinstance(selector[key], str)
        assert set(selector) <= {"type", "exact", "prefix", "suffix"}
    elif has_type(selector, "TextPositionSelector"):
        # §4.2.5: start and end, non-negative integers, start <= end.
        start, end = selector["start"], selector["end"]
        assert isinstance(start, int) and isinstance(end, int)
        assert not isinstance(start, bool) and not isinstance(end, bool)
        assert 0 <= start <= end
        assert set(selector) <= {"type", "start", "end"}
    else:
        raise AssertionError(f"unexpected selector {selector}")


def check_body(body):
    if has_type(body, "TextualBody"):
        # §3.2.4: the text in value; format and language optional.
        assert isinstance(body["value"], str)
        if "format" in body:
            assert re.match(r"^[a-z]+/[a-z0-9.+-]+$", body["format"])
    elif has_type(body, "SpecificResource"):
        # §4: exactly one source, an IRI (or a resource with an id).
        source = body["source"]
        assert is_absolute_iri(source if isinstance(source, str) else source["id"])
    else:
        assert is_absolute_iri(body["id"])
    if "purpose" in body:
        assert set(as_list(body["purpose"])) <= MOTIVATIONS


def check_annotation(annotation, *, embedded=False):
    """§3.1 and the parts it refers to; `embedded` ones (in a page) need no @context."""
    if not embedded:
        context = annotation["@context"]
        assert context == CONTEXT or CONTEXT in as_list(context)
    assert is_absolute_iri(annotation["id"])
    assert has_type(annotation, "Annotation")
    # §3.1: one or more targets, zero or more bodies.
    targets = as_list(annotation["target"])
    assert targets
    for target in targets:
        if isinstance(target, str):
            assert is_absolute_iri(target)
            continue
        assert is_absolute_iri(target["source"])
        for selector in as_list(target.get("selector", [])):
            check_selector(selector)
    for body in as_list(annotation.get("body", [])):
        check_body(body)
    for key in ("created", "modified"):
        if key in annotation:
            assert XSD_DATETIME.match(annotation[key]), annotation[key]
    if "creator" in annotation:
        for agent in as_list(annotation["creator"]):
            check_agent(agent)
    if "motivation" in annotation:
        assert set(as_list(annotation["motivation"])) <= MOTIVATIONS


def check_page(page):
    """§5.2 Annotation Page, with its Collection (§5.1) embedded in partOf."""
    assert page["@context"] == CONTEXT or CONTEXT in as_list(page["@context"])
    assert is_absolute_iri(page["id"])
    assert has_type(page, "AnnotationPage")
    assert isinstance(page["items"], list)
    for item in page["items"]:
        check_annotation(item, embedded=True)
    for key in ("next", "prev"):
        if key in page:
            assert is_absolute_iri(page[key])
    if "startIndex" in page:
        assert isinstance(page["startIndex"], int) and page["startIndex"] >= 0
    collection = page["partOf"]
    assert is_absolute_iri(collection["id"])
    assert collection["id"] != page["id"]
    assert has_type(collection, "AnnotationCollection")
    assert isinstance(collection["total"], int) and collection["total"] >= 0
    if collection["total"]:
        assert is_absolute_iri(collection["first"])
    return collection


# ---------------------------------------------------------------------------------------


@pytest.fixture
def headers(user, bearer):
    return bearer(user)


@pytest.fixture
def noted(document, user, tags):
    start = document.text.index("👩🏽‍⚖️")
    end = start + len("👩🏽‍⚖️ and 𠀀")
    return services.annotation_create(
        user=user,
        document=document,
        start=start,
        end=end,
        tags=["extradition", "due-process"],
        note="Both scripts.",
    )


def test_annotation_as_jsonld_follows_the_data_model(client, document, noted, headers):
    url = f"/api/v1/annotations/{noted.pk}/"
    response = client.get(url, headers={**headers, "Accept": "application/ld+json"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/ld+json")
    assert 'profile="http://www.w3.org/ns/anno.jsonld"' in response["Content-Type"]
    assert response["ETag"] == '"1-jsonld"'
    annotation = response.json()
    check_annotation(annotation)
    assert annotation["@context"] == CONTEXT
    assert annotation["id"] == f"http://testserver{url}"
    assert annotation["type"] == "Annotation"
    assert annotation["motivation"] == "tagging"
    assert annotation["creator"]["nickname"] == "analyst"
    created = datetime.datetime.fromisoformat(annotation["created"])
    assert created == noted.created
    assert annotation["modified"].endswith("Z")

    tagging = [body for body in annotation["body"] if body.get("purpose") == "tagging"]
    assert [body["source"] for body in tagging] == [
        "http://testserver/api/v1/tags/extradition/",
        "http://testserver/api/v1/tags/due-process/",
    ]
    assert all(body["type"] == "SpecificResource" for body in tagging)
    (comment,) = [body for body in annotation["body"] if body.get("purpose") == "commenting"]
    assert comment == {
        "type": "TextualBody",
        "value": "Both scripts.",
        "format": "text/plain",
        "purpose": "commenting",
    }
    # The tag IRI dereferences to the codebook entry.
    assert client.get(tagging[0]["source"], headers=headers).json()["slug"] == "extradition"

    target = annotation["target"]
    assert target["source"] == f"http://testserver/api/v1/documents/{document.pk}/"
    quote = next(s for s in target["selector"] if s["type"] == "TextQuoteSelector")
    position = next(s for s in target["selector"] if s["type"] == "TextPositionSelector")
    # Both selectors pick the same segment, counted in code points as the model says.
    assert document.text[position["start"] : position["end"]] == quote["exact"]
    assert quote["exact"] == "👩🏽‍⚖️ and 𠀀"
    assert document.text[: position["start"]].endswith(quote["prefix"])
    assert document.text[position["end"] :].startswith(quote["suffix"])


def test_format_query_parameter_selects_jsonld(client, noted, headers):
    response = client.get(f"/api/v1/annotations/{noted.pk}/?format=jsonld", headers=headers)
    check_annotation(response.json())


def test_annotation_without_note_has_only_tag_bodies(client, annotation, user, headers):
    services.annotation_update(user=user, annotation=annotation, note="")
    body = client.get(f"/api/v1/annotations/{annotation.pk}/?format=jsonld", headers=headers)
    assert [b["purpose"] for b in body.json()["body"]] == ["tagging"]


def test_annotation_list_as_jsonld_is_an_annotation_page(client, document, tags, user, headers):
    words = ["Extradition", "Shanghai", "Convention", "Россия", "Китай"]
    for word in words:
        start = document.text.index(word)
        services.annotation_create(
            user=user, document=document, start=start, end=start + len(word), tags=["extradition"]
        )
    url = "/api/v1/annotations/?format=jsonld&page_size=2&tag=extradition"
    first = client.get(url, headers=headers)
    assert first["Content-Type"].startswith("application/ld+json")
    page = first.json()
    collection = check_page(page)
    assert collection["total"] == 5
    assert "prev" not in page and "next" in page
    assert len(page["items"]) == 2
    assert all("@context" not in item for item in page["items"])
    assert "tag=extradition" in collection["id"] and "tag=extradition" in collection["first"]

    seen = [item["id"] for item in page["items"]]
    while "next" in page:
        page = client.get(page["next"], headers=headers).json()
        assert check_page(page) == {**collection, "first": page["partOf"]["first"]}
        assert "prev" in page
        seen += [item["id"] for item in page["items"]]
    assert len(seen) == len(set(seen)) == 5
    exacts = {item["id"]: item["target"]["selector"][0]["exact"] for item in page["items"]}
    assert set(exacts.values()) <= set(words)


def test_jsonld_page_of_nothing_is_still_valid(client, db, headers):
    page = client.get("/api/v1/annotations/?format=jsonld", headers=headers).json()
    collection = check_page(page)
    assert collection["total"] == 0 and page["items"] == []


def test_jsonld_refuses_tombstones(client, annotation, user, headers):
    response = client.get(
        "/api/v1/annotations/?format=jsonld&include_deleted=true", headers=headers
    )
    assert response.status_code == 400
    assert "include_deleted" in response.json()
    services.annotation_delete(user=user, annotation=annotation)
    response = client.get(f"/api/v1/annotations/{annotation.pk}/?format=jsonld", headers=headers)
    assert response.status_code == 404
