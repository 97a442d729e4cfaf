"""What the line-by-line review of the template against AWS's documentation found (issue 18).

Each test translates template.yaml with the SAM translator and evaluates it for one set of
parameter values (tests/sam/translated.py), or reads the template as CloudFormation receives it.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest

from tests.sam import translated
from tests.sam.translated import Stack, load, translate

TODAY = datetime.date.today()
PROXY_ON = {"EnableRdsProxy": "true"}


def _scaling(stack: Stack) -> dict[str, Any]:
    return dict(stack.properties("DatabaseCluster")["ServerlessV2ScalingConfiguration"])


# -- 1. SecondsUntilAutoPause only at a minimum of 0 ----------------------------------------------


@pytest.mark.parametrize("minimum", ["0", "0.5", "1", "2.5", "256"])
def test_seconds_until_auto_pause_is_sent_only_when_the_minimum_is_zero(minimum: str) -> None:
    # RDS: "SecondsUntilAutoPause can only be specified when minimum capacity is 0".
    scaling = _scaling(translate({"DbMinCapacity": minimum}))
    assert scaling["MinCapacity"] == minimum
    if minimum == "0":
        assert scaling["SecondsUntilAutoPause"] == "300"
    else:
        assert "SecondsUntilAutoPause" not in scaling


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("0", True),
        ("0.5", True),
        ("1", True),
        ("1.5", True),
        ("128", True),
        ("255.5", True),
        ("256", True),
        # Other spellings of zero would pass a Number parameter and skip the condition.
        ("0.0", False),
        ("00", False),
        ("0.00", False),
        ("-0", False),
        ("+0", False),
        (" 0", False),
        # Not Serverless v2 capacities.
        ("0.25", False),
        ("256.5", False),
        ("257", False),
        ("1.0", False),
    ],
)
def test_zero_has_one_spelling(value: str, allowed: bool) -> None:
    spec = load()["Parameters"]["DbMinCapacity"]
    assert spec["Type"] == "String"
    assert (re.fullmatch(spec["AllowedPattern"], value) is not None) is allowed


# -- 2. engine versions ------------------------------------------------------------------------

# End of Aurora standard support per major, from AWS's Aurora PostgreSQL release calendar for
# major versions (each ends on the last day of February):
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraPostgreSQLReleaseNotes/aurorapostgresql-release-calendar.html
END_OF_STANDARD_SUPPORT = {
    11: datetime.date(2024, 2, 29),
    12: datetime.date(2025, 2, 28),
    13: datetime.date(2026, 2, 28),
    14: datetime.date(2027, 2, 28),
    15: datetime.date(2028, 2, 29),
    16: datetime.date(2029, 2, 28),
    17: datetime.date(2030, 2, 28),
    18: datetime.date(2031, 2, 28),
}
# The first minor of each major that scales to 0 ACU (auto-pause):
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.how-it-works.html
ZERO_ACU_FROM = {14: "14.12", 15: "15.7", 16: "16.3", 17: "17.4"}


def test_the_default_minor_version_is_less_than_nine_months_old() -> None:
    # AWS retires minor versions, typically about a year after release: a fork that deploys the
    # default months from now must still find it offered.
    template = load()
    released = datetime.date.fromisoformat(
        template["Metadata"]["Versions"]["DbEngineVersionReleased"]
    )
    default = template["Parameters"]["DbEngineVersion"]["Default"]
    assert f"{default} (released {released.isoformat()}" in TEMPLATE_TEXT
    age = TODAY - released
    assert age <= datetime.timedelta(days=9 * 30), (
        f"DbEngineVersion's default {default} was released {age.days} days ago: move it to a "
        "newer minor (and DbEngineVersionReleased with it)"
    )


@pytest.mark.parametrize("major", range(10, 21))
def test_the_version_pattern_admits_exactly_the_majors_in_standard_support(major: int) -> None:
    pattern = load()["Parameters"]["DbEngineVersion"]["AllowedPattern"]
    supported = major in END_OF_STANDARD_SUPPORT and END_OF_STANDARD_SUPPORT[major] > TODAY
    assert (re.fullmatch(pattern, f"{major}.4") is not None) is supported


def test_the_version_notes_name_the_zero_acu_minimum_of_every_admitted_major() -> None:
    spec = load()["Parameters"]["DbEngineVersion"]
    pattern = spec["AllowedPattern"]
    for major, first in ZERO_ACU_FROM.items():
        admitted = re.fullmatch(pattern, f"{major}.4") is not None
        assert (f"{first}+" in spec["Description"]) is admitted, major
    assert "only moves forward" in spec["Description"]
    assert re.fullmatch(pattern, spec["Default"])


# -- 3. the VPC block is fixed ---------------------------------------------------------------------


def test_the_vpc_block_says_it_cannot_change() -> None:
    description = load()["Parameters"]["VpcCidr"]["Description"]
    assert "cannot change" in description and "first deploy" in description


# -- 4. regions and zones ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "mode", "refused"),
    [
        ("ap-south-2", "create", True),  # Hyderabad
        ("ap-southeast-4", "create", True),  # Melbourne
        ("ap-southeast-6", "create", True),  # New Zealand
        ("ap-south-2", "existing", False),  # no Data API needed
        ("us-east-1", "create", False),
        ("eu-central-1", "create", False),
    ],
)
def test_create_mode_is_refused_where_the_data_api_is_not_offered(
    region: str, mode: str, refused: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = {"DatabaseMode": mode}
    if mode == "existing":
        given["ExistingDatabaseSecretArn"] = translated.EXISTING_SECRET
    stack = translate(given)
    monkeypatch.setitem(stack.template, "Rules", stack.template["Rules"])
    monkeypatch.setitem(translated.PSEUDO, "AWS::Region", region)
    failed = stack.failed_rules()
    assert ("CreateModeNeedsTheDataApi" in failed) is refused
    assert set(failed) <= {"CreateModeNeedsTheDataApi"}


def test_the_zones_default_to_the_earlier_picks_and_can_be_named() -> None:
    default = translate()
    assert [
        default.properties(s)["AvailabilityZone"] for s in ("PrivateSubnetA", "PrivateSubnetB")
    ] == [
        {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
        {"Fn::Select": [1, {"Fn::GetAZs": ""}]},
    ]
    named = translate({"AvailabilityZoneA": "us-east-1b", "AvailabilityZoneB": "us-east-1c"})
    assert [
        named.properties(s)["AvailabilityZone"] for s in ("PrivateSubnetA", "PrivateSubnetB")
    ] == [
        "us-east-1b",
        "us-east-1c",
    ]
    assert named.failed_rules() == []
    same = translate({"AvailabilityZoneA": "us-east-1b", "AvailabilityZoneB": "us-east-1b"})
    assert same.failed_rules() == ["TwoDifferentZones"]
    pattern = load()["Parameters"]["AvailabilityZoneA"]["AllowedPattern"]
    for zone in ("", "us-east-1a", "ap-southeast-4c", "us-gov-west-1a"):
        assert re.fullmatch(pattern, zone), zone
    for zone in ("use1-az3", "us-east-1", "US-EAST-1A"):
        assert not re.fullmatch(pattern, zone), zone


# -- 6. rotating the admin token reaches the functions -----------------------------------------


@pytest.mark.parametrize("source", ["ssm", "secretsmanager"])
def test_rotating_the_admin_digest_changes_both_functions_and_reruns_the_check(
    source: str,
) -> None:
    before = translate({"AdminTokenDigestSource": source, "AdminTokenDigestVersion": "1"})
    after = translate({"AdminTokenDigestSource": source, "AdminTokenDigestVersion": "2"})
    for function in ("ApiFunction", "MigrateFunction"):
        old = before.properties(function)["Environment"]["Variables"]["ADMIN_TOKEN_SHA256"]
        new = after.properties(function)["Environment"]["Variables"]["ADMIN_TOKEN_SHA256"]
        # CloudFormation compares the reference text: a new version is an update it performs.
        assert old != new, function
        assert new.endswith("2}}") and new.startswith("{{resolve:" + source + ":")
    # The migration resource changes too, so the migrate function checks the new digest (and
    # fails the deploy on a malformed one) before the API function takes it.
    assert before.properties("DatabaseMigration") != after.properties("DatabaseMigration")


def test_a_deploy_without_a_digest_version_is_refused() -> None:
    stack = translate({"AdminTokenDigestVersion": ""})
    assert stack.failed_rules() == ["AdminDigestNeedsAVersion"]
    assert translate().failed_rules() == []


@pytest.mark.parametrize(
    ("version", "allowed"),
    [
        ("1", True),
        ("42", True),
        ("8f7e6d5c-1a2b-4c3d-9e8f-0a1b2c3d4e5f", True),
        ("", True),
        ("0", False),
        ("latest", False),
        ("AWSCURRENT", False),
    ],
)
def test_the_digest_version_is_an_ssm_version_or_a_secret_version_id(
    version: str, allowed: bool
) -> None:
    pattern = load()["Parameters"]["AdminTokenDigestVersion"]["AllowedPattern"]
    assert (re.fullmatch(pattern, version) is not None) is allowed


# -- 9. turning the proxy on keeps the functions' way to the cluster open ----------------------


def _connect_resources(stack: Stack) -> list[str]:
    return [
        resource
        for policy in stack.properties("FunctionRole")["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Action"] == "rds-db:connect"
        for resource in statement["Resource"]
    ]


def _egress_targets(stack: Stack) -> set[str]:
    return {
        stack.properties(n)["DestinationSecurityGroupId"]["Ref"]
        for n, r in stack.of_type("AWS::EC2::SecurityGroupEgress").items()
        if r["Properties"]["GroupId"] == {"Ref": "FunctionSecurityGroup"}
    }


def _ingress_sources(stack: Stack, group: str) -> set[str]:
    return {
        rule["SourceSecurityGroupId"]["Ref"]
        for rule in stack.properties(group).get("SecurityGroupIngress", [])
    }


def test_turning_the_proxy_on_keeps_the_functions_way_to_the_cluster_open() -> None:
    # CloudFormation updates the role and the security groups before the functions, whose
    # DB_HOST still names the cluster until they are updated themselves.
    without, with_proxy = translate(), translate(PROXY_ON)
    old_host = without.properties("ApiFunction")["Environment"]["Variables"]["DB_HOST"]
    assert old_host == {"Fn::GetAtt": ["DatabaseCluster", "Endpoint.Address"]}
    cluster_arn = (
        "arn:aws:rds-db:us-east-1:123456789012:dbuser:"
        "${DatabaseCluster.DBClusterResourceId}/portfolio_app"
    )
    assert _connect_resources(without) == [cluster_arn]
    assert cluster_arn in _connect_resources(with_proxy)
    assert _egress_targets(without) == {"DatabaseSecurityGroup"}
    assert _egress_targets(with_proxy) == {"DatabaseSecurityGroup", "ProxySecurityGroup"}
    assert _ingress_sources(with_proxy, "DatabaseSecurityGroup") == {
        "FunctionSecurityGroup",
        "ProxySecurityGroup",
    }
    assert _ingress_sources(with_proxy, "ProxySecurityGroup") == {"FunctionSecurityGroup"}
    # And the migration still waits for the new path (the proxy's egress rule).
    assert "FunctionToProxyEgress" in with_proxy.ancestors("DatabaseMigration")


# -- 11. smaller points ------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("true", True)])
def test_deletion_protection_is_a_parameter(value: str, expected: bool) -> None:
    cluster = translate({"DbDeletionProtection": value}).properties("DatabaseCluster")
    assert cluster["DeletionProtection"] is expected
    assert load()["Parameters"]["DbDeletionProtection"]["Default"] == "false"


@pytest.mark.parametrize("name", ["ThrottlingRateLimit", "ThrottlingBurstLimit"])
def test_throttling_is_described_per_route_not_per_stage(name: str) -> None:
    # Default route settings apply to each route, not to the stage's total.
    description = load()["Parameters"][name]["Description"]
    assert "each route" in description and "stage accepts" not in description


def test_https_egress_to_anywhere_reaches_only_s3() -> None:
    stack = translate()
    (rule,) = [
        r
        for r in stack.properties("FunctionSecurityGroup")["SecurityGroupEgress"]
        if r["CidrIp"] == "0.0.0.0/0"
    ]
    assert (rule["FromPort"], rule["ToPort"]) == (443, 443)
    assert "S3 only" in rule["Description"] and "no NAT" in rule["Description"]
    # What makes it S3 only: no route out of the VPC but the S3 gateway endpoint. Whoever adds a
    # route to the internet (NAT, internet gateway) fails here and must narrow the rule.
    assert stack.of_type("AWS::EC2::Route") == {}
    assert stack.of_type("AWS::EC2::NatGateway") == {}
    assert stack.of_type("AWS::EC2::InternetGateway") == {}
    (endpoint,) = stack.of_type("AWS::EC2::VPCEndpoint").values()
    assert endpoint["Properties"]["VpcEndpointType"] == "Gateway"


TEMPLATE_TEXT = translated.TEMPLATE.read_text()


# -- the class behind finding 1: a condition that compares a number as text -----------------------


def _equals_operands(node: Any) -> list[list[Any]]:
    found: list[list[Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::Equals":
                found.append(value)
            found.extend(_equals_operands(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_equals_operands(value))
    return found


def test_no_condition_compares_a_number_parameter_as_text() -> None:
    # Fn::Equals compares text: a Number parameter given as 0.0, 00 or -1.0 would not equal the
    # literal it is compared with, and the condition would silently take the other branch. Every
    # parameter a condition or rule compares is a String whose allowed spellings are one per value.
    template = load()
    parameters = template["Parameters"]
    compared = {
        operand["Ref"]
        for section in ("Conditions", "Rules")
        for operands in _equals_operands(template.get(section, {}))
        for operand in operands
        if isinstance(operand, dict) and operand.get("Ref") in parameters
    }
    assert {"DbMinCapacity", "ReservedConcurrency"} <= compared
    numbers = sorted(name for name in compared if parameters[name]["Type"] == "Number")
    assert numbers == []
    for name in compared:
        spec = parameters[name]
        assert (
            "AllowedValues" in spec
            or "AllowedPattern" in spec
            or name.startswith("Existing")
            or name in {"NotificationEmail", "CorsAllowOrigins", "StageName"}
            or name.startswith(("CustomDomain", "AvailabilityZone", "AdminTokenDigest"))
        ), name


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("-1", True),
        ("0", True),
        ("10", True),
        ("1000", True),
        ("-1.0", False),
        ("00", False),
        ("1.5", False),
        ("-2", False),
        ("", False),
    ],
)
def test_reserved_concurrency_has_one_spelling_per_value(value: str, allowed: bool) -> None:
    spec = load()["Parameters"]["ReservedConcurrency"]
    assert spec["Type"] == "String"
    assert (re.fullmatch(spec["AllowedPattern"], value) is not None) is allowed


@pytest.mark.parametrize(("value", "reserved"), [("-1", None), ("0", "0"), ("10", "10")])
def test_reserved_concurrency_is_sent_unless_minus_one(value: str, reserved: str | None) -> None:
    api = translate({"ReservedConcurrency": value}).properties("ApiFunction")
    assert api.get("ReservedConcurrentExecutions") == reserved
