"""The jobs' child process of ``timeline serve`` gets its settings through the environment:
every setting must come back as it was given (``to_env``)."""

from __future__ import annotations

import json
import os

import pytest

from timeline.settings import Settings, to_env


@pytest.mark.parametrize(
    "given",
    [
        {},
        {
            "database_url": "postgresql://u:p%40ss@db.example:6543/tl?schema=s1",
            "environment": "production",
            "person_key": "p" * 40,
            "digest_key": "d" * 40,
            "tokens": json.dumps(
                [{"name": "a", "sha256": "0" * 64, "role": "admin", "scope": "*"}]
            ),
            "allow_test_identity_codes": False,
            "request_pool_size": 3,
            "request_pool_timeout": 0.25,
            "jobs_pool_size": 7,
            "ready_max_lag_events": 0,
            "ready_max_lag_seconds": 1.5,
            "aggregate_cache_size": 0,
        },
    ],
)
def test_settings_come_back_from_their_environment(
    given: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(**given)  # type: ignore[arg-type]
    env = to_env(settings)
    for name in list(os.environ):
        if name.startswith("TIMELINE_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    again = Settings()

    def plain(s: Settings) -> dict[str, object]:
        return {
            k: v.get_secret_value() if hasattr(v, "get_secret_value") else v
            for k, v in s.model_dump().items()
        }

    assert plain(again) == plain(settings)
