"""What CloudFormation receives from `sam deploy`, for each way of configuring the stack.

Every test translates template.yaml with the SAM translator and evaluates the conditions for its
parameter values (tests/sam/translated.py): create and delete order, what re-runs the
migrations, what bills by the hour, and the values that depend on parameters.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import itertools
import re
from typing import Any

import pytest

from tests.sam.translated import EXISTING_SECRET, REGION, TEMPLATE, Stack, load, translate

MODES = [
    {"DatabaseMode": mode, "EnableRdsProxy": proxy}
    | ({"ExistingDatabaseSecretArn": EXISTING_SECRET} if mode == "existing" else {})
    for mode, proxy in itertools.product(["create", "existing"], ["false", "true"])
]
MODE_IDS = [f"{m['DatabaseMode']}-proxy-{m['EnableRdsProxy']}" for m in MODES]
# Resources on the migrate function's way to the database and back to CloudFormation (a PUT to
# a pre-signed S3 URL) or among its credentials: whatever of these the stack creates must exist
# before the migration runs and outlive its Delete.
PATH_TYPES = {
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::RouteTable",
    "AWS::EC2::Route",
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::VPCEndpoint",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::EC2::NatGateway",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBClusterParameterGroup",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBSubnetGroup",
    "AWS::RDS::DBProxy",
    "AWS::RDS::DBProxyTargetGroup",
    "AWS::SecretsManager::Secret",
    "AWS::SecretsManager::SecretTargetAttachment",
    "Custom::DatabaseUser",
}


def _migrate_function_resources(stack: Stack) -> set[str]:
    """The function's role, log group and asynchronous-invocation settings ($LATEST)."""
    props = stack.resources["MigrateFunction"]["Properties"]
    found = {props["Role"]["Fn::GetAtt"][0], props["LoggingConfig"]["LogGroup"]["Ref"]}
    for name, resource in stack.of_type("AWS::Lambda::EventInvokeConfig").items():
        if resource["Properties"]["FunctionName"] == {"Ref": "MigrateFunction"}:
            found.add(name)
    return found


@pytest.mark.parametrize("given", MODES, ids=MODE_IDS)
def test_the_migration_is_created_after_and_deleted_before_everything_it_needs(
    given: dict[str, str],
) -> None:
    stack = translate(given)
    before = stack.ancestors("DatabaseMigration")
    needed = {n for n, r in stack.resources.items() if r["Type"] in PATH_TYPES}
    needed |= _migrate_function_resources(stack)
    assert needed - before == set()
    if given["DatabaseMode"] == "create":
        # Named too, so that the test cannot pass by finding none of them.
        assert {
            "PrivateSubnetARouteTable",
            "PrivateSubnetBRouteTable",
            "PrivateRouteTable",
            "S3Endpoint",
            "FunctionToDatabaseEgress",
            "DatabaseInstance",
            "DatabaseUser",
            "MigrateInvokeConfig",
            "MigrateLogGroup",
        } <= before
    if stack.conditions["CreateProxy"]:
        assert {"DatabaseProxyTargetGroup", "ProxyToDatabaseEgress", "DatabaseProxyRole"} <= before
    # The API waits for the migration of the same deploy (and goes first on delete).
    assert "DatabaseMigration" in stack.ancestors("ApiFunction")


@pytest.mark.parametrize("given", MODES[:2], ids=MODE_IDS[:2])
def test_the_database_user_is_created_after_the_writer_and_the_data_api_permissions(
    given: dict[str, str],
) -> None:
    stack = translate(given)
    before = stack.ancestors("DatabaseUser")
    assert {
        "DatabaseInstance",
        "DatabaseCluster",
        "DatabaseUserRole",
        "DatabaseUserLogGroup",
        "DatabaseUserInvokeConfig",
    } <= before
    # Outside the VPC: its way out depends on nothing of the stack's network.
    assert "VpcConfig" not in stack.resources["DatabaseUserFunction"]["Properties"]


# -- migrations follow the database ---------------------------------------------------------------


def test_pointing_the_stack_at_another_database_changes_the_migration_resource() -> None:
    first = translate(MODES[2])
    second = translate(MODES[2] | {"ExistingDatabaseSecretArn": EXISTING_SECRET + "-new"})
    # The translator hashes unresolved references: the published version stays the same ...
    assert (
        first.resources["DatabaseMigration"]["Properties"]["FunctionVersion"]
        == second.resources["DatabaseMigration"]["Properties"]["FunctionVersion"]
    )
    # ... so the database itself must be a property: CloudFormation sees an update and the
    # function migrates the new database.
    assert first.properties("DatabaseMigration") != second.properties("DatabaseMigration")
    assert second.properties("DatabaseMigration")["Database"] == EXISTING_SECRET + "-new"


@pytest.mark.parametrize("given", MODES[:2], ids=MODE_IDS[:2])
def test_a_replaced_cluster_changes_the_migration_resource(given: dict[str, str]) -> None:
    database = translate(given).properties("DatabaseMigration")["Database"]
    # The cluster's resource id is new for every new cluster (and the user it migrates as).
    assert database == "${DatabaseCluster.DBClusterResourceId}/portfolio/portfolio_app"


# -- asynchronous invocations are not retried -----------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "function"),
    [("DatabaseMigration", "MigrateFunction"), ("DatabaseUser", "DatabaseUserFunction")],
)
def test_custom_resource_functions_are_invoked_once(resource: str, function: str) -> None:
    stack = translate()
    # The service token is the unqualified ARN, which Lambda runs as $LATEST ...
    assert stack.resources[resource]["Properties"]["ServiceToken"] == {
        "Fn::GetAtt": [function, "Arn"]
    }
    (config,) = (
        r["Properties"]
        for r in stack.of_type("AWS::Lambda::EventInvokeConfig").values()
        if r["Properties"]["FunctionName"] == {"Ref": function}
    )
    # ... and $LATEST's asynchronous invocations are never retried.
    assert (config["Qualifier"], config["MaximumRetryAttempts"]) == ("$LATEST", 0)
    # A late event must not start a run CloudFormation no longer waits for.
    timeout = stack.resources[function]["Properties"]["Timeout"]
    service_timeout = stack.resources[resource]["Properties"]["ServiceTimeout"]
    assert config["MaximumEventAgeInSeconds"] + timeout <= service_timeout


# -- the idle month ------------------------------------------------------------------------------

# Resources billed by the hour whether or not anyone calls the API.
HOURLY = {"AWS::EC2::NatGateway", "AWS::RDS::DBProxy", "AWS::EC2::EIP"}


@pytest.mark.parametrize("given", MODES, ids=MODE_IDS)
def test_nothing_bills_by_the_hour_unless_a_proxy_is_asked_for(given: dict[str, str]) -> None:
    stack = translate(given)
    hourly = {n for n, r in stack.resources.items() if r["Type"] in HOURLY}
    interface_endpoints = {
        n
        for n, r in stack.of_type("AWS::EC2::VPCEndpoint").items()
        if r["Properties"].get("VpcEndpointType", "Gateway") != "Gateway"
    }
    assert interface_endpoints == set()
    assert hourly == ({"DatabaseProxy"} if stack.conditions["CreateProxy"] else set())
    # The stack makes no secret of its own ($0.40 a month each): RDS manages the master one.
    assert stack.of_type("AWS::SecretsManager::Secret") == {}


# -- IAM database authentication and TLS -------------------------------------------------------


def _env(stack: Stack, function: str = "ApiFunction") -> dict[str, Any]:
    globals_env = stack.template.get("Globals", {})
    assert not globals_env  # the translator has merged Globals into each function
    return dict(stack.properties(function)["Environment"]["Variables"])


def _statements(stack: Stack, role: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in stack.properties(role).get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


@pytest.mark.parametrize("given", MODES[:2], ids=MODE_IDS[:2])
@pytest.mark.parametrize("function", ["ApiFunction", "MigrateFunction"])
def test_create_mode_connects_with_iam_tokens_over_verified_tls(
    given: dict[str, str], function: str
) -> None:
    stack = translate(given)
    env = _env(stack, function)
    proxy = stack.conditions["CreateProxy"]
    user = stack.properties("DatabaseUser")["User"]
    assert {k: env[k] for k in ("DB_IAM_AUTH", "DB_NAME", "DB_USER", "DB_SSLMODE")} == {
        "DB_IAM_AUTH": "true",
        "DB_NAME": stack.properties("DatabaseCluster")["DatabaseName"],
        "DB_USER": user,
        "DB_SSLMODE": "verify-full",
    }
    assert "DATABASE_SECRET_ARN" not in env or env["DATABASE_SECRET_ARN"] == ""
    assert env["DB_HOST"] == (
        {"Fn::GetAtt": ["DatabaseProxy", "Endpoint"]}
        if proxy
        else {"Fn::GetAtt": ["DatabaseCluster", "Endpoint.Address"]}
    )
    # rds-db:connect for that user on that cluster (and that proxy), and nothing on secrets.
    resource_ids = ["${DatabaseCluster.DBClusterResourceId}"]
    if proxy:
        resource_ids.append("${${DatabaseProxy.DBProxyArn}.split(':')[6]}")
    statements = _statements(stack, "FunctionRole")
    connect = [s for s in statements if s["Action"] == "rds-db:connect"]
    assert connect == [
        {
            "Effect": "Allow",
            "Action": "rds-db:connect",
            "Resource": [
                f"arn:aws:rds-db:{REGION}:123456789012:dbuser:{resource_id}/{user}"
                for resource_id in resource_ids
            ],
        }
    ]
    assert not [s for s in statements if "secretsmanager" in str(s["Action"])]
    cluster = stack.properties("DatabaseCluster")
    assert cluster["EnableIAMDatabaseAuthentication"] is True
    assert cluster["ManageMasterUserPassword"] is True
    assert cluster["MasterUsername"] != user


def test_the_proxy_uses_end_to_end_iam_authentication_and_reaches_only_the_cluster() -> None:
    stack = translate(MODES[1])
    proxy = stack.properties("DatabaseProxy")
    assert proxy["DefaultAuthScheme"] == "IAM_AUTH"
    assert "Auth" not in proxy and proxy["RequireTLS"] is True
    (statement,) = _statements(stack, "DatabaseProxyRole")
    user = stack.properties("DatabaseUser")["User"]
    assert statement == {
        "Effect": "Allow",
        "Action": "rds-db:connect",
        "Resource": f"arn:aws:rds-db:{REGION}:123456789012:dbuser:"
        f"${{DatabaseCluster.DBClusterResourceId}}/{user}",
    }
    # No open egress: one placeholder rule (which replaces the default allow-all) plus the
    # cluster's port towards the cluster's group.
    (placeholder,) = stack.properties("ProxySecurityGroup")["SecurityGroupEgress"]
    assert placeholder["CidrIp"] == "127.0.0.1/32"
    egress = [
        stack.properties(n)
        for n, r in stack.of_type("AWS::EC2::SecurityGroupEgress").items()
        if r["Properties"]["GroupId"] == {"Ref": "ProxySecurityGroup"}
    ]
    assert egress == [
        {
            "GroupId": {"Ref": "ProxySecurityGroup"},
            "IpProtocol": "tcp",
            "FromPort": 5432,
            "ToPort": 5432,
            "DestinationSecurityGroupId": {"Ref": "DatabaseSecurityGroup"},
            "Description": "PostgreSQL to the cluster",
        }
    ]


def test_the_cluster_refuses_plaintext_and_closes_idle_sessions_before_it_could_pause() -> None:
    stack = translate({"DbEngineVersion": "15.7"})
    group = stack.properties("DatabaseClusterParameterGroup")
    assert group["Family"] == "aurora-postgresql15"
    assert group["Parameters"]["rds.force_ssl"] == "1"
    idle_ms = int(group["Parameters"]["idle_session_timeout"])
    shortest_pause_s = load()["Parameters"]["DbSecondsUntilAutoPause"]["MinValue"]
    assert 0 < idle_ms < shortest_pause_s * 1000
    # Behind the proxy (whose pooled connections must not be cut) the cluster never pauses.
    proxied = translate({"EnableRdsProxy": "true"}).properties("DatabaseClusterParameterGroup")
    assert proxied["Parameters"] == {
        "rds.force_ssl": "1",
        "password_encryption": "scram-sha-256",  # the only one the Data API signs in with
        "idle_session_timeout": "0",
    }
    assert stack.resources["DatabaseCluster"]["Properties"]["DBClusterParameterGroupName"] == {
        "Ref": "DatabaseClusterParameterGroup"
    }


@pytest.mark.parametrize("mode", ["verify-full", "require"])
def test_existing_mode_reads_its_secret_with_the_chosen_tls_mode(mode: str) -> None:
    stack = translate(MODES[2] | {"ExistingDbSslMode": mode})
    env = _env(stack)
    assert (env["DATABASE_SECRET_ARN"], env["DB_IAM_AUTH"], env["DB_SSLMODE"]) == (
        EXISTING_SECRET,
        "false",
        mode,
    )


@pytest.mark.parametrize(
    ("root", "expected"),
    [("rds-bundle", ""), ("system", "system")],  # "": the app's default, the RDS bundle
)
@pytest.mark.parametrize("given", MODES, ids=MODE_IDS)
def test_an_existing_database_may_be_verified_against_the_system_trust_store(
    given: dict[str, str], root: str, expected: str
) -> None:
    # Neon, Supabase and self-hosted servers with a public CA: verify-full against the OS
    # store, instead of the only alternative being unverified `require`.
    stack = translate(given | {"ExistingDbSslRootCert": root})
    existing = stack.values["DatabaseMode"] == "existing"
    for function in ("ApiFunction", "MigrateFunction"):
        assert _env(stack, function)["DB_SSLROOTCERT"] == (expected if existing else "")
    assert _rules_accept(stack)
    if existing:  # `system` with anything but verify-full is refused before anything is built
        weak = translate(given | {"ExistingDbSslRootCert": root, "ExistingDbSslMode": "require"})
        assert _rules_accept(weak) is (root != "system")


@pytest.mark.parametrize(
    ("given", "real"),
    [
        (EXISTING_SECRET, EXISTING_SECRET),
        # Without the random suffix: GetSecretValue accepts it, the policy must still match.
        (EXISTING_SECRET.removesuffix("-AbCdEf"), EXISTING_SECRET),
    ],
)
def test_the_secret_policy_matches_the_secret_with_or_without_its_suffix(
    given: str, real: str
) -> None:
    stack = translate(MODES[2] | {"ExistingDatabaseSecretArn": given})
    (statement,) = [
        s for s in _statements(stack, "FunctionRole") if "secretsmanager" in s["Action"]
    ]
    patterns = statement["Resource"]
    # IAM's wildcards: "?" one character, "*" any run of characters.
    assert any(fnmatch.fnmatchcase(real, p) for p in patterns)
    assert not any("*" in p for p in patterns)
    other = real.replace("portfolio/db-", "portfolio/db-old-")
    assert not any(fnmatch.fnmatchcase(other, p) for p in patterns)


# -- parameters that are evaluated before anything is built ------------------------------------


def test_cors_origins_may_be_written_with_spaces() -> None:
    stack = translate(
        {"CorsAllowOrigins": "https://a.example, https://b.example ,https://c.example"}
    )
    cors = stack.properties("HttpApi")["Body"]["x-amazon-apigateway-cors"]
    assert cors["allowOrigins"] == ["https://a.example", "https://b.example", "https://c.example"]
    assert translate().properties("HttpApi")["Body"]["x-amazon-apigateway-cors"][
        "allowOrigins"
    ] == ["*"]


@pytest.mark.parametrize("prefix", range(12, 29))
def test_the_vpc_block_leaves_room_for_both_subnets(prefix: int) -> None:
    block = f"10.42.0.0/{prefix}"
    allowed = re.fullmatch(load()["Parameters"]["VpcCidr"]["AllowedPattern"], block) is not None
    # AWS allows VPC blocks from /16 to /28; the stack needs two /24s.
    assert allowed == (16 <= prefix <= 23)
    if allowed:
        stack = translate({"VpcCidr": block})
        vpc = ipaddress.ip_network(stack.properties("Vpc")["CidrBlock"])
        subnets = [
            ipaddress.ip_network(stack.properties(n)["CidrBlock"])
            for n in ("PrivateSubnetA", "PrivateSubnetB")
        ]
        assert all(s.subnet_of(vpc) for s in subnets)  # type: ignore[arg-type]
        assert not subnets[0].overlaps(subnets[1])


RULE_CASES = [
    ({"ExistingSubnetIds": "subnet-1,subnet-2", "ExistingSecurityGroupIds": ""}, False),
    ({"ExistingSubnetIds": "", "ExistingSecurityGroupIds": "sg-1"}, False),
    ({"ExistingSubnetIds": "subnet-1", "ExistingSecurityGroupIds": "sg-1"}, True),
    ({"ExistingSubnetIds": "", "ExistingSecurityGroupIds": ""}, True),
]


@pytest.mark.parametrize(("given", "accepted"), RULE_CASES)
def test_existing_subnets_and_security_groups_come_together(
    given: dict[str, str], accepted: bool
) -> None:
    stack = translate(MODES[2] | given)
    assert _rules_accept(stack) is accepted
    # Create mode ignores both.
    assert _rules_accept(translate(MODES[0] | given)) is True


def _rules_accept(stack: Stack) -> bool:
    """Every rule whose condition holds has all its assertions true (rule functions included)."""
    return stack.failed_rules() == []


@pytest.mark.sam
@pytest.mark.parametrize(("block", "refused"), [("10.42.0.0/23", False), ("10.42.0.0/24", True)])
def test_cfn_lint_refuses_a_vpc_block_too_small_for_the_subnets(block: str, refused: bool) -> None:
    from cfnlint.api import ManualArgs, lint

    text = TEMPLATE.read_text()
    default = "    Default: 10.42.0.0/16\n"
    assert text.count(default) == 1
    matches = lint(text.replace(default, f"    Default: {block}\n"), config=ManualArgs())
    rules = {m.rule.id for m in matches}
    assert ("E2015" in rules) is refused, [str(m) for m in matches]


# -- the admin digest is checked by the deploy itself --------------------------------------------


@pytest.mark.parametrize("source", ["ssm", "secretsmanager"])
@pytest.mark.parametrize("given", MODES, ids=MODE_IDS)
def test_the_migration_sees_the_api_functions_admin_digest_and_the_api_waits_for_it(
    given: dict[str, str], source: str
) -> None:
    # The migrate function refuses a malformed ADMIN_TOKEN_SHA256 (FAILED, handler.migrate)
    # only if it receives the same value, and that refusal stops the deploy before the API
    # function changes only if the API function depends on the migration.
    stack = translate({**given, "AdminTokenDigestSource": source})
    api, migrate = _env(stack, "ApiFunction"), _env(stack, "MigrateFunction")
    version = ":1" if source == "ssm" else ":SecretString:::1"
    expected = "{{resolve:" + source + ":/portfolio/admin-token-sha256" + version + "}}"
    assert api["ADMIN_TOKEN_SHA256"] == migrate["ADMIN_TOKEN_SHA256"] == expected
    assert "DatabaseMigration" in stack.ancestors("ApiFunction")
    assert "ApiFunction" not in stack.ancestors("DatabaseMigration")
