"""The fallback store in the translated template (docs/paused-database.md): a private,
encrypted bucket with a lifecycle for outbox leftovers; a gateway endpoint policy allowing that
bucket and CloudFormation's reply bucket only; least-privilege IAM; both functions told its name."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sam.test_translated_template import MODE_IDS, MODES
from tests.sam.translated import REGION, Stack, translate

CREATE, EXISTING = MODES[0], MODES[2]
BUCKET_ARN = "${FallbackBucket.Arn}"
OBJECTS = {
    f"{BUCKET_ARN}/snapshot/published.json",
    f"{BUCKET_ARN}/outbox/*",
    f"{BUCKET_ARN}/keys/*",
}


def _grants(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Action -> resources allowed, with attributes written as ${Resource.Attribute}."""
    grants: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        resources = statement["Resource"]
        for action in [actions] if isinstance(actions, str) else actions:
            for resource in [resources] if not isinstance(resources, list) else resources:
                grants.setdefault(action, set()).add(_text(resource))
    return grants


def _text(resource: Any) -> str:
    if isinstance(resource, str):
        return resource
    if "Fn::GetAtt" in resource:
        return "${" + ".".join(resource["Fn::GetAtt"]) + "}"
    raise AssertionError(resource)


def test_the_bucket_is_private_encrypted_retained_and_expires_leftovers() -> None:
    stack = translate(CREATE)
    resource = stack.resources["FallbackBucket"]
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    bucket = stack.properties("FallbackBucket")
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"], True
    )
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    rules = {r["Prefix"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert {p: (r["Status"], r["ExpirationInDays"]) for p, r in rules.items()} == {
        "outbox/": ("Enabled", 30),
        "keys/": ("Enabled", 1),
    }
    (deny,) = stack.properties("FallbackBucketPolicy")["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_gateway_endpoint_allows_the_bucket_and_the_reply_bucket_only() -> None:
    stack = translate(CREATE)
    statements = stack.properties("S3Endpoint")["PolicyDocument"]["Statement"]
    assert all(s["Principal"] == "*" for s in statements)
    # The reply bucket's name has the region without dashes (us-east-1: useast1).
    reply = f"arn:aws:s3:::cloudformation-custom-resource-response-{REGION.replace('-', '')}/*"
    assert _grants(statements) == {
        "s3:PutObject": {reply, *OBJECTS},
        "s3:GetObject": OBJECTS,
        "s3:DeleteObject": {f"{BUCKET_ARN}/outbox/*"},
        "s3:ListBucket": {BUCKET_ARN},
    }


def test_the_functions_may_touch_the_three_prefixes_and_nothing_else() -> None:
    stack = translate(CREATE)
    policy = stack.properties("FallbackStorePolicy")
    assert policy["RoleName"] == {"Ref": "FunctionRole"}
    # The role itself names no bucket: the drain function (the bucket's notification target)
    # has this role, so a bucket reference there would be a dependency cycle.
    assert "FallbackBucket" not in set(stack.references(stack.resources["FunctionRole"]))
    assert _grants(policy["PolicyDocument"]["Statement"]) == {
        "s3:GetObject": OBJECTS,
        "s3:PutObject": OBJECTS,
        "s3:DeleteObject": {f"{BUCKET_ARN}/outbox/*"},
        "s3:ListBucket": {BUCKET_ARN},
    }


def _variables(stack: Stack, function: str) -> dict[str, Any]:
    return dict(stack.properties(function)["Environment"]["Variables"])


@pytest.mark.parametrize("given", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("function", ["ApiFunction", "MigrateFunction"])
def test_both_functions_get_the_bucket_in_create_mode_only(
    given: dict[str, str], function: str
) -> None:
    stack = translate(given)
    value = _variables(stack, function)["FALLBACK_BUCKET"]
    if stack.conditions["CreateDatabase"]:
        assert value == {"Ref": "FallbackBucket"}
        assert "FallbackBucket" in stack.resources
    else:
        # Existing subnets may have no route to S3: the fallback stays off there.
        assert value == ""
        assert "FallbackBucket" not in stack.resources
        assert "FallbackBucketPolicy" not in stack.resources
