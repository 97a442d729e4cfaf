"""The one settings object: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

import hashlib

import pytest

from app.settings import DEFAULT_DATABASE_URL, Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file here


def test_defaults_run_on_sqlite_with_admin_closed() -> None:
    settings = load_settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.admin_token_sha256 is None
    assert (settings.db_connect_timeout, settings.db_statement_timeout_ms) == (3, 5000)
    assert settings.cors_origins == []


def test_values_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    digest = hashlib.sha256(b"t").hexdigest()
    monkeypatch.setenv("ADMIN_TOKEN_SHA256", digest.upper())
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("API_BASE_PATH", "v1/")
    monkeypatch.setenv("DB_EXTERNAL_POOLER", "true")
    settings = load_settings()
    assert settings.admin_token_sha256 == digest
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.api_base_path == "/v1"
    assert settings.db_external_pooler is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ADMIN_TOKEN_SHA256", "not-a-digest"),
        ("DB_CONNECT_TIMEOUT", "soon"),
        ("DB_CONNECT_TIMEOUT", "0"),
        ("LOG_LEVEL", "CHATTY"),
        ("DB_EXTERNAL_POOLER", "perhaps"),
    ],
)
def test_invalid_value_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


def test_settings_are_immutable() -> None:
    with pytest.raises(ValueError, match="frozen"):
        Settings().log_level = "DEBUG"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("given", "used"),
    [
        (
            "postgres://u:p%40ss@db.example:5432/app",
            "postgresql+psycopg2://u:p%40ss@db.example:5432/app",
        ),
        (
            "postgresql://u@db.example/app?sslmode=require",
            "postgresql+psycopg2://u@db.example/app?sslmode=require",
        ),
        ("postgresql+psycopg2://u@db.example/app", "postgresql+psycopg2://u@db.example/app"),
        ("POSTGRES://u@db.example/app", "postgresql+psycopg2://u@db.example/app"),
        ("sqlite:///./local.db", "sqlite:///./local.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_common_database_url_forms_use_the_installed_driver(
    monkeypatch: pytest.MonkeyPatch, given: str, used: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    assert load_settings().database_url == used


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:secret@db.example/app",
        "postgresql+asyncpg://u:secret@db.example/app",
        "postgresql+psycopg://u:secret@db.example/app",
        "db.example:5432/app",
        "postgresql://u:secret@db.example:port/app",
    ],
)
def test_other_database_urls_stop_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(SettingsError, match="DATABASE_URL") as raised:
        load_settings()
    assert "secret" not in str(raised.value)


def test_a_postgres_url_builds_an_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.data.db import build_engine

    monkeypatch.setenv("DATABASE_URL", "postgres://u@127.0.0.1:1/app")
    engine = build_engine(load_settings())
    assert engine.dialect.driver == "psycopg2"
    engine.dispose()


def test_dotenv_file_is_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    # `make run` reads .env from the working directory (the fixture chdir'd to tmp_path).
    from pathlib import Path

    Path(".env").write_text("LOG_LEVEL=DEBUG\nAPI_BASE_PATH=v2\nNOT_A_SETTING=x\n")
    monkeypatch.setenv("API_BASE_PATH", "v1")
    settings = load_settings()
    assert (settings.log_level, settings.api_base_path) == ("DEBUG", "/v1")


def test_invalid_value_in_the_dotenv_file_names_the_variable() -> None:
    from pathlib import Path

    Path(".env").write_text("DB_CONNECT_TIMEOUT=soon\n")
    with pytest.raises(SettingsError, match="DB_CONNECT_TIMEOUT"):
        load_settings()


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # SAM templates declare every variable `sam local --env-vars` may set, "" when unset.
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.setenv("DB_CONNECT_TIMEOUT", "")
    settings = load_settings()
    assert (settings.database_url, settings.db_connect_timeout) == (DEFAULT_DATABASE_URL, 3)


def test_values_given_to_the_model_do_not_read_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    assert Settings(database_url="sqlite://").log_level == "INFO"
    assert load_settings().log_level == "ERROR"
