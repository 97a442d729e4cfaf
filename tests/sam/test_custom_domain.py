"""An optional custom domain: the resources exist only when it is set, and the API's docs work
under it.

The template side is translated with the SAM translator (tests/sam/translated.py); the app side
serves an HTTP API event carrying the custom domain, built with the function's environment from
that translation.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from scripts.generate_events import DOMAIN, http_v2
from tests.conftest import lambda_context
from tests.sam.translated import translate

CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
DOMAIN_NAME = "api.example.com"
ZONE = "Z0123456789ABCDEFGHIJ"
WITH_DOMAIN = {"CustomDomainName": DOMAIN_NAME, "CustomDomainCertificateArn": CERTIFICATE}
DOMAIN_TYPES = {
    "AWS::ApiGatewayV2::DomainName",
    "AWS::ApiGatewayV2::ApiMapping",
    "AWS::Route53::RecordSet",
}


def _of_types(given: dict[str, str]) -> dict[str, str]:
    stack = translate(given)
    return {n: r["Type"] for n, r in stack.resources.items() if r["Type"] in DOMAIN_TYPES}


def test_unset_creates_no_domain_resources_and_no_domain_outputs() -> None:
    stack = translate()
    assert _of_types({}) == {}
    outputs = stack.template["Outputs"]
    assert not stack.condition(outputs["CustomDomainUrl"]["Condition"])
    assert not stack.condition(outputs["CustomDomainTarget"]["Condition"])
    assert stack.failed_rules() == []


@pytest.mark.parametrize("stage", ["$default", "prod"])
def test_a_domain_is_mapped_at_its_root_to_the_apis_stage(stage: str) -> None:
    stack = translate(WITH_DOMAIN | {"StageName": stage})
    assert _of_types(WITH_DOMAIN) == {
        "ApiDomainName": "AWS::ApiGatewayV2::DomainName",
        "ApiDomainMapping": "AWS::ApiGatewayV2::ApiMapping",
    }
    domain = stack.properties("ApiDomainName")
    assert domain["DomainName"] == DOMAIN_NAME
    assert domain["DomainNameConfigurations"] == [
        {"CertificateArn": CERTIFICATE, "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}
    ]
    mapping = stack.properties("ApiDomainMapping")
    assert mapping["ApiId"] == {"Ref": "HttpApi"}
    assert mapping["DomainName"] == {"Ref": "ApiDomainName"}
    assert "ApiMappingKey" not in mapping  # the domain's root: no base path for the app to strip
    # The stage SAM creates: a Ref to it names it, and orders the mapping after it.
    (stage_resource,) = stack.of_type("AWS::ApiGatewayV2::Stage")
    assert mapping["Stage"] == {"Ref": stage_resource}
    assert stack.properties(stage_resource)["StageName"] == stage
    assert stack.failed_rules() == []
    assert stack.condition(stack.template["Outputs"]["CustomDomainUrl"]["Condition"])


def test_a_hosted_zone_gets_an_alias_record_to_the_regional_domain() -> None:
    given = WITH_DOMAIN | {"CustomDomainHostedZoneId": ZONE}
    stack = translate(given)
    assert set(_of_types(given)) == {"ApiDomainName", "ApiDomainMapping", "ApiDomainRecord"}
    assert stack.properties("ApiDomainRecord") == {
        "HostedZoneId": ZONE,
        "Name": DOMAIN_NAME,
        "Type": "A",
        "AliasTarget": {
            "DNSName": {"Fn::GetAtt": ["ApiDomainName", "RegionalDomainName"]},
            "HostedZoneId": {"Fn::GetAtt": ["ApiDomainName", "RegionalHostedZoneId"]},
            "EvaluateTargetHealth": False,
        },
    }


@pytest.mark.parametrize(
    ("given", "refused"),
    [
        ({"CustomDomainName": DOMAIN_NAME}, ["CustomDomainNeedsACertificate"]),
        ({"CustomDomainCertificateArn": CERTIFICATE}, ["CustomDomainSettingsNeedADomain"]),
        ({"CustomDomainHostedZoneId": ZONE}, ["CustomDomainSettingsNeedADomain"]),
    ],
)
def test_half_a_domain_is_refused_before_anything_is_built(
    given: dict[str, str], refused: list[str]
) -> None:
    assert translate(given).failed_rules() == refused


def _settings_from(env: dict[str, Any]) -> dict[str, Any]:
    """The app settings the template's environment gives (API_BASE_PATH, when present)."""
    value = env.get("API_BASE_PATH", "")
    assert isinstance(value, str)
    return {"api_base_path": value}


@pytest.mark.parametrize("stage", ["$default", "prod"])
def test_docs_and_openapi_servers_work_under_the_custom_domain(
    make_client: Any, stage: str
) -> None:
    stack = translate(WITH_DOMAIN | {"StageName": stage})
    env = stack.properties("ApiFunction")["Environment"]["Variables"]
    client = make_client(**_settings_from(env))

    def through_domain(path: str) -> dict[str, Any]:
        # Through a custom domain the path has no stage segment, whatever the stage is called;
        # requestContext names the domain and the mapped stage.
        event = http_v2({"method": "GET", "path": path}, domain=DOMAIN_NAME)
        event["requestContext"]["stage"] = stage
        return client.adapter.handle(event, lambda_context())  # type: ignore[no-any-return]

    docs = through_domain("/docs")
    assert docs["statusCode"] == 200
    assert re.search(r"url: '([^']+)'", docs["body"]).group(1) == "/openapi.json"  # type: ignore[union-attr]
    spec = through_domain("/openapi.json")
    assert spec["statusCode"] == 200
    assert "servers" not in json.loads(spec["body"])  # the domain's root: no prefix to announce
    # The execute-api URL keeps working beside it, with the stage in the path.
    direct = client.adapter.handle(
        http_v2({"method": "GET", "path": "/docs"}, stage=stage, domain=DOMAIN), lambda_context()
    )
    prefix = "" if stage == "$default" else f"/{stage}"
    assert re.search(r"url: '([^']+)'", direct["body"]).group(1) == f"{prefix}/openapi.json"  # type: ignore[union-attr]
