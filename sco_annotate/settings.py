"""Settings for sco-annotate, read from the environment.

Two ways to run:
- embedded (no DATABASE_URL): a SQLite file and a generated secret key under DATA_DIR, for a
  newcomer's first run and the demo;
- server (DATABASE_URL set, DEBUG off): every secret and host must be given explicitly, and a
  missing one stops start-up with an error that names it.
"""

from __future__ import annotations

import datetime
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    """A variable, or the contents of the file named by NAME_FILE (Docker secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc}") from exc
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = env(name, "1" if default else "0").strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (1/0, yes/no, on/off), not {value!r}")


def envint(name: str, default: int) -> int:
    value = env(name, str(default))
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", False)
DATA_DIR = Path(env("DATA_DIR", str(BASE_DIR / "data"))).resolve()
DATABASE_URL = env("DATABASE_URL")
# Embedded mode is a single person's machine: a generated key and local hosts are safe there.
EMBEDDED = not DATABASE_URL


def _secret_key() -> str:
    key = env("SECRET_KEY")
    if key:
        return key
    if not (EMBEDDED or DEBUG):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. A server (DATABASE_URL set, DEBUG off) needs one: "
            'generate it with `python -c "import secrets; print(secrets.token_urlsafe(50))"` '
            "and pass it as SECRET_KEY or in a file named by SECRET_KEY_FILE."
        )
    # Kept on disk so that sessions survive a restart of the demo.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        key_file.chmod(0o600)
    return key_file.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    if not (EMBEDDED or DEBUG):
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS is not set. List the host names the server answers to, "
            "separated by commas, for example ALLOWED_HOSTS=annotate.example.org"
        )
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_htmx",
    "template_partials",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
    "projects",
    "documents",
    "research",
    "memos",
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Compresses what every middleware below wrote, so it comes first.
    "sco_annotate.middleware.ApiGZipMiddleware",
    "sco_annotate.middleware.ContentSecurityPolicyMiddleware",
    "sco_annotate.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise, so that static files keep their own caching.
    "sco_annotate.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a login unless its view is marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Turns a locked-out login (django-axes) into the login page with its message.
    "axes.middleware.AxesMiddleware",
    # Idle and absolute session limits; then the second factor that site admins must have.
    "accounts.middleware.SessionLimitsMiddleware",
    "accounts.middleware.MfaRequiredMiddleware",
    # Last, so that its process_exception sees a view's exception first.
    "sco_annotate.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "sco_annotate.urls"
WSGI_APPLICATION = "sco_annotate.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "projects.context_processors.navigation",
            ],
        },
    },
]


def _databases() -> dict[str, dict[str, object]]:
    if EMBEDDED:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
    else:
        url = DATABASE_URL
    try:
        config: dict[str, object] = dict(
            dj_database_url.parse(url, conn_max_age=600, conn_health_checks=True)
        )
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"DATABASE_URL is not a database URL ({exc}). Use "
            "postgres://USER:PASSWORD@HOST:PORT/NAME or sqlite:////absolute/path/to/file.sqlite3"
        ) from exc
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        # WAL lets readers go on while one request writes; IMMEDIATE takes the write lock at
        # the start of a transaction instead of failing half-way with "database is locked".
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    elif config["ENGINE"] not in (
        "django.db.backends.postgresql",
        "django.contrib.gis.db.backends.postgis",
    ):
        raise ImproperlyConfigured(
            f"DATABASE_URL names {config['ENGINE']}; sco-annotate supports PostgreSQL and SQLite."
        )
    elif envbool("DATABASE_PREPARED_STATEMENTS", True):
        # Parameters bound by the server, and statements the app runs again and again (the
        # session, the user, an annotation's insert) prepared on their fifth run on a
        # connection: PostgreSQL then skips parsing and planning them, a tenth of a
        # millisecond per query. Django leaves this off because a pooler in transaction mode
        # (PgBouncer) may hand each transaction another server connection: turn it off
        # (DATABASE_PREPARED_STATEMENTS=0) behind such a pooler.
        options = config.setdefault("OPTIONS", {})
        assert isinstance(options, dict)
        # Added to what the URL's query string set (sslmode, connect_timeout...).
        options.update(server_side_binding=True, prepare_threshold=5)
    return {"default": config}


DATABASES = _databases()


def _caches() -> dict[str, dict[str, object]]:
    # Each document's formatted list of annotations is kept under its version (the key
    # cannot go stale). In this process's memory by default; with several servers (or
    # gunicorn workers) a shared cache such as Redis keeps one copy for all of them.
    url = env("CACHE_URL")
    directory = env("CACHE_DIR")
    if not url and directory:
        # One copy for every worker of one server (bin/serve sets it): files, readable by
        # this account only (bin/serve makes the folder).
        return {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": directory,
                "OPTIONS": {"MAX_ENTRIES": envint("CACHE_MAX_ENTRIES", 200)},
            }
        }
    if not url:
        return {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "OPTIONS": {"MAX_ENTRIES": envint("CACHE_MAX_ENTRIES", 200)},
            }
        }
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(
            "CACHE_URL must be a Redis URL (redis://HOST:6379/0, rediss://... or unix://...)."
        )
    return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}


CACHES = _caches()

# Work that need not hold up a response (indexing long imports for search). With
# BACKGROUND_TASKS=1 (bin/serve sets it) it is queued in the database, in the transaction
# that asked for it, and `manage.py db_worker` does it; otherwise the request does it.
BACKGROUND_TASKS = envbool("BACKGROUND_TASKS", False)
TASKS = {
    "default": {
        "BACKEND": (
            "django_tasks_db.DatabaseBackend"
            if BACKGROUND_TASKS
            else "django_tasks.backends.immediate.ImmediateBackend"
        )
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Accounts (the accounts app): the people who use the app are watched by states, so a
# password alone is not trusted to protect their research.
# Argon2 first: new and changed passwords use it, and the older hashes below are still
# accepted and rewritten as Argon2 at the next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# django-axes checks for a lockout before any other backend runs the password hasher.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins lock the username together with the address they came from (so that an
# attacker cannot lock a researcher out of their own account), and an address that fails
# for many usernames is throttled as a whole (see accounts/lockout.py).
LOGIN_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
LOGIN_ADDRESS_FAILURE_LIMIT = envint("LOGIN_ADDRESS_FAILURE_LIMIT", 30)
LOGIN_LOCKOUT_MINUTES = envint("LOGIN_LOCKOUT_MINUTES", 30)
if not 0 < LOGIN_FAILURE_LIMIT <= LOGIN_ADDRESS_FAILURE_LIMIT:
    raise ImproperlyConfigured(
        "LOGIN_FAILURE_LIMIT must be at least 1 and at most LOGIN_ADDRESS_FAILURE_LIMIT."
    )
if LOGIN_LOCKOUT_MINUTES < 1:
    raise ImproperlyConfigured("LOGIN_LOCKOUT_MINUTES must be at least 1.")
AXES_HANDLER = "accounts.lockout.LockoutHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = datetime.timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "accounts.addresses.client_address"
# A refused attempt during a lockout is neither recorded nor extends it: it costs one read.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
# Logins and logouts are in the app's own access log (accounts.AccessEvent).
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False

# Two-factor authentication (django-otp: TOTP and recovery codes). Site admins must set it
# up before they can do anything else unless MFA_REQUIRED_FOR_ADMINS is off (`make demo`).
MFA_REQUIRED_FOR_ADMINS = envbool("MFA_REQUIRED_FOR_ADMINS", True)
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", "sco-annotate")

# A session ends after SESSION_IDLE_SECONDS without a request and SESSION_LIFETIME_SECONDS
# after the login, whichever comes first (accounts/middleware.py).
SESSION_IDLE_SECONDS = envint("SESSION_IDLE_SECONDS", 2 * 60 * 60)
SESSION_COOKIE_AGE = envint("SESSION_LIFETIME_SECONDS", 12 * 60 * 60)
if not 60 <= SESSION_IDLE_SECONDS <= SESSION_COOKIE_AGE:
    raise ImproperlyConfigured(
        "SESSION_IDLE_SECONDS must be at least 60 and at most SESSION_LIFETIME_SECONDS."
    )

# Mail, for password reset only: without EMAIL_HOST there is no reset by e-mail, and the
# login page says to ask an admin.
EMAIL_HOST = env("EMAIL_HOST")
PASSWORD_RESET_ENABLED = bool(EMAIL_HOST)
if PASSWORD_RESET_ENABLED:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = envint("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
    EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
    EMAIL_TIMEOUT = 20
    DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL")
    if not DEFAULT_FROM_EMAIL:
        raise ImproperlyConfigured(
            "DEFAULT_FROM_EMAIL is not set: with EMAIL_HOST set, give the address password "
            "reset mails come from, e.g. DEFAULT_FROM_EMAIL=annotate@example.org"
        )
    if EMAIL_USE_TLS and EMAIL_USE_SSL:
        raise ImproperlyConfigured("Set EMAIL_USE_TLS or EMAIL_USE_SSL, not both.")
else:
    # Nothing is sent: a mail that fails to send must not be tried in the first place.
    EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# WhiteNoise warns about a missing STATIC_ROOT on every start; an empty one is harmless.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# bin/serve sets STATIC_MANIFEST=1 and runs collectstatic: files then get hashed names and
# far-future caching. Without it (the demo, tests), files are served from the source folders.
STATIC_MANIFEST = envbool("STATIC_MANIFEST", False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST

# Researchers' sessions must not leak where they came from or be framed by another site.
HTTPS = envbool("HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and envbool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
# Behind a proxy, the client's address is the last one the proxy added to X-Forwarded-For
# (accounts/addresses.py): login throttling and the access log need the real one.
BEHIND_PROXY = envbool("BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
# same-origin, not no-referrer: browsers then send "Origin: null" on the app's own form
# posts, which CSRF protection rightly refuses. Other sites still learn nothing.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline scripts or styles anywhere in the app's pages: they work under this policy.
CONTENT_SECURITY_POLICY = env(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
)
# The Django admin and the Swagger UI page (/api/docs/) write inline styles of their own,
# which we cannot move to files: under these paths only, the policy also allows inline
# styles (still no inline script). See ContentSecurityPolicyMiddleware.
CONTENT_SECURITY_POLICY_INLINE_STYLE_PATHS = ("/admin/", "/api/docs/")

# Largest request body Django reads into memory (JSON documents sent to the API included).
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 20 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FILES = envint("DATA_UPLOAD_MAX_NUMBER_FILES", 1000)
# Largest file the importer accepts, in bytes.
IMPORT_MAX_FILE_BYTES = envint("IMPORT_MAX_FILE_BYTES", 50 * 1024 * 1024)
# Largest total a zip archive may unpack to, in bytes (a guard against zip bombs).
IMPORT_MAX_ARCHIVE_BYTES = envint("IMPORT_MAX_ARCHIVE_BYTES", 4 * IMPORT_MAX_FILE_BYTES)

REST_FRAMEWORK: dict[str, object] = {
    # Bearer first: its scheme goes into WWW-Authenticate, so that anonymous calls get a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "documents.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["documents.authentication.TokenScopePermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "sco_annotate.negotiation.ContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "documents.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "NON_FIELD_ERRORS_KEY": "non_field_errors",
    # Timestamps as RFC 3339 in UTC with a Z, the form the W3C output uses too.
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "sco-annotate API",
    "DESCRIPTION": (
        "Documents, the codebook and tagged spans. Offsets (`start`, `end`) count Unicode "
        "code points, as in the W3C Web Annotation Data Model: JavaScript clients convert "
        "from UTF-16 indices (see docs/api.md)."
    ),
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema is for API clients: a token or a session, like every other endpoint.
    "SERVE_PERMISSIONS": ["documents.authentication.TokenScopePermission"],
    "SERVE_AUTHENTICATION": [
        "documents.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # django-axes narrates every login at INFO; its warnings (failures, lockouts) stay.
    "loggers": {"axes": {"level": "WARNING"}},
}
