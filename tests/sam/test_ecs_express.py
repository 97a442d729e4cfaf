"""deploy/ecs-express.yaml, the HTTP host on ECS Express Mode: cfn-lint clean, and wired the
way the image and the app expect (port, health check, no command, settings the app accepts,
IAM auth from the task role, the counters as metrics)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

from app import counters
from app.hosts import http_host
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "ecs-express.yaml"


def _load() -> dict[str, Any]:
    template, problems = decode(str(TEMPLATE))
    assert not problems, problems
    assert template is not None
    return dict(template)


T = _load()
RESOURCES: dict[str, Any] = T["Resources"]
SERVICE = RESOURCES["Service"]["Properties"]
CONTAINER = SERVICE["PrimaryContainer"]


@pytest.mark.sam
def test_cfn_lint_reports_nothing() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(TEMPLATE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_runs_as_is_on_its_port_with_the_liveness_check() -> None:
    assert RESOURCES["Service"]["Type"] == "AWS::ECS::ExpressGatewayService"
    assert "Command" not in CONTAINER  # the image's entry point chooses the HTTP host
    assert CONTAINER["ContainerPort"] == Settings().port == 8000
    assert "EXPOSE 8000" in (ROOT / "Dockerfile").read_text()
    assert SERVICE["HealthCheckPath"] == http_host.LIVENESS_PATH


def _environment(**refs: str) -> dict[str, str]:
    """The container's environment with parameters resolved to `refs` (or their defaults)."""
    params = T["Parameters"]
    out: dict[str, str] = {}
    for pair in CONTAINER["Environment"]:
        value = pair["Value"]
        if isinstance(value, dict):
            name = value["Ref"]
            value = refs.get(name, str(params.get(name, {}).get("Default", "")))
        out[pair["Name"]] = str(value)
    return out


def test_the_app_accepts_the_environment_and_connects_with_iam_and_verify_full() -> None:
    env = _environment(
        DbHost="portfolio.cluster-abc.eu-west-1.rds.amazonaws.com", **{"AWS::Region": "eu-west-1"}
    )
    settings = Settings(**{k.lower(): v for k, v in env.items()}, admin_token_sha256="a" * 64)
    assert settings.db_iam_auth
    assert settings.effective_sslmode == "verify-full"
    assert settings.trusted_proxies == ["10.0.0.0/16"]
    assert settings.shutdown_timeout_seconds < 30  # ECS's default stop timeout
    secrets = {s["Name"] for s in CONTAINER["Secrets"]}
    assert secrets == {"ADMIN_TOKEN_SHA256"}


def test_the_task_role_may_only_connect_as_the_one_database_user() -> None:
    statements = [
        s
        for policy in RESOURCES["TaskRole"]["Properties"]["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
    ]
    assert [s["Action"] for s in statements] == ["rds-db:connect"]
    resource = statements[0]["Resource"]["Fn::Sub"]
    assert resource.endswith(":dbuser:${DbResourceId}/${DbUser}")


def test_every_counter_the_app_emits_becomes_a_metric() -> None:
    filters = [
        r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::Logs::MetricFilter"
    ]
    names = {t["MetricName"] for f in filters for t in f["MetricTransformations"]}
    assert names == set(counters.NAMES)
    for f in filters:
        (transform,) = f["MetricTransformations"]
        assert transform["MetricNamespace"] == "PortfolioBackend"
        assert f["FilterPattern"] == f"{{ $.{transform['MetricName']} = * }}"
