"""A deploy-time dynamic reference SAM CLI passes through as text must not kill INIT locally,
and must still be refused anywhere else (on AWS CloudFormation resolves it before the function
exists, so the text there is a mistake)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from app.settings import Settings, SettingsError, load_settings

REFERENCE = "{{resolve:ssm:/portfolio/admin-token-sha256}}"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


def test_under_sam_local_the_reference_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_TOKEN_SHA256", REFERENCE)
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    settings = load_settings()
    assert settings.admin_token_sha256 is None
    assert settings.unresolved_references == ("ADMIN_TOKEN_SHA256",)


def test_outside_sam_local_the_reference_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_TOKEN_SHA256", REFERENCE)
    with pytest.raises(
        SettingsError, match="ADMIN_TOKEN_SHA256 is an unresolved dynamic reference"
    ):
        load_settings()


@pytest.mark.parametrize("value", ["not-a-digest", "{{resolve", "a" * 63])
def test_under_sam_local_a_malformed_digest_still_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ADMIN_TOKEN_SHA256", value)
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    with pytest.raises(SettingsError, match="ADMIN_TOKEN_SHA256"):
        load_settings()


def test_the_function_starts_admin_answers_503_and_one_line_names_the_variable(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        client = make_client(admin_token_sha256=REFERENCE, aws_sam_local=True)
    lines = [r.getMessage() for r in caplog.records if "ADMIN_TOKEN_SHA256" in r.getMessage()]
    assert len(lines) == 1 and "unresolved" in lines[0], lines
    assert REFERENCE not in lines[0]  # names the variable; the parameter name stays out of logs
    assert client.get("/health").status == 200
    response = client.post("/projects", {}, admin=True)
    assert (response.status, response.json()) == (503, {"detail": "admin access is not configured"})
