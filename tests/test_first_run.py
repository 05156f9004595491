"""A newcomer's first run: `make demo`'s loading (load_demo), the create_user command, the
analyst guide and the empty states that say what to do."""

from __future__ import annotations

import io
import re
from pathlib import Path

import lxml.html
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import AccessEvent
from documents.models import Activity, Annotation, Document, SourceFile
from projects.models import Membership, Project, Role
from sco_annotate.guide import GUIDE, markdown_html
from tests.conftest import member

CORPUS = Path(__file__).resolve().parent.parent / "sample_data" / "corpus"


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def authenticate(*, username: str, password: str):
    """The user if the password is theirs (the login's lockout backend wants a request;
    the password check is what matters here)."""
    user = get_user_model().objects.get(username=username)
    return user if user.check_password(password) else None


def passwords(output: str) -> dict[str, str]:
    return dict(re.findall(r"Log in as '(\w+)' \([^)]*\) with the password (\S+) ", output))


# ---------------------------------------------------------------------------------------
# make demo


def test_load_demo_prints_random_passwords_that_log_in(db):
    first = passwords(run("load_demo"))
    assert set(first) == {"admin", "analyst"}
    assert first["admin"] != first["analyst"]
    for username, password in first.items():
        assert authenticate(username=username, password=password) is not None
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert not get_user_model().objects.get(username="analyst").is_staff
    # Random, never fixed: nothing in the repository holds them, and each account made
    # gets another.
    root = Path(__file__).resolve().parent.parent
    for path in ("Makefile", "README.md", "documents/demo.py", "sample_data/annotations.json"):
        assert first["admin"] not in (root / path).read_text(encoding="utf-8")
    assert len(first["admin"]) >= 16
    other = re.search(r"password is (\S+) ", run("create_user", "someone"))[1]
    assert other not in first.values()


def test_load_demo_makes_the_admin_owner_and_the_analyst_coder_of_the_sample(db):
    run("load_demo")
    project = Project.objects.get()
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert roles == {"admin": Role.OWNER, "analyst": Role.CODER}
    assert Activity.objects.filter(action="membership.add").count() == 2


def test_load_demo_applies_the_proposed_clean_up_and_keeps_the_originals(db):
    run("load_demo")
    hric = Document.objects.get(source_file__filename__startswith="hric-")
    assert "Warning: Cannot modify header" not in hric.text
    assert "Skip to content" not in hric.text
    applied = hric.import_report["cleanup"]["applied"]
    assert {entry["kind"] for entry in applied} == {"navigation", "server_error"}
    assert hric.import_report["cleanup"]["not_applied"] == []
    raw = (CORPUS / hric.source_file.filename).read_bytes()
    assert bytes(hric.source_file.data) == raw
    # The duplicated article body went: the text of the repeated scrape appears once.
    rferl = Document.objects.get(source_file__filename__startswith="rferl-")
    assert rferl.text.count("The Paris-based International Federation") == 1


def test_load_demo_gives_the_analyst_example_annotations_every_view_shows(db, client):
    run("load_demo")
    analyst = get_user_model().objects.get(username="analyst")
    annotations = Annotation.objects.filter(author=analyst)
    assert annotations.count() == 13
    for annotation in annotations.select_related("document"):
        assert annotation.document.text[annotation.start : annotation.end] == annotation.quote
    assert annotations.filter(tags__slug="extradition").exists()
    assert len({a.document_id for a in annotations}) == 5
    project = Project.objects.get()
    client.force_login(analyst)
    passages = client.get(reverse("research:passages", args=[project.pk]))
    assert "coordinated regional form of extradition" in passages.content.decode()
    for name in ("research:matrix", "research:cooccurrence", "research:timeline"):
        page = lxml.html.fromstring(client.get(reverse(name, args=[project.pk])).content)
        assert page.xpath("//table | //svg"), name
    search = client.get(reverse("research:search", args=[project.pk]), {"q": "extradition"})
    assert "hit-document" in search.content.decode()


def test_load_demo_twice_adds_nothing_and_shows_no_password(db):
    run("load_demo")
    counts = (
        Document.objects.count(),
        Annotation.objects.count(),
        Activity.objects.count(),
        Membership.objects.count(),
        get_user_model().objects.count(),
        AccessEvent.objects.count(),
    )
    again = run("load_demo")
    assert passwords(again) == {}
    assert "with the password" not in again
    assert "python manage.py changepassword admin" in again
    assert "python manage.py changepassword analyst" in again
    assert "0 codes and 0 documents added, 0 example annotations" in again
    assert counts == (
        Document.objects.count(),
        Annotation.objects.count(),
        Activity.objects.count(),
        Membership.objects.count(),
        get_user_model().objects.count(),
        AccessEvent.objects.count(),
    )


def test_load_demo_over_raw_sample_data_does_not_import_it_again(db):
    """A database that loaded the corpus raw (before clean-up was applied) keeps it."""
    from documents import sample

    project = sample.sample_project()
    sample.load_codebook(project)
    sample.load_corpus(project, clean=False)
    call_command("create_demo_admin", verbosity=0)
    before = Document.objects.count()
    output = run("load_demo")
    assert Document.objects.count() == before == 5
    assert "The account 'admin' exists" in output
    # The quotes are found in the raw texts too (at the first of two in the scraped-twice
    # article).
    assert Annotation.objects.count() == 13
    assert all(not d.import_report["cleanup"]["applied"] for d in Document.objects.all())


def test_load_demo_leaves_a_deleted_example_annotation_deleted(db):
    from documents import services

    run("load_demo")
    analyst = get_user_model().objects.get(username="analyst")
    annotation = Annotation.objects.filter(author=analyst).first()
    services.annotation_delete(user=analyst, annotation=annotation)
    run("load_demo")
    assert Annotation.objects.filter(author=analyst).count() == 13
    assert Annotation.objects.get(pk=annotation.pk).deleted_at is not None


def test_document_page_shows_what_the_clean_up_removed_and_links_the_original(db, client):
    run("load_demo")
    hric = Document.objects.get(source_file__filename__startswith="hric-")
    client.force_login(get_user_model().objects.get(username="analyst"))
    page = lxml.html.fromstring(client.get(hric.get_absolute_url()).content)
    record = page.xpath("//details[@class='cleanup-record']")[0]
    assert "2 passages of scraping noise removed" in record.xpath("summary")[0].text_content()
    rules = [strong.text for strong in record.xpath(".//li/strong")]
    assert rules == ["Navigation", "Server warning or error page"]
    assert "Warning: Cannot modify header" in record.text_content()
    original = page.xpath("//a[@id='original-file']")[0]
    assert original.get("href") == reverse("documents:original", args=[hric.pk])


def test_document_page_says_when_no_clean_up_was_applied(logged_in_page_client):
    client, document = logged_in_page_client
    page = client.get(document.get_absolute_url()).content.decode()
    assert "Clean-up at import" not in page  # added as text: no import report


@pytest.fixture
def logged_in_page_client(client, user, document):
    client.force_login(user)
    return client, document


# ---------------------------------------------------------------------------------------
# create_user


def test_create_user_prints_a_generated_password_once(db):
    output = run("create_user", "maria")
    password = re.search(r"Its password is (\S+) \(shown only once\)", output)[1]
    assert authenticate(username="maria", password=password) is not None
    assert not get_user_model().objects.get(username="maria").is_staff


def test_create_user_adds_to_a_project_with_a_role(db, project):
    output = run("create_user", "maria", "--project", str(project.pk), "--role", "reviewer")
    assert f"a reviewer of project #{project.pk}" in output
    membership = Membership.objects.get(user__username="maria")
    assert membership.project == project and membership.role == Role.REVIEWER
    assert Activity.objects.filter(action="membership.add").exists()
    event = AccessEvent.objects.get(kind=AccessEvent.Kind.MEMBERSHIP_CHANGED)
    assert event.project_id == project.pk and event.detail["member"] == "maria"


def test_create_user_makes_a_coder_by_default_and_admins_on_request(db, project):
    run("create_user", "maria", "--project", str(project.pk), "--email", "m@example.org")
    assert Membership.objects.get(user__username="maria").role == Role.CODER
    assert get_user_model().objects.get(username="maria").email == "m@example.org"
    run("create_user", "root2", "--admin")
    admin = get_user_model().objects.get(username="root2")
    assert admin.is_staff and admin.is_superuser


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["analyst"], "There is a user named 'analyst' already"),
        (["bad name!"], "Enter a valid username"),
        (["maria", "--project", "999"], "There is no project #999"),
        (["maria", "--project", "0"], "There is no project #0"),
        (["maria", "--project", "99999999999999999999"], "There is no project"),
        (["maria", "--email", "not-an-address"], "is not an e-mail address"),
        (["maria", "--role", "owner"], "give the project with --project ID"),
    ],
)
def test_create_user_refuses_bad_input_and_creates_nothing(db, user, args, message):
    before = get_user_model().objects.count()
    with pytest.raises(CommandError, match=re.escape(message)):
        run("create_user", *args)
    assert get_user_model().objects.count() == before
    assert Membership.objects.filter(user__username="maria").count() == 0


def test_create_user_refuses_an_unknown_role(db):
    with pytest.raises(CommandError, match="invalid choice"):
        run("create_user", "maria", "--project", "1", "--role", "boss")


def test_create_user_prompts_for_a_password_and_checks_it(db, monkeypatch):
    typed = iter(["a-long-passphrase-42", "a-long-passphrase-42"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    output = run("create_user", "maria", "--prompt-password")
    assert "password" not in output.lower()
    assert authenticate(username="maria", password="a-long-passphrase-42") is not None

    weak = iter(["12345678", "12345678"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(weak))
    with pytest.raises(CommandError, match="too common"):
        run("create_user", "pat", "--prompt-password")
    different = iter(["one-passphrase-42", "another-one-43"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(different))
    with pytest.raises(CommandError, match="differ"):
        run("create_user", "pat", "--prompt-password")
    assert not get_user_model().objects.filter(username="pat").exists()


def test_readme_api_example_names_commands_that_exist(db):
    """The README's quick start and API example run as written: the accounts they name are
    the demo's, and a token for one is made by the command it shows."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    token_line = re.search(r"TOKEN=\$\(\.venv/bin/python manage\.py (create_api_token \w+)", readme)
    assert token_line, "the README's API example makes a token with create_api_token"
    run("load_demo")
    token = run(*token_line[1].split()).strip()
    assert len(token) > 20


# ---------------------------------------------------------------------------------------
# The guide and the empty states


def test_guide_page_shows_the_guide_from_docs(client, user):
    client.force_login(user)
    page = lxml.html.fromstring(client.get(reverse("guide")).content)
    shown = [h.text_content() for h in page.xpath("//article[@class='guide']/h2")]
    written = re.findall(r"^## (.+)$", GUIDE.read_text(encoding="utf-8"), re.MULTILINE)
    assert shown == written
    for section in ("Reading", "Tagging", "Search", "Passages", "Comparisons", "Exports"):
        assert section in shown
    assert "API token" in shown
    assert page.xpath("//article//pre/code")


def test_guide_needs_a_login(client, db):
    response = client.get(reverse("guide"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_markdown_html_escapes_what_it_does_not_render():
    rendered = markdown_html(
        "# T\n\nA <script>x</script> & **bold `<b>`** *em*\n\n- one\n  more\n- two\n\n"
        "```\n<tag> & co\n```\n"
    )
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered
    assert "<strong>bold <code>&lt;b&gt;</code></strong>" in rendered
    assert "<em>em</em>" in rendered
    assert "<ul><li>one more</li><li>two</li></ul>" in rendered
    assert "<pre><code>&lt;tag&gt; &amp; co</code></pre>" in rendered
    assert '<h1 id="t">T</h1>' in rendered


def test_header_links_the_guide_and_the_api_docs(client, user):
    client.force_login(user)
    page = lxml.html.fromstring(client.get(reverse("projects:list")).content)
    links = {a.text_content(): a.get("href") for a in page.xpath("//header//nav//a")}
    assert links["Guide"] == reverse("guide")
    assert links["API docs"] == reverse("api-docs")


def test_empty_document_list_tells_owners_to_import(client, staff_user, project):
    client.force_login(staff_user)
    page = lxml.html.fromstring(client.get(reverse("documents:list")).content)
    empty = page.xpath("//*[@class='empty-state']")[0]
    assert "No documents yet" in empty.text_content()
    assert empty.xpath(".//a")[0].get("href") == reverse("documents:import")
    filtered = client.get(reverse("documents:list"), {"q": "nothing like it"}).content.decode()
    assert "No documents match these filters" in filtered


def test_empty_document_list_tells_coders_who_imports(client, user, project):
    client.force_login(user)
    page = lxml.html.fromstring(client.get(reverse("documents:list")).content)
    empty = page.xpath("//*[@class='empty-state']")[0]
    assert "a project's owners import them" in empty.text_content()
    assert not empty.xpath(".//a")


def test_empty_project_page_links_the_import(client, staff_user, user, project):
    client.force_login(staff_user)
    page = lxml.html.fromstring(client.get(project.get_absolute_url()).content)
    link = page.xpath("//p[@class='empty-state']/a")[0]
    assert link.get("href") == f"{reverse('documents:import')}?project={project.pk}"
    client.force_login(user)
    page = lxml.html.fromstring(client.get(project.get_absolute_url()).content)
    assert not page.xpath("//p[@class='empty-state']/a")


def test_source_files_of_the_demo_are_the_raw_scrapes(db):
    run("load_demo")
    for source in SourceFile.objects.all():
        assert bytes(source.data) == (CORPUS / source.filename).read_bytes()


def test_members_fixture_is_reused(project, django_user_model):
    # `member` from conftest adds a membership: the fixture chain the tests above rely on.
    someone = member(project, django_user_model.objects.create_user(username="x"))
    assert Membership.objects.filter(user=someone).exists()
