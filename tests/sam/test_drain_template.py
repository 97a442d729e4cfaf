"""The outbox drain in the translated template (docs/paused-database.md, "Once the database is
back"): S3 invokes the drain function for every object created under outbox/, with a
permission for S3 only, no dependency cycle between the bucket, its notification, the function
and its role, Lambda's asynchronous retries, and no S3 access beyond the fallback bucket's."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sam.test_translated_template import MODE_IDS, MODES
from tests.sam.translated import ACCOUNT, Stack, translate

CREATE = MODES[0]


def _cycle_through(stack: Stack, name: str) -> bool:
    return name in stack.ancestors(name)


@pytest.mark.parametrize("given", MODES, ids=MODE_IDS)
def test_no_resource_depends_on_itself(given: dict[str, str]) -> None:
    # The known trap (bucket -> notification -> function -> role -> bucket): CloudFormation
    # refuses the whole template with "Circular dependency between resources".
    stack = translate(given)
    assert [name for name in stack.resources if _cycle_through(stack, name)] == []


def test_objects_created_under_outbox_invoke_the_drain_function() -> None:
    stack = translate(CREATE)
    notification = stack.properties("FallbackBucket")["NotificationConfiguration"]
    assert set(notification) == {"LambdaConfigurations"}
    (target,) = notification["LambdaConfigurations"]
    assert target["Event"] == "s3:ObjectCreated:*"
    assert target["Function"] == {"Fn::GetAtt": ["DrainFunction", "Arn"]}
    # Only outbox/: the drain writes under keys/ and the snapshot is written on every admin
    # change; neither may invoke it (a function triggered by its own writes loops).
    assert target["Filter"] == {"S3Key": {"Rules": [{"Name": "prefix", "Value": "outbox/"}]}}
    function = stack.properties("DrainFunction")
    assert function["ImageConfig"]["Command"] == ["handler.drain"]
    assert function["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}
    # The bucket comes from the event: a reference here would be the cycle.
    assert function["Environment"]["Variables"]["FALLBACK_BUCKET"] == ""
    # In the VPC like the API function: the database is there. S3 invokes it from the service.
    assert function["VpcConfig"] == stack.properties("ApiFunction")["VpcConfig"]


def test_s3_of_this_account_alone_may_invoke_it_and_the_bucket_waits_for_that() -> None:
    stack = translate(CREATE)
    permission = stack.properties("DrainPermission")
    assert permission == {
        "FunctionName": {"Fn::GetAtt": ["DrainFunction", "Arn"]},
        "Action": "lambda:InvokeFunction",
        "Principal": "s3.amazonaws.com",
        "SourceAccount": ACCOUNT,  # the stack's own account
    }
    # S3 checks the destination when the notification is saved: the permission comes first.
    assert "DrainPermission" in stack.ancestors("FallbackBucket")
    # No other principal may invoke the drain.
    invokers = {
        p["Properties"]["Principal"]
        for p in stack.of_type("AWS::Lambda::Permission").values()
        if "DrainFunction" in set(stack.references(p["Properties"]["FunctionName"]))
    }
    assert invokers == {"s3.amazonaws.com"}


def test_a_failed_drain_is_retried_by_lambda() -> None:
    stack = translate(CREATE)
    config = stack.properties("DrainInvokeConfig")
    assert config["FunctionName"] == {"Ref": "DrainFunction"}
    assert config["Qualifier"] == "$LATEST"
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 21600
    function = stack.properties("DrainFunction")
    # Room to wait out a resume (30 s or more after a long pause) within one attempt.
    assert function["Timeout"] >= 60
    # Reserving any would fail the deploy on new accounts (a concurrency quota of 10).
    assert "ReservedConcurrentExecutions" not in function


def test_the_store_policy_is_in_place_before_the_first_snapshot_is_written() -> None:
    # The migration writes the first snapshot and the API function waits for the migration;
    # the S3 grant is a policy of its own now, so both must come after it.
    stack = translate(CREATE)
    assert "FallbackStorePolicy" in stack.ancestors("DatabaseMigration")
    assert "FallbackStorePolicy" in stack.ancestors("ApiFunction")


def test_the_drain_logs_to_its_own_group_the_role_may_write() -> None:
    stack = translate(CREATE)
    group = stack.properties("DrainFunction")["LoggingConfig"]["LogGroup"]
    assert group == {"Ref": "DrainLogGroup"}
    (logs,) = [p for p in stack.properties("FunctionRole")["Policies"] if p["PolicyName"] == "logs"]
    resources: Any = logs["PolicyDocument"]["Statement"][0]["Resource"]
    assert "${DrainLogGroup.Arn}" in resources


@pytest.mark.parametrize("given", MODES[2:], ids=MODE_IDS[2:])
def test_no_drain_without_the_bucket(given: dict[str, str]) -> None:
    stack = translate(given)
    assert not [n for n in stack.resources if n.startswith("Drain")]
