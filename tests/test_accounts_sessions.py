"""Sessions end after an idle time and an absolute lifetime; the clock is frozen by setting
the session's stored timestamps."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from accounts import sessions
from accounts.models import AccessEvent


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def set_clocks(client, *, started_ago=0, seen_ago=0):
    now = int(time.time())
    session = client.session
    session[sessions.STARTED_KEY] = now - started_ago
    session[sessions.SEEN_KEY] = now - seen_ago
    session.save()


def session_writes(queries):
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("UPDATE") and "django_session" in q["sql"]
    ]


def test_a_session_idle_too_long_ends_at_the_login_page_with_a_message(logged_in, settings):
    set_clocks(logged_in, started_ago=60, seen_ago=settings.SESSION_IDLE_SECONDS + 1)
    response = logged_in.get("/?page=1")
    assert response.status_code == 302
    assert response["Location"] == reverse("login") + "?next=%2F%3Fpage%3D1"
    assert "_auth_user_id" not in logged_in.session
    page = logged_in.get(response["Location"]).content.decode()
    assert "minutes without activity" in page
    event = AccessEvent.objects.get(kind="logout")
    assert event.detail == {"ended": "idle"} and event.username == "analyst"


def test_a_session_used_within_the_idle_time_goes_on(logged_in, settings):
    set_clocks(logged_in, started_ago=60, seen_ago=settings.SESSION_IDLE_SECONDS - 5)
    assert logged_in.get("/").status_code == 200


def test_a_session_ends_after_its_lifetime_however_active(logged_in, settings):
    set_clocks(logged_in, started_ago=settings.SESSION_COOKIE_AGE + 1, seen_ago=1)
    response = logged_in.get("/", follow=True)
    assert response.redirect_chain[0][0].startswith(reverse("login"))
    assert "hours after you logged in" in response.content.decode()
    assert AccessEvent.objects.get(kind="logout").detail == {"ended": "lifetime"}


def test_the_lifetime_is_shorter_than_djangos_two_weeks(settings):
    assert settings.SESSION_COOKIE_AGE == 12 * 60 * 60
    assert settings.SESSION_IDLE_SECONDS == 2 * 60 * 60


def test_an_htmx_request_after_expiry_gets_hx_redirect(logged_in, settings, document):
    set_clocks(logged_in, seen_ago=settings.SESSION_IDLE_SECONDS + 1)
    page = document.get_absolute_url()
    response = logged_in.get(
        reverse("documents:annotation_panel", args=[document.pk]),
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("login") + "?next=" + page.replace("/", "%2F")
    assert response.content == b""


def test_an_anonymous_htmx_request_gets_hx_redirect_to_the_login_page(client, document):
    response = client.get(
        reverse("documents:annotation_panel", args=[document.pk]),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("login"))


def test_the_api_answers_401_after_expiry(logged_in, settings):
    set_clocks(logged_in, seen_ago=settings.SESSION_IDLE_SECONDS + 1)
    response = logged_in.get("/api/v1/documents/")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")


def test_activity_is_written_at_most_once_a_minute(logged_in, django_assert_max_num_queries):
    set_clocks(logged_in, started_ago=30, seen_ago=30)
    seen = logged_in.session[sessions.SEEN_KEY]
    with django_assert_max_num_queries(50) as queries:
        assert logged_in.get("/").status_code == 200
    assert session_writes(queries) == []
    assert logged_in.session[sessions.SEEN_KEY] == seen
    set_clocks(logged_in, started_ago=90, seen_ago=61)
    with django_assert_max_num_queries(50) as queries:
        logged_in.get("/")
    assert len(session_writes(queries)) == 1
    assert logged_in.session[sessions.SEEN_KEY] >= int(time.time()) - 2


def test_login_starts_the_clocks(client, user):
    client.post(reverse("login"), {"username": "analyst", "password": "analyst-pass-1"})
    now = int(time.time())
    assert now - 5 <= client.session[sessions.STARTED_KEY] <= now
    assert client.session[sessions.SEEN_KEY] == client.session[sessions.STARTED_KEY]


def test_a_session_from_before_the_limits_starts_its_clocks(logged_in):
    session = logged_in.session
    del session[sessions.STARTED_KEY], session[sessions.SEEN_KEY]
    session.save()
    assert logged_in.get("/").status_code == 200
    assert sessions.STARTED_KEY in logged_in.session
