"""Login, logout, password change and reset, two-factor (under accounts/), the access log."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path

from . import views

# Django's own names (login, logout, password_reset...), which its views reverse.
urlpatterns: list[URLPattern | URLResolver] = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/code/", views.login_code, name="login_code"),
    path("logout/", views.logout, name="logout"),
    path("password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "password_reset/",
        views.reset_by_mail(auth_views.PasswordResetView.as_view()),
        name="password_reset",
    ),
    path(
        "password_reset/done/",
        views.reset_by_mail(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        views.reset_by_mail(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        views.reset_by_mail(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
    path("2fa/", views.mfa_overview, name="mfa"),
    path("2fa/setup/", views.mfa_setup, name="mfa_setup"),
    path("2fa/disable/", views.mfa_disable, name="mfa_disable"),
    path("2fa/recovery-codes/", views.mfa_recovery_codes, name="mfa_recovery_codes"),
]

access_log_urlpatterns: list[URLPattern | URLResolver] = [
    path("access-log/", views.access_log, name="access_log"),
]
