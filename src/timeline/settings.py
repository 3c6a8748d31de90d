"""Typed settings from the environment (prefix ``TIMELINE_``); the database URL read in one place
(:func:`database`) and turned into the event-sourcing library's env dict (:func:`store_env`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlparse

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_PERSON_KEY = "development-only-person-key-never-use-in-production"
DEV_DIGEST_KEY = "development-only-digest-key-never-use-in-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIMELINE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./timeline.db",
        description="sqlite:///path, postgresql://user:pass@host:port/db[?schema=s], or memory:",
    )
    read_database_url: str | None = Field(
        default=None,
        description="PostgreSQL: one or more hot standbys of the database (postgresql://…, "
        "several host:port in a libpq multi-host URL) serving history, obligations, worklists, "
        "statistics and the feed; appends, the access log and the projection workers stay on "
        "the primary (ops/adr/0010-read-replicas.md). Unset: every read from the primary",
    )
    read_wait_ms: float = Field(
        default=200.0,
        ge=0,
        le=10_000,
        description="a read passing min_position waits at most this long for a standby to "
        "have replayed that far, then the primary serves it",
    )
    environment: Literal["development", "test", "production"] = "development"
    person_key: SecretStr = Field(
        default=SecretStr(DEV_PERSON_KEY),
        description="HMAC key for person_ref (keyed hash of identity codes); "
        "required in production",
    )
    allow_test_identity_codes: bool | None = Field(
        default=None,
        description="accept temporary/test identity codes (900–999); default: not in production",
    )
    future_tolerance_seconds: int = Field(default=300, ge=0)
    digest_algorithm: int = Field(
        default=2,
        ge=1,
        le=2,
        description="content digest of new events: 2 = SHA-256 of RFC 8785 (JCS) JSON; 1 = the "
        "canonical JSON of events stored before JCS (for tests; docs/audit.md)",
    )
    max_batch: int = Field(default=1000, ge=1, le=100_000)
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="most bytes of an HTTP request body; more is refused (413) unread",
    )
    postgres_pool_size: int = Field(
        default=5,
        ge=2,
        description="PostgreSQL: event-store connections a process keeps for requests "
        "(appends, histories; grows to 3x under load)",
    )
    request_pool_size: int = Field(
        default=8,
        ge=1,
        description="PostgreSQL: connections a process keeps for requests' projection reads "
        "and access-log writes (never shared with the jobs)",
    )
    request_pool_timeout: float = Field(
        default=5.0,
        gt=0,
        description="seconds a request waits for a connection before it is answered 503",
    )
    jobs_pool_size: int = Field(
        default=4,
        ge=2,
        description="PostgreSQL: connections for the scheduled jobs (their own pool, and as "
        "many for their reads of the log); jobs beyond it wait their turn",
    )
    jobs_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="timeline serve: the jobs' child process serves its metrics on "
        "127.0.0.1:PORT/metrics (docs/operations.md)",
    )
    ready_max_lag_events: int = Field(
        default=1000,
        ge=0,
        description="/ready: a projection may be this many events behind the log ...",
    )
    ready_max_lag_seconds: float = Field(
        default=120.0,
        ge=0,
        description="... or behind by events recorded at most this many seconds ago",
    )
    tokens: SecretStr | None = Field(
        default=None, description="JSON list of token entries (see timeline.auth)"
    )
    tokens_file: str | None = Field(default=None, description="file holding that JSON list")
    digest_key: SecretStr | None = Field(
        default=None, description="HMAC key signing the daily digests; required in production"
    )
    aggregate_cache_size: int = Field(
        default=10_000, ge=0, description="timelines kept in memory per process (0: none)"
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="base64 of 32 random bytes: wraps every seeker's data key, which seals the "
        "seeker's personal fields (docs/storage.md); required in production. Unset in "
        "development: a key file made beside the SQLite store (memory store: a random key)",
    )
    master_key_previous: SecretStr | None = Field(
        default=None,
        description="the master key before a rotation: keys it wrapped still open until "
        "`timeline keys rotate` re-wraps them under TIMELINE_MASTER_KEY",
    )
    keys_url: str | None = Field(
        default=None,
        description="where the seekers' data keys live (sqlite:///path or postgresql://…"
        "[?schema=s]); default: SQLite timeline.keys.db beside the store, PostgreSQL schema "
        "timeline_keys of the same database. Keep them out of the data backups",
    )

    @model_validator(mode="after")
    def _replicas_of_postgres(self) -> Settings:
        """A read replica is a standby of a PostgreSQL primary: both URLs are PostgreSQL's."""
        if self.read_database_url is None:
            return self
        for variable, url in (
            ("TIMELINE_READ_DATABASE_URL", self.read_database_url),
            ("TIMELINE_DATABASE_URL", self.database_url),
        ):
            if database(url).kind != "postgres":
                msg = (
                    f"{variable} must be a postgresql:// URL when TIMELINE_READ_DATABASE_URL is "
                    "set (read replicas are PostgreSQL hot standbys of the primary)"
                )
                raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            _production_key("TIMELINE_PERSON_KEY", self.person_key, DEV_PERSON_KEY, "person_ref")
            _production_key(
                "TIMELINE_DIGEST_KEY", self.digest_key, DEV_DIGEST_KEY, "the daily digests"
            )
            _production_tokens(self.tokens, self.tokens_file)
            if self.master_key is None or not self.master_key.get_secret_value().strip():
                msg = (
                    "TIMELINE_MASTER_KEY must be set in production (base64 of 32 random bytes: "
                    "it wraps the keys sealing every seeker's personal fields; "
                    "`timeline keys new-master` prints one)"
                )
                raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _master_keys_well_formed(self) -> Settings:
        for variable, value in (
            ("TIMELINE_MASTER_KEY", self.master_key),
            ("TIMELINE_MASTER_KEY_PREVIOUS", self.master_key_previous),
        ):
            if value is not None and value.get_secret_value().strip():
                base64_key(variable, value.get_secret_value())
        if self.keys_url is not None:
            database(self.keys_url)  # a ValueError naming what is wrong
        return self

    @property
    def digest_key_bytes(self) -> bytes:
        key = self.digest_key.get_secret_value() if self.digest_key else DEV_DIGEST_KEY
        return key.encode("utf-8")

    @property
    def test_codes_allowed(self) -> bool:
        if self.allow_test_identity_codes is None:
            return self.environment != "production"
        return self.allow_test_identity_codes


#: the shortest HMAC key production accepts (after stripping surrounding whitespace)
MIN_KEY_LENGTH = 32


def _production_key(variable: str, key: SecretStr | None, default: str, signs: str) -> None:
    """Refuse a missing, blank, short or development key."""
    value = key.get_secret_value() if key is not None else None
    if value is None or not value.strip():
        state = "missing" if value is None else "blank"
        msg = f"{variable} must be set in production (the HMAC key for {signs}); it is {state}"
        raise ValueError(msg)
    if value == default:
        msg = f"{variable} is the development default: set a secret key of your own in production"
        raise ValueError(msg)
    if len(value.strip()) < MIN_KEY_LENGTH:
        msg = (
            f"{variable} must be at least {MIN_KEY_LENGTH} characters in production "
            f"(not counting surrounding whitespace); it has {len(value.strip())}"
        )
        raise ValueError(msg)


def base64_key(variable: str, text: str) -> bytes:
    """The 32 bytes of a base64 key; ValueError naming ``variable`` and the reason."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        msg = f"{variable} is not base64 (it must be base64 of 32 random bytes)"
        raise ValueError(msg) from None
    if len(raw) != MASTER_KEY_BYTES:
        msg = f"{variable} must be base64 of {MASTER_KEY_BYTES} bytes; it decodes to {len(raw)}"
        raise ValueError(msg)
    return raw


#: the length of the master key (AES-256)
MASTER_KEY_BYTES = 32


def _production_tokens(tokens: SecretStr | None, tokens_file: str | None) -> None:
    """Refuse production without at least one bearer token: with none, every request would be
    refused, or (if the environment were mistaken for development) every one an admin."""
    if not (tokens or tokens_file):
        msg = "TIMELINE_TOKENS or TIMELINE_TOKENS_FILE must be set in production"
        raise ValueError(msg)
    count = 0
    if tokens_file:
        try:
            text = Path(tokens_file).read_text(encoding="utf-8")
        except OSError as exc:
            msg = f"TIMELINE_TOKENS_FILE: cannot read {tokens_file}: {exc.strerror or exc}"
            raise ValueError(msg) from None
        count += _token_count("TIMELINE_TOKENS_FILE", text)
    if tokens:
        count += _token_count("TIMELINE_TOKENS", tokens.get_secret_value())
    if count == 0:
        msg = (
            "TIMELINE_TOKENS / TIMELINE_TOKENS_FILE hold no tokens: production needs at least "
            "one (timeline token --name N --role R prints an entry)"
        )
        raise ValueError(msg)


def _token_count(variable: str, text: str) -> int:
    try:
        entries = json.loads(text)
    except ValueError as exc:
        msg = f"{variable} is not valid JSON: {exc}"
        raise ValueError(msg) from None
    if not isinstance(entries, list):
        msg = f"{variable} must hold a JSON list of token entries"
        raise ValueError(msg)
    return len(entries)


def to_env(settings: Settings) -> dict[str, str]:
    """``settings`` as the environment that gives them back (``TIMELINE_…``), for a child
    process (the jobs of ``timeline serve``); unset values are left out."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (list, dict)):
            value = json.dumps(value)
        env[f"TIMELINE_{name.upper()}"] = str(value)
    return env


@dataclass(frozen=True)
class Database:
    """Where the store lives, read from a database URL once. The event store (the library's
    env, :func:`store_env`) and the tables beside it (:mod:`timeline.store.side`) are both
    built from it."""

    kind: Literal["memory", "sqlite", "postgres"]
    #: SQLite: the file
    path: str = ""
    #: PostgreSQL: comma-separated lists of the same length when the URL names several hosts
    #: (a primary and its standbys; ``target_session_attrs`` in ``params`` picks the primary)
    host: str = ""
    port: str = "5432"
    dbname: str = ""
    user: str = ""
    password: str = field(default="", repr=False)
    schema: str = "public"
    #: PostgreSQL: the URL's other libpq parameters (``target_session_attrs``, ``sslmode``…)
    params: dict[str, str] = field(default_factory=dict)

    def libpq(self) -> dict[str, str]:
        """Every libpq connection parameter of a PostgreSQL database."""
        out = {"host": self.host, "port": self.port, "dbname": self.dbname, "user": self.user}
        if self.password:
            out["password"] = self.password
        return {**out, **self.params}


def database(url: str) -> Database:
    """The database of ``url``: ``memory:``, ``sqlite:///path`` or ``postgresql://…``;
    ValueError naming what is wrong."""
    if url in ("memory:", "memory://", "memory"):
        return Database("memory")
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # SQLAlchemy's convention: sqlite:///relative.db, sqlite:////absolute/path.db
        path = unquote(parsed.netloc + parsed.path)
        path = path[1:] if path.startswith("/") and not parsed.netloc else path
        if not path:
            msg = f"no file in SQLite URL {url!r}; e.g. sqlite:///./timeline.db"
            raise ValueError(msg)
        return Database("sqlite", path=path)
    if parsed.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        params, schema = _postgres_params(url, parsed.query)
        return Database(
            "postgres",
            host=params.pop("host"),
            port=params.pop("port"),
            dbname=params.pop("dbname", "") or "postgres",
            user=params.pop("user", "") or "postgres",
            password=params.pop("password", ""),
            schema=schema,
            params=params,
        )
    msg = f"unsupported database URL {url!r}: use sqlite:///path, postgresql://… or memory:"
    raise ValueError(msg)


def store_env(url: str, *, pool_size: int = 5) -> dict[str, str]:
    """The ``eventsourcing`` environment for a database URL (on PostgreSQL a pool of
    ``pool_size`` connections that grows to three times that under load)."""
    db = database(url)
    if db.kind == "memory":
        return {"PERSISTENCE_MODULE": "timeline.store.memory:MemoryFactory"}
    if db.kind == "sqlite":
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": db.path,
            "SQLITE_LOCK_TIMEOUT": "30",
            "APPLICATION_RECORDER_TOPIC": "timeline.store.sqlite:TimelineSQLiteRecorder",
        }
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": db.dbname,
        "POSTGRES_HOST": db.host,
        "POSTGRES_PORT": db.port,
        "POSTGRES_USER": db.user,
        "POSTGRES_PASSWORD": db.password,
        "POSTGRES_SCHEMA": db.schema,
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size * 2),
        "POSTGRES_LOCK_TIMEOUT": "10",
        "APPLICATION_RECORDER_TOPIC": "timeline.store.postgres:TimelinePostgresRecorder",
    }
    if db.params:
        env[LIBPQ_PARAMS] = json.dumps(db.params, sort_keys=True)
    return env


#: The key of :func:`store_env`'s PostgreSQL environment holding the URL's other libpq
#: parameters (``target_session_attrs``, ``sslmode``, ``connect_timeout``…) as a JSON object;
#: the library knows only host, port, database, user and password (see :func:`libpq_params`).
LIBPQ_PARAMS = "POSTGRES_LIBPQ_PARAMS"


def _postgres_params(url: str, query: str) -> tuple[dict[str, str], str]:
    """libpq's own reading of a PostgreSQL URL (several ``host:port`` pairs, percent-encoding,
    every libpq parameter in the query; an unknown one is refused), without this service's
    ``schema`` parameter, which comes back apart. ``host`` and ``port`` are always there,
    comma-separated lists of the same length (one host: 127.0.0.1; a missing port: 5432)."""
    from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415 - only for PostgreSQL URLs

    pairs = parse_qsl(query, keep_blank_values=True)
    schema = next((value for key, value in pairs if key == "schema"), "public")
    rest = urlencode([(k, v) for k, v in pairs if k != "schema"], quote_via=quote)
    base = "postgresql://" + url.split("://", 1)[1].split("?", 1)[0]
    try:
        found = conninfo_to_dict(f"{base}?{rest}" if rest else base)
    except Exception as exc:  # psycopg.ProgrammingError: libpq's message names the parameter
        msg = f"PostgreSQL URL {_without_password(url)!r}: {str(exc).strip()}"
        raise ValueError(msg) from None
    params = {key: str(value) for key, value in found.items()}
    hosts = (params.get("host") or "127.0.0.1").split(",")
    ports = (params.get("port") or "").split(",")
    if len(ports) == 1:  # one port (or none) for every host, as libpq reads it
        ports = ports * len(hosts)
    if len(ports) != len(hosts):
        msg = (
            f"PostgreSQL URL {_without_password(url)!r}: {len(hosts)} hosts but {len(ports)} ports"
        )
        raise ValueError(msg)
    params["host"] = ",".join(host or "127.0.0.1" for host in hosts)
    params["port"] = ",".join(port or "5432" for port in ports)
    return params, schema


def _without_password(url: str) -> str:
    head, at, tail = url.rpartition("@")
    if not at or ":" not in head.split("://", 1)[-1]:
        return url
    return f"{head.rsplit(':', 1)[0]}:***@{tail}"


def libpq_params(env: Mapping[str, object]) -> dict[str, str]:
    """The libpq connection parameters of a PostgreSQL :func:`store_env` environment (or an
    application's ``env``): host and port (lists when the URL named several hosts), database,
    user, password when there is one, and the URL's other parameters, e.g.
    ``target_session_attrs=read-write`` so that only the primary among the hosts is used. Every
    connection of the service is made with all of them (:func:`libpq_extra_params` for the
    library's pool, which is given the first five by the library itself)."""
    params = {
        "host": str(env.get("POSTGRES_HOST") or "127.0.0.1"),
        "port": str(env.get("POSTGRES_PORT") or "5432"),
        "dbname": str(env.get("POSTGRES_DBNAME") or "postgres"),
        "user": str(env.get("POSTGRES_USER") or "postgres"),
    }
    password = env.get("POSTGRES_PASSWORD")
    if password:
        params["password"] = str(password)
    params.update(libpq_extra_params(env))
    return params


def libpq_extra_params(env: Mapping[str, object]) -> dict[str, str]:
    """The URL's libpq parameters beyond host, port, database, user and password."""
    raw = env.get(LIBPQ_PARAMS)
    return {str(k): str(v) for k, v in json.loads(str(raw)).items()} if raw else {}
