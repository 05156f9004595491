"""Shared fixtures, chained: users → codebook → document → annotation."""

from __future__ import annotations

import pytest
from django.http import HttpRequest
from django.test import Client

from documents import sample, services
from documents.models import Annotation, Document, Tag
from projects.models import Membership, Project, Role

#: A small document in several scripts: Latin, Chinese, an emoji and a character outside the
#: Basic Multilingual Plane, Russian, Uyghur (right to left), and markup-like text.
MIXED_TEXT = (
    "Extradition under the Shanghai Convention.\n"
    "上海合作组织 打击恐怖主义、分裂主义和极端主义。\n"
    "Emoji 👩🏽‍⚖️ and 𠀀 before this passage.\n"
    "Россия и Китай подписали договор.\n"
    "ئۇيغۇر تىلى: بۇ بىر جۈملە.\n"
    "<script>alert(1)</script> & <img src=x onerror=alert(2)>\n"
)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The real hasher is slow on purpose; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _client_login_with_a_request(monkeypatch):
    # django-axes refuses a login without the request it throttles by (a ValueError), and
    # the test client's login() passes none: give it an empty one.
    login = Client.login
    monkeypatch.setattr(
        Client,
        "login",
        lambda self, **credentials: login(self, request=HttpRequest(), **credentials),
    )


@pytest.fixture(autouse=True)
def _empty_cache():
    # Test databases count ids from 1 again: what one test kept must not answer the next.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _admins_without_second_factor(settings):
    # Tests log admins in with force_login, which gives no second factor; the requirement
    # itself is tested in test_accounts_mfa.py, which turns it back on.
    settings.MFA_REQUIRED_FOR_ADMINS = False


@pytest.fixture
def project(db) -> Project:
    """The project the fixtures' users work in: the analyst and the colleague code, the
    editor owns it."""
    return Project.objects.create(name="Test project")


def member(project: Project, user, role: str = Role.CODER):
    Membership.objects.create(project=project, user=user, role=role)
    return user


@pytest.fixture
def user(django_user_model, project):
    analyst = django_user_model.objects.create_user(username="analyst", password="analyst-pass-1")
    return member(project, analyst)


@pytest.fixture
def other_user(django_user_model, project):
    colleague = django_user_model.objects.create_user(
        username="colleague", password="colleague-pass-1"
    )
    return member(project, colleague)


@pytest.fixture
def staff_user(django_user_model, project):
    editor = django_user_model.objects.create_user(
        username="editor", password="editor-pass-1", is_staff=True
    )
    return member(project, editor, Role.OWNER)


@pytest.fixture
def tags(project) -> dict[str, Tag]:
    sample.load_codebook(project)
    return {tag.slug: tag for tag in Tag.objects.filter(project=project)}


@pytest.fixture
def document(project, user) -> Document:
    return services.document_create(
        user=None,
        project=project,
        text=MIXED_TEXT,
        metadata=services.DocumentMetadata(title="Mixed scripts", language="en"),
    )


@pytest.fixture
def annotation(document, user, tags) -> Annotation:
    start = document.text.index("Shanghai")
    return services.annotation_create(
        user=user,
        document=document,
        start=start,
        end=start + len("Shanghai Convention"),
        tags=["extradition"],
        note="Treaty basis.",
    )


@pytest.fixture
def sample_corpus(project, tags) -> list[Document]:
    sample.load_corpus(project)
    return list(Document.objects.order_by("pk"))


@pytest.fixture
def bearer(db):
    """Authorization headers with a fresh API token: bearer(user, read_only=False)."""

    def make(user, *, read_only=False):
        _, plain = services.api_token_create(actor=None, user=user, read_only=read_only)
        return {"Authorization": f"Bearer {plain}"}

    return make
