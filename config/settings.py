"""Settings for Ủy thác, driven by the environment.

SQLite is the zero-setup default; DATABASE_URL points the app at PostgreSQL.
"""

import os
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default=None):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value


def env_bool(name, default=False):
    value = env_str(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_int(name, default):
    value = env_str(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_fraction(name, default):
    """A share between 0 and 1, written as 2/3, 0.5 or 50%."""
    value = (env_str(name) or default).strip()
    try:
        share = Fraction(value[:-1]) / 100 if value.endswith("%") else Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise ImproperlyConfigured(f"{name} must be a share such as 2/3, 0.5 or 50%, not {value!r}") from None
    if not 0 <= share <= 1:
        raise ImproperlyConfigured(f"{name} must be between 0 and 1, not {value!r}")
    return share


def env_list(name, default=""):
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_date(name, default):
    """A date given as YYYY-MM-DD."""
    value = env_str(name, default)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a date as YYYY-MM-DD, not {value!r}") from None


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-for-debug-mode"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
CSRF_FAILURE_VIEW = "organizations.views.errors.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "import_export",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "organizations",
    "borrowers",
    "loans",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Early, so that a database too busy to answer gets a "try again" page wherever it happens, never a 500.
    "config.middleware.DatabaseBusyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.middleware.IgnoreBrowserLanguageMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.MethodNotAllowedPageMiddleware",
    "config.middleware.SignInAgainMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Before the CSRF check reads a body: one larger than the page accepts is refused from its Content-Length.
    "loans.bankfiles.uploads.UploadLimitMiddleware",
    "organizations.audit.AuditMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    # Last, so it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "organizations.context_processors.officer",
                "organizations.context_processors.area",
                "organizations.context_processors.inbox",
            ],
            "builtins": [
                "loans.templatetags.money",
                "organizations.templatetags.personal",
                "organizations.templatetags.audit",
                # |unlocalize for ids in attributes: with thousand separators on, pk 1234 would print as "1.234".
                "django.templatetags.l10n",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("CONN_MAX_AGE", 0),
        # With persistent connections (CONN_MAX_AGE > 0) a connection the database dropped (restart, failover) is
        # replaced at the start of the next request instead of failing it with a 500.
        conn_health_checks=env_bool("CONN_HEALTH_CHECKS", True),
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite under a few officers at once: readers never wait for a writer (WAL); a writer waits its turn (timeout,
    # in seconds) instead of failing; and every transaction takes the write lock as it begins (IMMEDIATE), because
    # SQLite refuses, without waiting, a transaction that read first and then wants to write.
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("SQLITE_TIMEOUT", 20),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    })
    SESSION_ENGINE = "config.sessions"  # a page still opens when its session cannot be refreshed meanwhile
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# A read replica of the primary (PostgreSQL streaming replication): the dashboard and reports read from it, everything
# else from the primary (config/routers.py). In tests it mirrors the test database, so the suite sees one set of data.
if env_str("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        env_str("DATABASE_REPLICA_URL"),
        conn_max_age=env_int("CONN_MAX_AGE", 0),
        conn_health_checks=env_bool("CONN_HEALTH_CHECKS", True),
    )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["config.routers.ReportReplicaRouter"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Failed logins are counted per username and IP address (django-axes); the lock lifts by itself after the cool-off.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_CALLABLE = "organizations.views.logins.login_locked_out"
AXES_CLIENT_IP_CALLABLE = "config.security.client_ip"

# The interface's name for the level above the wards (there are no districts since 1 July 2025), e.g.
# "Phòng giao dịch Quận 12". Empty: the Area's kind_label is shown (the demo's is "Thành phố").
AREA_LABEL = os.environ.get("AREA_LABEL", "")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "organizations:home"
LOGOUT_REDIRECT_URL = "login"

# Language and formats: Vietnamese first, English switchable.
LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", _("Vietnamese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]
USE_I18N = True
USE_THOUSAND_SEPARATOR = True
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / env_str("STATIC_ROOT", "staticfiles")
# Front-end libraries come from npm packages installed at set-up (package.json) and are served by the app: only the
# files the pages use (config/vendor.py), under /static/vendor/.
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "config.vendor.VendorFinder",
]
# Files browsers ask for at the site's root (/favicon.ico), served by WhiteNoise as they are.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env_bool("MANIFEST_STATIC", True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = BASE_DIR / env_str("MEDIA_ROOT", "media")
MEDIA_URL = "media/"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Bank spreadsheet uploads.
IMPORT_MAX_UPLOAD_BYTES = env_int("IMPORT_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Production hardening; all on unless DEBUG.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# No inline script anywhere: every script and style is a file served by the app (config/security.py sends it).
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)

# `manage.py backup` writes here unless told otherwise; the nightly backup job deletes its files older than
# BACKUP_KEEP_DAYS (the newest one is always kept). Files are readable by the app's user only.
BACKUP_DIR = Path(env_str("BACKUP_DIR", str(BASE_DIR / "backups")))
BACKUP_KEEP_DAYS = env_int("BACKUP_KEEP_DAYS", 14)

# Exports prepared by the worker hold citizen IDs: they are kept readable by the app's user only, outside MEDIA_ROOT
# and STATIC_ROOT (no web server serves them; the app does, to the user who asked), and deleted by the
# `exports_cleanup` job once EXPORT_FILE_HOURS are over. An export of more than EXPORT_INLINE_MAX_ROWS rows is
# prepared in the background, and each user has at most EXPORT_MAX_RUNNING_PER_USER being prepared at once.
EXPORT_ROOT = Path(env_str("EXPORT_ROOT", str(BASE_DIR / "private" / "exports")))
EXPORT_FILE_HOURS = env_int("EXPORT_FILE_HOURS", 24)
EXPORT_INLINE_MAX_ROWS = env_int("EXPORT_INLINE_MAX_ROWS", 3000)
EXPORT_MAX_RUNNING_PER_USER = env_int("EXPORT_MAX_RUNNING_PER_USER", 2)
for _public in (MEDIA_ROOT, STATIC_ROOT):
    if EXPORT_ROOT.resolve().is_relative_to(Path(_public).resolve()):
        raise ImproperlyConfigured(f"EXPORT_ROOT must not be inside {_public}: the web server would serve it.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"forbidden_as_one_line": {"()": "config.security.ForbiddenAsOneLine"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"filters": ["forbidden_as_one_line"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}

# Bank spreadsheet imports: caps checked before parsing.
IMPORT_MAX_UNCOMPRESSED_BYTES = env_int("IMPORT_MAX_UNCOMPRESSED_BYTES", 400 * 1024 * 1024)
IMPORT_MAX_XLSX_ENTRIES = env_int("IMPORT_MAX_XLSX_ENTRIES", 200)
# A part that unpacks to more than this many times its packed size is a zip bomb (Apache POI refuses at 100 too).
IMPORT_MAX_COMPRESSION_RATIO = env_int("IMPORT_MAX_COMPRESSION_RATIO", 100)
# CPU seconds the reader of one workbook may spend; past them the file is refused and the server never notices.
IMPORT_READ_SECONDS = env_int("IMPORT_READ_SECONDS", 120)

# Ceilings on typed amounts, in whole đồng (every amount column holds at most 18 digits whatever these say): one
# loan (a program's own maximum applies below this), one household's entry on a 13/TD sheet, and capital figures.
MONEY_MAX_LOAN = env_int("MONEY_MAX_LOAN", 5_000_000_000)
MONEY_MAX_COLLECTION = env_int("MONEY_MAX_COLLECTION", 10_000_000_000)
MONEY_MAX_CAPITAL = env_int("MONEY_MAX_CAPITAL", 100_000_000_000_000)
# The window of business dates: none before the scheme's records begin, none past the far limit; most dates also
# cannot be in the future (each form says).
BUSINESS_DATE_EARLIEST = env_date("BUSINESS_DATE_EARLIEST", "2000-01-01")
BUSINESS_DATE_LATEST = env_date("BUSINESS_DATE_LATEST", "2099-12-31")

# A group review meeting (bình xét) needs this share of the group's member households present (the groups' rules
# ask for two-thirds). Fewer is a warning the officer confirms, not a refusal: the minutes record what happened.
REVIEW_MEETING_MIN_ATTENDANCE = env_fraction("REVIEW_MEETING_MIN_ATTENDANCE", "2/3")

# A job that shows no sign of life for this long (and whose worker process is not known to be alive) died with its
# worker; it is then marked failed so the page stops waiting and the file can be imported again.
IMPORT_STALE_SECONDS = env_int("IMPORT_STALE_SECONDS", 300)
# A job on another machine that shows no sign of life for this long is taken for dead (on the worker's own machine,
# a dead worker is seen at once: its process is gone).
JOB_STALE_SECONDS = env_int("JOB_STALE_SECONDS", 1800)

# Background jobs (Django's task framework; the django-tasks backport until Django 6). The database backend needs no
# other service; TASKS_BACKEND=rq queues on Redis (TASKS_REDIS_URL) for installs with several app servers and
# workers; "immediate" runs each job in the request that asks for it (tests and scripts).
TASKS_BACKEND = env_str("TASKS_BACKEND", "database")
TASKS_REDIS_URL = env_str("TASKS_REDIS_URL", env_str("REDIS_URL", "redis://127.0.0.1:6379/0"))
TASK_BACKENDS = {
    "database": {"BACKEND": "django_tasks_db.DatabaseBackend"},
    "rq": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]},
    "immediate": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"},
}
if TASKS_BACKEND not in TASK_BACKENDS:
    raise ImproperlyConfigured(f"TASKS_BACKEND must be one of {', '.join(TASK_BACKENDS)}, not {TASKS_BACKEND!r}")
TASKS = {"default": TASK_BACKENDS[TASKS_BACKEND]}
if TASKS_BACKEND == "rq":
    INSTALLED_APPS.append("django_rq")
    RQ_QUEUES = {"default": {"URL": TASKS_REDIS_URL, "DEFAULT_TIMEOUT": env_int("TASKS_RQ_TIMEOUT", 3600)}}
