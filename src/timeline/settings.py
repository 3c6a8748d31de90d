"""Typed settings from the environment (prefix ``TIMELINE_``); the database URL read in one place
(:func:`database`) and turned into the event-sourcing library's env dict (:func:`store_env`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlparse

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

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            _production_key("TIMELINE_PERSON_KEY", self.person_key, DEV_PERSON_KEY, "person_ref")
            _production_key(
                "TIMELINE_DIGEST_KEY", self.digest_key, DEV_DIGEST_KEY, "the daily digests"
            )
            _production_tokens(self.tokens, self.tokens_file)
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
    host: str = ""
    port: int = 5432
    dbname: str = ""
    user: str = ""
    password: str = field(default="", repr=False)
    schema: str = "public"


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
        query = parse_qs(parsed.query)
        return Database(
            "postgres",
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            dbname=unquote(parsed.path.lstrip("/")) or "postgres",
            user=unquote(parsed.username or "postgres"),
            password=unquote(parsed.password or ""),
            schema=query.get("schema", ["public"])[0],
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
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": db.dbname,
        "POSTGRES_HOST": db.host,
        "POSTGRES_PORT": str(db.port),
        "POSTGRES_USER": db.user,
        "POSTGRES_PASSWORD": db.password,
        "POSTGRES_SCHEMA": db.schema,
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size * 2),
        "POSTGRES_LOCK_TIMEOUT": "10",
        "APPLICATION_RECORDER_TOPIC": "timeline.store.postgres:TimelinePostgresRecorder",
    }
