"""A Python client generated from the schema (openapi-python-client), used as it comes.

The README's workflow, driven through the generated code against a live server: pull by tag
since a date following cursors, sync with tombstones, create (retried with an
Idempotency-Key), change with If-Match, delete and restore. A schema that misdescribes an
answer makes the generated parser fail here, as it would for every client built from it.
Runs offline: the generator reads the schema from a file.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client as DjangoClient

pytestmark = [pytest.mark.generated_client, pytest.mark.django_db(transaction=True)]

GENERATOR = shutil.which("openapi-python-client") or str(
    Path(sys.executable).with_name("openapi-python-client")
)


@pytest.fixture
def generated(tmp_path, user, bearer, monkeypatch):
    """The generated package `sco_client`, importable."""
    response = DjangoClient().get("/api/schema/?format=json", headers=bearer(user))
    assert response.status_code == 200
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(response.json()))
    config = tmp_path / "config.json"
    # The package's name, and no formatter run afterwards (none is needed to import it).
    config.write_text(json.dumps({"package_name_override": "sco_client", "post_hooks": []}))
    result = subprocess.run(
        [
            GENERATOR,
            "generate",
            "--path",
            str(schema),
            "--output-path",
            str(tmp_path / "client"),
            "--config",
            str(config),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + "/usr/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # --meta none writes the package's contents straight into the output path.
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "client").rename(tmp_path / "sco_client")
    importlib.invalidate_caches()
    yield importlib.import_module("sco_client")
    for name in [name for name in sys.modules if name.split(".")[0] == "sco_client"]:
        del sys.modules[name]


def _cursor(next_url):
    return parse_qs(urlsplit(next_url).query)["cursor"][0] if next_url else None


def test_generated_client_runs_the_readme_workflow(
    generated, live_server, user, bearer, annotation, sample_corpus
):
    from sco_client import AuthenticatedClient

    token = bearer(user)["Authorization"].removeprefix("Bearer ")
    with AuthenticatedClient(base_url=live_server.url, token=token) as api:
        _workflow(api, annotation)


def _workflow(api, annotation):
    from sco_client.api.annotations import (
        annotations_create,
        annotations_destroy,
        annotations_list,
        annotations_partial_update,
        annotations_restore,
        annotations_retrieve,
    )
    from sco_client.models import (
        Annotation,
        AnnotationCreateRequest,
        AnnotationTombstone,
        Error,
        PatchedAnnotationUpdateRequest,
        VersionConflict,
    )

    since = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)

    # Create one more, so that pages of one need a cursor; a retry with the same key
    # answers the same annotation.
    document = annotation.document
    start = document.text.index("Россия")
    body = AnnotationCreateRequest(
        document=document.pk, start=start, end=start + len("Россия"), tags=["extradition"]
    )
    key = str(uuid.uuid4())
    created = annotations_create.sync_detailed(client=api, body=body, idempotency_key=key)
    assert created.status_code == 201
    assert isinstance(created.parsed, Annotation)
    retried = annotations_create.sync_detailed(client=api, body=body, idempotency_key=key)
    assert retried.status_code == 201
    assert retried.parsed.id == created.parsed.id
    assert retried.headers["Location"] == created.headers["Location"]
    body.note = "Another body"
    reused = annotations_create.sync_detailed(client=api, body=body, idempotency_key=key)
    assert reused.status_code == 422
    assert isinstance(reused.parsed, Error)

    # Pull by tag since a date, one per page, following the cursors.
    pulled, cursor = [], None
    while True:
        page = annotations_list.sync(
            client=api, tag=["extradition"], updated_after=since, page_size=1, cursor=cursor
        )
        pulled += page.results
        cursor = _cursor(page.next_)
        if cursor is None:
            break
    assert {item.id for item in pulled} == {annotation.pk, created.parsed.id}
    assert all(isinstance(item, Annotation) for item in pulled)

    # PATCH with If-Match: the current ETag changes it, an old one is refused with 412.
    etag = annotations_retrieve.sync_detailed(annotation.pk, client=api).headers["ETag"]
    changed = annotations_partial_update.sync_detailed(
        annotation.pk,
        client=api,
        body=PatchedAnnotationUpdateRequest(note="Checked."),
        if_match=etag,
    )
    assert changed.status_code == 200
    assert changed.parsed.note == "Checked."
    stale = annotations_partial_update.sync_detailed(
        annotation.pk,
        client=api,
        body=PatchedAnnotationUpdateRequest(note="Again."),
        if_match=etag,
    )
    assert stale.status_code == 412
    assert isinstance(stale.parsed, VersionConflict)
    assert stale.parsed.current_version == changed.parsed.version

    # Delete; a sync with include_deleted sees the tombstone beside the live one.
    deleted = annotations_destroy.sync_detailed(
        created.parsed.id, client=api, if_match=created.headers["ETag"]
    )
    assert deleted.status_code == 204
    sync = annotations_list.sync(client=api, updated_after=since, include_deleted=True)
    by_id = {item.id: item for item in sync.results}
    assert isinstance(by_id[created.parsed.id], AnnotationTombstone)
    assert by_id[created.parsed.id].deleted is True
    assert isinstance(by_id[annotation.pk], Annotation)
    tombstone = annotations_retrieve.sync(created.parsed.id, client=api)
    assert isinstance(tombstone, AnnotationTombstone)

    # Restore, with the tombstone's ETag; restoring it again is a conflict.
    restored = annotations_restore.sync_detailed(
        created.parsed.id, client=api, if_match=f'"{tombstone.version}"'
    )
    assert restored.status_code == 200
    assert isinstance(restored.parsed, Annotation)
    assert restored.parsed.deleted is False
    again = annotations_restore.sync_detailed(created.parsed.id, client=api)
    assert again.status_code == 409
    assert isinstance(again.parsed, VersionConflict)
