"""Production start-up refuses settings that would make it unsafe, naming the variable."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from timeline.auth import token_hash
from timeline.settings import DEV_DIGEST_KEY, DEV_PERSON_KEY, Settings

KEY = "k" * 32
MASTER_KEY = "bWFzdGVyIGtleSBvZiB0aGlydHktdHdvIGJ5dGVzISE="  # base64 of 32 bytes
TOKENS = json.dumps([{"name": "w", "sha256": token_hash("t"), "role": "writer", "scope": "*"}])


@pytest.fixture(autouse=True)
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the environment, as at start-up: a sound production set."""
    for name in list(os.environ):
        if name.startswith("TIMELINE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TIMELINE_ENVIRONMENT", "production")
    monkeypatch.setenv("TIMELINE_PERSON_KEY", KEY)
    monkeypatch.setenv("TIMELINE_DIGEST_KEY", KEY.upper())
    monkeypatch.setenv("TIMELINE_TOKENS", TOKENS)
    monkeypatch.setenv("TIMELINE_MASTER_KEY", MASTER_KEY)


def _refused(monkeypatch: pytest.MonkeyPatch, **env: str | None) -> str:
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    return str(caught.value)


def test_a_sound_production_set_starts() -> None:
    assert Settings().environment == "production"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "missing"),
        ("", "blank"),
        ("   \t ", "blank"),
        (DEV_DIGEST_KEY, "development default"),
        ("k" * 31, "at least 32 characters"),
        ("   " + "k" * 31 + "   ", "at least 32 characters"),
    ],
)
def test_production_refuses_a_weak_digest_key(
    monkeypatch: pytest.MonkeyPatch, value: str | None, reason: str
) -> None:
    message = _refused(monkeypatch, TIMELINE_DIGEST_KEY=value)
    assert "TIMELINE_DIGEST_KEY" in message
    assert reason in message


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "development default"),  # the default is the development key
        (DEV_PERSON_KEY, "development default"),
        (" " * 40, "blank"),
        ("\t" * 8 + "p" * 20 + "\n" * 8, "at least 32 characters"),
    ],
)
def test_production_refuses_a_weak_person_key(
    monkeypatch: pytest.MonkeyPatch, value: str | None, reason: str
) -> None:
    message = _refused(monkeypatch, TIMELINE_PERSON_KEY=value)
    assert "TIMELINE_PERSON_KEY" in message
    assert reason in message


def test_production_refuses_no_tokens_and_an_empty_token_list(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert "TIMELINE_TOKENS or TIMELINE_TOKENS_FILE" in _refused(monkeypatch, TIMELINE_TOKENS=None)
    assert "hold no tokens" in _refused(monkeypatch, TIMELINE_TOKENS="[]")
    empty = tmp_path / "tokens.json"
    empty.write_text("[]\n", encoding="utf-8")
    message = _refused(monkeypatch, TIMELINE_TOKENS=None, TIMELINE_TOKENS_FILE=str(empty))
    assert "hold no tokens" in message
    # a file with tokens is enough
    full = tmp_path / "full.json"
    full.write_text(TOKENS, encoding="utf-8")
    monkeypatch.setenv("TIMELINE_TOKENS_FILE", str(full))
    assert Settings().tokens_file == str(full)


def test_production_names_an_unreadable_or_malformed_token_list(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    message = _refused(monkeypatch, TIMELINE_TOKENS="{not json")
    assert "TIMELINE_TOKENS is not valid JSON" in message
    message = _refused(monkeypatch, TIMELINE_TOKENS='{"name": "w"}')
    assert "TIMELINE_TOKENS must hold a JSON list" in message
    missing = tmp_path / "nowhere.json"
    message = _refused(monkeypatch, TIMELINE_TOKENS=None, TIMELINE_TOKENS_FILE=str(missing))
    assert f"TIMELINE_TOKENS_FILE: cannot read {missing}" in message


def test_development_keeps_its_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TIMELINE_PERSON_KEY", "TIMELINE_DIGEST_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("TIMELINE_ENVIRONMENT", "development")
    monkeypatch.setenv("TIMELINE_TOKENS", "[]")
    assert Settings().digest_key_bytes == DEV_DIGEST_KEY.encode()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "must be set in production"),
        ("   ", "must be set in production"),
        ("not base64!", "not base64"),
        ("c2hvcnQ=", "base64 of 32 bytes; it decodes to 5"),
    ],
)
def test_production_refuses_a_missing_or_malformed_master_key(
    monkeypatch: pytest.MonkeyPatch, value: str | None, reason: str
) -> None:
    message = _refused(monkeypatch, TIMELINE_MASTER_KEY=value)
    assert "TIMELINE_MASTER_KEY" in message
    assert reason in message


def test_a_malformed_previous_master_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _refused(monkeypatch, TIMELINE_MASTER_KEY_PREVIOUS="QUJD")
    assert "TIMELINE_MASTER_KEY_PREVIOUS must be base64 of 32 bytes; it decodes to 3" in message
