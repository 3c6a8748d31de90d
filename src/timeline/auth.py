"""Who is asking: bearer tokens (stored only as SHA-256 hashes) carrying a role and an
organisation scope (municipality codes, or ``*`` for all). What a scope covers is decided by
whose seeker it is now (:mod:`timeline.domain.scope`), never by what a request claims.

Tokens come from ``TIMELINE_TOKENS_FILE`` (a JSON list) or ``TIMELINE_TOKENS`` (the same JSON
inline), each entry ``{"name": …, "sha256": <hex of the token>, "role": …, "scope": ["398",
…]}``, the scope ``["*"]`` for every municipality (``"*"`` is read the same). ``timeline token
--name N --role R --scope S`` makes a token and prints a tokens file holding its entry
(docs/cli.md). With no tokens configured and ``TIMELINE_ENVIRONMENT=development``, every
request acts as a development admin (the README's demo); in any other environment a request
without a valid token is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Role = Literal["writer", "caseworker", "auditor", "reporter", "admin"]
ROLES: tuple[Role, ...] = ("writer", "caseworker", "auditor", "reporter", "admin")

#: what each role may do; the API checks these by name
PERMISSIONS: Mapping[str, frozenset[Role]] = {
    "append": frozenset({"writer", "admin"}),
    "lookup": frozenset({"writer", "caseworker", "auditor", "admin"}),
    "read_personal": frozenset({"caseworker", "auditor", "admin"}),
    "worklist": frozenset({"caseworker", "auditor", "admin"}),
    "feed": frozenset({"auditor", "admin"}),
    "access_log": frozenset({"auditor", "admin"}),
    "statistics": frozenset({"reporter", "auditor", "admin"}),
    "audit": frozenset({"auditor", "admin"}),
    "quarantine": frozenset({"auditor", "admin"}),
    "erase": frozenset({"admin"}),
}


class AuthError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    scope: frozenset[str] | None  # None: every organisation

    def may(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]

    def covers(self, municipality: str | None) -> bool:
        return self.scope is None or (municipality is not None and municipality in self.scope)

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"


DEVELOPMENT_ADMIN = Principal("development", "admin", None)


#: the scope of every municipality, as the tokens file writes it
ALL = ["*"]


def _scope(i: int, scope: object) -> frozenset[str] | None:
    """The municipalities of a tokens-file scope: a list of three-digit codes, or ``["*"]``
    for all (``"*"``, the older spelling, is read the same). None: all."""
    if scope in ("*", ALL):
        return None
    if isinstance(scope, list) and scope and all(_is_code(c) for c in scope):
        return frozenset(scope)
    msg = (
        f'token entry {i}: scope must be a list of three-digit municipality codes (["398", '
        f'"016"]) or ["*"] for all, not {json.dumps(scope)}'
    )
    raise ValueError(msg)


def _is_code(value: object) -> bool:
    return isinstance(value, str) and len(value) == 3 and value.isascii() and value.isdigit()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return "tl_" + secrets.token_urlsafe(32)


class TokenRegistry:
    def __init__(self, entries: Iterable[Mapping[str, object]], *, development: bool) -> None:
        self._by_hash: dict[str, Principal] = {}
        for i, entry in enumerate(entries):
            role = str(entry.get("role"))
            if role not in ROLES:
                msg = f"token entry {i}: role must be one of {', '.join(ROLES)}, not {role!r}"
                raise ValueError(msg)
            digest = str(entry.get("sha256", "")).lower()
            if len(digest) != 64:
                msg = f"token entry {i}: sha256 must be the 64-hex SHA-256 of the token"
                raise ValueError(msg)
            codes = _scope(i, entry.get("scope", ALL))
            self._by_hash[digest] = Principal(str(entry.get("name", f"token-{i}")), role, codes)
        self.open_development = development and not self._by_hash

    @classmethod
    def from_settings(
        cls, tokens_json: str | None, tokens_file: str | None, *, development: bool
    ) -> TokenRegistry:
        entries: list[Mapping[str, object]] = []
        if tokens_file:
            entries += json.loads(Path(tokens_file).read_text(encoding="utf-8"))
        if tokens_json:
            entries += json.loads(tokens_json)
        return cls(entries, development=development)

    def authenticate(self, authorization: str | None) -> Principal:
        if authorization is None or not authorization.lower().startswith("bearer "):
            if self.open_development:
                return DEVELOPMENT_ADMIN
            raise AuthError(401, "a bearer token is required (Authorization: Bearer …)")
        digest = token_hash(authorization[7:].strip())
        for known, principal in self._by_hash.items():
            if hmac.compare_digest(known, digest):
                return principal
        raise AuthError(401, "unknown or revoked token")


def require(principal: Principal, permission: str) -> None:
    if not principal.may(permission):
        raise AuthError(403, f"the {principal.role} role may not {permission.replace('_', ' ')}")


def require_purpose(principal: Principal, purpose: str | None, what: str) -> str:
    """The purpose the caller stated for ``what`` (a read of personal data: a timeline, its
    obligations, a look-up, the feed). Every caller states one; only the development admin (no
    tokens configured, development environment) may leave it unstated."""
    if purpose and purpose.strip():
        return purpose.strip()
    if principal is DEVELOPMENT_ADMIN:
        return "unstated (development, no tokens configured)"
    raise AuthError(
        403,
        f"the {principal.role} role must state a purpose for {what} "
        "(X-Purpose header or ?purpose=)",
    )
