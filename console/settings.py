"""Settings for the Secrets Manager Console.

Everything that differs between a laptop demo and a deployment comes from the environment; the
README's configuration table lists every variable read here.
"""

from __future__ import annotations

from pathlib import Path

from console import instance
from console.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_path,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# The data directory holds the SQLite file, the root key file and job logs. Two instances can
# run side by side by giving each its own SM_DATA_DIR and PORT. Created with mode 0700.
DATA_DIR = instance.data_dir()
# `make run` records the settings it serves this data directory with in DATA_DIR/instance.env;
# every variable that the environment does not set comes from there (console/instance.py).
instance.load_into_environ(DATA_DIR)

DEBUG = env_bool("DEBUG", False)
# The port `make run` (`manage.py serve`) listens on.
PORT = env_int("PORT", 8000, minimum=1, maximum=65535)

JOB_LOG_DIR = DATA_DIR / "jobs"
# State of the embedded "external" services that sample jobs manage credentials in (the token
# service). The only part of the data directory that job runs can see.
SM_EXTERNAL_DIR = DATA_DIR / "external"
SM_SAMPLE_JOBS_DIR = BASE_DIR / "engines_app" / "sample_jobs"
# The operator's folder of programs that Code Engine jobs may run (besides the sample jobs);
# created at start-up. Job runs see it read-only. Not JOB_LOG_DIR, which holds the runs' logs.
SM_JOBS_DIR = env_path("SM_JOBS_DIR", DATA_DIR / "job-commands")
SM_TOKEN_SERVICE_DB = SM_EXTERNAL_DIR / "token-service" / "tokens.sqlite3"

# SECRET_KEY, else the content of SECRET_KEY_FILE, else (under DEBUG only) a random key created
# once per data directory in DATA_DIR/secret.key, mode 0600.
SECRET_KEY = instance.secret_key(DATA_DIR, debug=DEBUG)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# The base URL that Code Engine jobs call back (SM_INSTANCE_URL in the job protocol).
SM_PUBLIC_URL = env_url("SM_PUBLIC_URL", f"http://127.0.0.1:{PORT}")
# Root key for envelope encryption: base64 of 32 bytes. Without it a key file is created in
# DATA_DIR with mode 0600 on first use. SM_ROOT_KEYS_OLD lists retired keys that stay readable
# while `manage.py rotate_root_key` re-wraps data keys.
SM_ROOT_KEY = env_str("SM_ROOT_KEY")
SM_ROOT_KEYS_OLD = env_list("SM_ROOT_KEYS_OLD", [])
SM_ROOT_KEY_FILE = DATA_DIR / "root.key"
# The account and region the embedded instance reports in CRNs.
SM_ACCOUNT_ID = env_str("SM_ACCOUNT_ID", "a5ebf2570dcaedf18d7ed78e216c263a")
SM_REGION = env_str("SM_REGION", "us-south")
SM_INSTANCE_ID = env_str("SM_INSTANCE_ID", "0a4b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_q",
    "console",
    "secrets_app",
    "engines_app",
    "engines_app.providers.embedded.iam",
    "engines_app.providers.embedded.code_engine",
    "engines_app.providers.embedded.resource_controller",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outermost but one: compresses what every middleware below has finished writing. HTML
    # pages only, never a response that may carry a secret value (console/compression.py).
    "console.compression.SafeGZipMiddleware",
    "console.middleware.JsonApiErrorMiddleware",
    # Notes each request's origin for the audit log and writes the refusals it met at the end.
    "console.audit_middleware.AuditMiddleware",
    "console.middleware.ApiAuthenticationMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "console.middleware.ContentSecurityPolicyMiddleware",
    "console.middleware.LoginRequiredMiddleware",
    # Last, so that its checks come after CSRF and sign-in (console/middleware.py).
    "console.middleware.ConsoleInputMiddleware",
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"

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
                "console.context_processors.audit_nav",
                "engines_app.context_processors.cloud_nav",
                "secrets_app.context_processors.task_badge",
            ],
        },
    }
]

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": database_from_url("DATABASE_URL", DATABASE_URL)}
else:
    # IMMEDIATE transactions plus a lock timeout are what keep SQLite free of "database is
    # locked" while the web server and the django-q2 workers write at once; WAL lets readers
    # proceed during writes. CONN_MAX_AGE keeps the ORM broker from reconnecting on every poll.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_path("SQLITE_PATH", DATA_DIR / "console.sqlite3"),
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                # A 64 MB page cache per connection (SQLite's default is 2 MB), filled only as
                # pages are read: at 100k secrets a search's pages no longer evict each other's
                # (issue 13: -0.5 ms a search or label filter page).
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;"
                ),
            },
            "CONN_MAX_AGE": 60,
        }
    }

# A process that the test suite starts (a qcluster) uses the suite's database.
if SM_DB_NAME := env_str("SM_DB_NAME"):
    DATABASES["default"]["NAME"] = SM_DB_NAME

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "secrets:list"
LOGOUT_REDIRECT_URL = "login"
# Failed sign-ins allowed per (client address, username) pair within the window, and per client
# address over all usernames. There is no per-username limit, so nobody can lock a user out
# from another address; whoever guesses is slowed down instead.
LOGIN_THROTTLE_ATTEMPTS = env_int("LOGIN_THROTTLE_ATTEMPTS", 10, minimum=1)
LOGIN_THROTTLE_CLIENT_ATTEMPTS = env_int("LOGIN_THROTTLE_CLIENT_ATTEMPTS", 50, minimum=1)
LOGIN_THROTTLE_WINDOW = 15 * 60
# Re-authentication ("sudo mode", console/reauth.py): how long a password entered (at sign-in or
# at /reauth/) allows Reveal, deletes, role changes and API key creation in the console.
SM_SUDO_MAX_AGE_SECONDS = env_int("SM_SUDO_MAX_AGE_SECONDS", 600, minimum=1, maximum=86_400)

# Throttles count in this cache, so it must be shared by every server process: the database by
# default (the table comes with `migrate`), Redis when REDIS_URL is set.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "sm_cache",
        "OPTIONS": {"MAX_ENTRIES": 50_000},
    }
}
# The job sandbox (engines_app/providers/embedded/code_engine/sandbox.py): auto runs jobs in
# bubblewrap where it works and without it (with warnings) where it does not; required refuses to
# run jobs without it; off never sandboxes. Limits apply to every job run.
SM_JOB_SANDBOX = env_choice("SM_JOB_SANDBOX", "auto", ("auto", "required", "off"))
SM_JOB_BWRAP = env_str("SM_JOB_BWRAP", "bwrap")
SM_JOB_UID = env_int("SM_JOB_UID", 65534, minimum=1)  # used when the server runs as root
SM_JOB_CPU_SECONDS = env_int("SM_JOB_CPU_SECONDS", 300, minimum=1)
SM_JOB_MEMORY_MB = env_int("SM_JOB_MEMORY_MB", 1024, minimum=64)
SM_JOB_MAX_PROCESSES = env_int("SM_JOB_MAX_PROCESSES", 128, minimum=4)
SM_JOB_MAX_FILE_MB = env_int("SM_JOB_MAX_FILE_MB", 64, minimum=1)
# Job runs that one process (each django-q2 worker) supervises at once; more wait, Pending, in
# order. A run costs its job's process only, so this bounds the load that a burst of runs puts on
# the host: at most Q_WORKERS x this many jobs at once.
SM_JOB_MAX_CONCURRENT_RUNS = env_int("SM_JOB_MAX_CONCURRENT_RUNS", 4, minimum=1, maximum=256)

# The callable that turns an API bearer token into a principal (the IAM provider's).
SM_API_TOKEN_VERIFIER = "engines_app.providers.iam.verify_access_token"
# The API's paths that need no bearer token: its OpenAPI document and Swagger UI.
SM_API_PUBLIC_PATHS = frozenset({"/api/v2/openapi.json", "/api/v2/swagger-ui"})

# Request size limits. A request body larger than SM_MAX_REQUEST_BYTES gets 413 on the API; in the
# console form data may be that large, plus the largest file a form reads (4 MB), and more is a
# 413 too (console.middleware.ConsoleInputMiddleware). JSON bodies nested
# deeper than SM_API_MAX_JSON_DEPTH are refused with 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int(
    "SM_MAX_REQUEST_BYTES", 4 * 1024 * 1024, minimum=64 * 1024, maximum=64 * 1024 * 1024
)
SM_API_MAX_JSON_DEPTH = env_int("SM_API_MAX_JSON_DEPTH", 32, minimum=4, maximum=256)
# Failed exchanges at POST /identity/token allowed per client address within the window.
TOKEN_THROTTLE_ATTEMPTS = env_int("TOKEN_THROTTLE_ATTEMPTS", 20, minimum=1)
TOKEN_THROTTLE_WINDOW = 5 * 60
# Lifetime of the embedded IAM's access tokens; a token claiming a longer one is refused.
SM_TOKEN_TTL = env_int("SM_TOKEN_TTL", 3600, minimum=60, maximum=86_400)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env_path("STATIC_ROOT", BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "console.staticfiles.MinifiedManifestStaticFilesStorage"
        )
    },
}

# Security headers. The CSP forbids inline script; htmx is configured through a <meta> tag.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# The header a trusted reverse proxy sets to the client's address (e.g. X-Forwarded-For), for the
# audit log's "from where" and the throttles. Empty (the default): REMOTE_ADDR, as a header is
# otherwise the client's own claim. Its last address is used, the one the proxy appended.
SM_TRUSTED_PROXY_HEADER = env_str("SM_TRUSTED_PROXY_HEADER", "")

# django-q2. timeout < retry, so a slow task is never handed out twice while it still runs;
# bounded attempts, and no replay of missed schedules after downtime.
Q_CLUSTER: dict[str, object] = {
    "name": "secrets-console",
    "workers": env_int("Q_WORKERS", 2, minimum=1, maximum=32),
    "timeout": 90,
    "retry": 120,
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 250,
    # How often an idle cluster asks the ORM broker for work (one indexed SELECT): the wait
    # between a create and its job's start is half of it on average (issue 13: 0.2 s cost
    # 0.1 s of a 0.3 s activation). The Redis broker blocks on its list instead.
    "poll": 0.05,
    "sync": env_bool("Q_SYNC", False),
    "label": "Background tasks",
}
# REDIS_URL: the broker and the cache share that Redis database (Django's cache.clear() is a
# FLUSHDB: it empties the task queue too). Redis hands each task to one cluster and acknowledges
# nothing, so retry and max_attempts apply to the ORM broker only (README, "Production").
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
else:
    Q_CLUSTER["orm"] = "default"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Worker liveness. A django-q2 worker writes a heartbeat whenever it processes the heartbeat task
# (scheduled every minute; `manage.py serve` also probes every SM_WORKER_HEARTBEAT_INTERVAL
# seconds). /healthz answers 503 once the last beat is older than SM_WORKER_STALE_AFTER seconds,
# and `manage.py serve` restarts a cluster that has stopped beating for that long. Keep the
# threshold well above the minute of the schedule when only `manage.py qcluster` runs.
SM_WORKER_STALE_AFTER = env_int("SM_WORKER_STALE_AFTER", 180, minimum=5)
SM_WORKER_HEARTBEAT_INTERVAL = env_int("SM_WORKER_HEARTBEAT_INTERVAL", 15, minimum=1)

# The benchmark's floor page at /bench/floor/ (console/bench_views.py), for bench/run.py only.
SM_BENCH_FLOOR = env_bool("SM_BENCH_FLOOR", False)
