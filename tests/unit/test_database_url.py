"""A PostgreSQL URL is read as libpq reads it: several ``host:port`` pairs (a primary and its
standbys, ``target_session_attrs=read-write`` to use whichever is the primary now) and every
libpq parameter of its query reach the service's connections; an unknown parameter is refused
by name, never silently dropped; the service's own ``schema`` parameter stays ours."""

from __future__ import annotations

import pytest

from timeline.settings import LIBPQ_PARAMS, libpq_params, store_env

FAILOVER_URL = (
    "postgresql://postgres@127.0.0.1:5433,127.0.0.1:5434/timeline?target_session_attrs=read-write"
)


def test_a_multi_host_url_names_every_host_and_its_port_and_keeps_target_session_attrs() -> None:
    env = store_env(FAILOVER_URL)
    assert env["POSTGRES_HOST"] == "127.0.0.1,127.0.0.1"
    assert env["POSTGRES_PORT"] == "5433,5434"
    assert env["POSTGRES_DBNAME"] == "timeline"
    assert env["POSTGRES_USER"] == "postgres"
    assert libpq_params(env) == {
        "host": "127.0.0.1,127.0.0.1",
        "port": "5433,5434",
        "dbname": "timeline",
        "user": "postgres",
        "target_session_attrs": "read-write",
    }


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("postgresql://u@db1,db2:6543/tl", "db1,db2", "5432,6543"),
        ("postgresql://u@db1:6000,db2/tl", "db1,db2", "6000,5432"),
        ("postgresql://u@db1,db2,db3/tl", "db1,db2,db3", "5432,5432,5432"),
        ("postgresql://u@[::1]:5433,[::1]:5434/tl", "::1,::1", "5433,5434"),
        ("postgresql:///tl", "127.0.0.1", "5432"),
    ],
)
def test_every_host_gets_its_own_port_or_the_default(url: str, host: str, port: str) -> None:
    env = store_env(url)
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == (host, port)
    assert env["POSTGRES_DBNAME"] == "tl"


def test_a_single_host_url_gives_the_environment_it_always_gave() -> None:
    env = store_env("postgresql://u:p%40ss@db.example:6543/tl?schema=s1", pool_size=4)
    assert {k: v for k, v in env.items() if k.startswith("POSTGRES_")} == {
        "POSTGRES_DBNAME": "tl",
        "POSTGRES_HOST": "db.example",
        "POSTGRES_PORT": "6543",
        "POSTGRES_USER": "u",
        "POSTGRES_PASSWORD": "p@ss",
        "POSTGRES_SCHEMA": "s1",
        "POSTGRES_POOL_SIZE": "4",
        "POSTGRES_MAX_OVERFLOW": "8",
        "POSTGRES_LOCK_TIMEOUT": "10",
    }
    assert LIBPQ_PARAMS not in env
    assert libpq_params(env)["password"] == "p@ss"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_the_schema_stays_ours_and_the_other_parameters_go_to_libpq(scheme: str) -> None:
    env = store_env(
        f"{scheme}://u@h1:1,h2:2/tl?schema=s2&sslmode=require&connect_timeout=3"
        "&application_name=timeline%20api"
    )
    assert env["POSTGRES_SCHEMA"] == "s2"
    params = libpq_params(env)
    assert "schema" not in params
    assert params["sslmode"] == "require"
    assert params["connect_timeout"] == "3"
    assert params["application_name"] == "timeline api"
    assert (params["host"], params["port"]) == ("h1,h2", "1,2")


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("postgresql://u@h/tl?target_session_atrs=read-write", "target_session_atrs"),
        ("postgresql://u@h/tl?schema=s&pool=3", "pool"),
    ],
)
def test_an_unknown_parameter_is_refused_by_name(url: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        store_env(url)


def test_a_refused_url_does_not_show_its_password() -> None:
    with pytest.raises(ValueError, match="bogus") as refused:
        store_env("postgresql://u:secret@h1:1,h2:2/tl?bogus=1")
    assert "secret" not in str(refused.value)


def test_more_ports_than_hosts_is_refused() -> None:
    with pytest.raises(ValueError, match="2 hosts but 3 ports"):
        store_env("postgresql://u@h1,h2/tl?port=1,2,3")
