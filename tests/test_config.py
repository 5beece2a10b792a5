"""Settings: the seed's variables with the seed's defaults, DATABASE_URL, and one clear line for a bad value."""
import subprocess
import sys

import pytest

from config import SETTINGS, Config, ConfigError
from tests.servers import ROOT, server_environment

SEED_DEFAULTS = {
    "OCPP_HOST": "localhost", "OCPP_WEBSOCKET_PORT": 9000, "OCPP_API_PORT": 9001,
    "OCPP_SYSTEM_NAME": "ocpp-central", "OCPP_HEARTBEAT_INTERVAL": 60, "OCPP_USE_TLS": False,
    "OCPP_CERT_FILE": "cert.pem", "OCPP_KEY_FILE": "key.pem", "DB_TYPE": "sqlite",
    "DB_SQLITE_PATH": "ocpp_server.db", "DB_HOST": "localhost", "DB_PORT": 5432, "DB_USER": "postgres",
    "DB_PASSWORD": "postgres", "DB_NAME": "ocpp_server", "DB_SSL_MODE": "disable",
}


def test_the_seeds_defaults():
    config = Config({})
    assert {name: getattr(config, name) for name in SEED_DEFAULTS} == SEED_DEFAULTS
    assert config.SQLALCHEMY_DATABASE_URI.startswith("sqlite:////") and \
        config.SQLALCHEMY_DATABASE_URI.endswith("/ocpp_server.db")


def test_postgres_from_the_db_variables():
    config = Config({"DB_TYPE": "postgres", "DB_HOST": "db.example", "DB_PORT": "6543", "DB_USER": "ocpp",
                     "DB_PASSWORD": "p@ss:word", "DB_NAME": "central", "DB_SSL_MODE": "require"})
    assert config.SQLALCHEMY_DATABASE_URI == \
        "postgresql+psycopg2://ocpp:p%40ss%3Aword@db.example:6543/central?sslmode=require"
    assert config.DATABASE_KIND == "postgres"


@pytest.mark.parametrize("url, expected", [
    ("postgres://u:p@host:5432/db", "postgresql+psycopg2://u:p@host:5432/db"),
    ("postgresql://u:p@host/db?sslmode=require", "postgresql+psycopg2://u:p@host/db?sslmode=require"),
    ("sqlite:////var/lib/ocpp.db", "sqlite:////var/lib/ocpp.db"),
])
def test_database_url_wins_and_is_made_usable(url, expected):
    config = Config({"DATABASE_URL": url, "DB_TYPE": "sqlite", "DB_HOST": "ignored"})
    assert config.SQLALCHEMY_DATABASE_URI == expected


@pytest.mark.parametrize("name, value", [
    ("OCPP_API_PORT", "abc"), ("OCPP_WEBSOCKET_PORT", "70000"), ("DB_TYPE", "mysql"),
    ("OCPP_USE_TLS", "perhaps"), ("OCPP_HEARTBEAT_INTERVAL", "0"), ("DATABASE_URL", "mysql://x/y"),
    ("OCPP_VALIDATION", "loose"), ("OCPP_COMMAND_TIMEOUT", "-1"), ("WEB_CONCURRENCY", "many"),
])
def test_a_bad_value_names_the_variable(name, value):
    with pytest.raises(ConfigError) as error:
        Config({name: value})
    assert str(error.value).startswith(f"{name}={value!r}: ")


def test_every_setting_has_a_description_and_parses_its_default():
    for setting in SETTINGS:
        assert setting.description
        if setting.default is not None:
            setting.parse(setting.default)


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
    [sys.executable, "-m", "flask", "db", "upgrade"],
])
@pytest.mark.parametrize("name, value", [("OCPP_API_PORT", "abc"), ("DB_TYPE", "mysql")])
def test_start_up_stops_with_one_line_naming_the_variable(command, name, value):
    environment = server_environment("sqlite:////tmp/never-created.db", **{name: value})
    del environment["DATABASE_URL"]
    result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"configuration error: {name}={value!r}: "
                                                  + str(_reason(name, value))]


def _reason(name, value):
    try:
        Config({name: value})
    except ConfigError as error:
        return str(error).split(": ", 1)[1]
