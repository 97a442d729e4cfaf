"""template.yaml, read as data: what ships, how it is wired, and what it may touch.

The template is decoded with cfn-lint's loader (it understands !Ref, !Sub, !GetAtt ...) and,
where the SAM transform decides the outcome, translated with the SAM translator itself.
`cfn-lint` and `sam validate --lint` run as the tools users run (marked `sam`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
BIN = Path(sys.executable).parent


def _load() -> dict[str, Any]:
    template, problems = decode(str(TEMPLATE))
    assert not problems, problems
    assert template is not None
    return dict(template)


T = _load()
RESOURCES: dict[str, Any] = T["Resources"]
PARAMETERS: dict[str, Any] = T["Parameters"]


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


def functions() -> dict[str, dict[str, Any]]:
    return of_type("AWS::Serverless::Function")


def walk(node: Any) -> Iterator[Any]:
    """Every dict and list below `node` (intrinsics included)."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def refs_in(node: Any) -> set[str]:
    """Names referenced with Ref or GetAtt (first segment) anywhere below `node`."""
    found: set[str] = set()
    for item in walk(node):
        if isinstance(item, dict):
            if "Ref" in item:
                found.add(str(item["Ref"]).split(".")[0])
            if "Fn::GetAtt" in item:
                target = item["Fn::GetAtt"]
                found.add(target[0] if isinstance(target, list) else str(target).split(".")[0])
            if "Fn::Sub" in item:
                text = item["Fn::Sub"] if isinstance(item["Fn::Sub"], str) else item["Fn::Sub"][0]
                found.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
    return found


# -- the function: image, architecture, logs ----------------------------------------------


def test_the_architecture_is_set_once_and_is_no_parameter() -> None:
    # A parameter would be saved by `sam deploy --guided` for deploy only, and `sam build`
    # would build the template's default (tests/sam/test_architecture.py runs both).
    assert "Architecture" not in PARAMETERS
    assert T["Globals"]["Function"]["Architectures"] == ["arm64"]
    for name, fn in functions().items():
        assert "Architectures" not in fn["Properties"], f"{name} overrides the architecture"


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("ApiFunction", "handler.handler"),
        ("MigrateFunction", "handler.migrate"),
        ("DrainFunction", "handler.drain"),
    ],
)
def test_every_function_is_the_same_image_with_its_own_command(name: str, command: str) -> None:
    fn = functions()[name]
    assert fn["Properties"]["PackageType"] == "Image"
    assert fn["Properties"]["ImageConfig"]["Command"] == [command]
    assert fn["Metadata"]["Dockerfile"] == "Dockerfile"
    assert fn["Metadata"]["DockerContext"] == "."
    assert fn["Metadata"]["DockerTag"]
    assert isinstance(fn["Metadata"]["DockerBuildArgs"], dict)
    assert (
        ROOT / fn["Metadata"]["DockerContext"] / fn["Metadata"]["Dockerfile"]
    ).name == "Dockerfile"
    assert set(functions()) == {"ApiFunction", "MigrateFunction", "DrainFunction"}


def test_memory_timeout_and_concurrency_are_parameters_with_defaults() -> None:
    api = functions()["ApiFunction"]["Properties"]
    assert T["Globals"]["Function"]["MemorySize"] == {"Ref": "MemorySize"}
    assert api["Timeout"] == {"Ref": "Timeout"}
    assert PARAMETERS["Timeout"]["Default"] <= 30  # the HTTP API's integration limit
    assert "ReservedConcurrency" in refs_in(api["ReservedConcurrentExecutions"])
    for name in ("MemorySize", "Timeout", "ReservedConcurrency"):
        assert "Default" in PARAMETERS[name]


@pytest.mark.parametrize("name", ["ApiFunction", "MigrateFunction", "DrainFunction"])
def test_logs_are_json_into_a_log_group_with_retention(name: str) -> None:
    logging = functions()[name]["Properties"]["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    group = RESOURCES[logging["LogGroup"]["Ref"]]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert (
        PARAMETERS["LogRetentionDays"]["Default"] in PARAMETERS["LogRetentionDays"]["AllowedValues"]
    )


# -- the HTTP API --------------------------------------------------------------------------


def test_http_api_has_a_stage_cors_and_throttling_from_parameters() -> None:
    (api,) = of_type("AWS::Serverless::HttpApi").values()
    props = api["Properties"]
    assert props["StageName"] == {"Ref": "StageName"}
    assert props["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
    }
    for name in ("ThrottlingRateLimit", "ThrottlingBurstLimit"):
        assert PARAMETERS[name]["Default"] > 0
    assert "CorsAllowOrigins" in refs_in(props["CorsConfiguration"])
    event = functions()["ApiFunction"]["Properties"]["Events"]["Api"]
    assert event == {"Type": "HttpApi", "Properties": {"ApiId": {"Ref": "HttpApi"}}}


def test_outputs_give_the_url_the_function_names_and_the_log_groups() -> None:
    outputs = T["Outputs"]
    assert "HttpApi" in refs_in(outputs["ApiUrl"]["Value"])
    assert outputs["ApiFunctionName"]["Value"] == {"Ref": "ApiFunction"}
    assert outputs["MigrateFunctionName"]["Value"] == {"Ref": "MigrateFunction"}
    assert outputs["ApiLogGroupName"]["Value"] == {"Ref": "ApiLogGroup"}
    assert outputs["MigrateLogGroupName"]["Value"] == {"Ref": "MigrateLogGroup"}


# -- migrations on every deploy ----------------------------------------------------------------


def test_the_migration_custom_resource_runs_the_migrate_function_on_each_new_version() -> None:
    name = "DatabaseMigration"
    props = RESOURCES[name]["Properties"]
    # The token stays the unqualified ARN (CloudFormation cannot change it after creation) ...
    assert props["ServiceToken"] == {"Fn::GetAtt": ["MigrateFunction", "Arn"]}
    # ... and the published version, new for every new image or setting, triggers an update.
    assert props["FunctionVersion"] == {"Ref": "MigrateFunction.Version"}
    migrate = functions()["MigrateFunction"]["Properties"]
    assert migrate["AutoPublishAlias"]
    assert migrate["AutoPublishAliasAllProperties"] is True
    assert props["Nonce"] == {"Ref": "MigrationNonce"}
    assert 0 < props["ServiceTimeout"] <= 3600
    assert props["ServiceTimeout"] > migrate["Timeout"]
    # The API function waits for the migration of the same deploy.
    assert name in refs_in(functions()["ApiFunction"]["Properties"]["Environment"])


# -- the database, both ways -------------------------------------------------------------------


def test_the_function_gets_a_user_name_or_a_secret_arn_never_credentials() -> None:
    env = T["Globals"]["Function"]["Environment"]["Variables"]
    # Create mode: IAM database authentication (a token per connection, signed in the function).
    assert env["DB_IAM_AUTH"] == {"Fn::If": ["CreateDatabase", "true", "false"]}
    assert env["DATABASE_SECRET_ARN"] == {
        "Fn::If": ["UseExistingDatabase", {"Ref": "ExistingDatabaseSecretArn"}, ""]
    }
    assert env["DATABASE_URL"] == ""
    for fn in functions().values():
        names = set(fn["Properties"].get("Environment", {}).get("Variables", {})) | set(env)
        assert not {n for n in names if re.search("PASSWORD", n)}
    assert "{{resolve:secretsmanager" not in str(env)
    for name in PARAMETERS:
        assert not re.search("password|username", name, re.I), name


def test_create_mode_builds_a_scale_to_zero_aurora_in_private_subnets() -> None:
    assert T["Conditions"]["CreateDatabase"] == {"Fn::Equals": [{"Ref": "DatabaseMode"}, "create"]}
    cluster = of_type("AWS::RDS::DBCluster")["DatabaseCluster"]
    assert cluster["Condition"] == "CreateDatabase"
    props = cluster["Properties"]
    assert props["Engine"] == "aurora-postgresql"
    assert props["ServerlessV2ScalingConfiguration"]["MinCapacity"] == {"Ref": "DbMinCapacity"}
    assert PARAMETERS["DbMinCapacity"]["Default"] == "0"
    # 0 ACU needs Aurora PostgreSQL 16.3+ (or 15.7+, 14.12+, 13.15+).
    major, minor = (int(p) for p in PARAMETERS["DbEngineVersion"]["Default"].split("."))
    assert (major, minor) >= (16, 3)
    # RDS keeps the master password; nothing in the template or the stack's parameters does.
    assert props["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in props
    assert props["EnableHttpEndpoint"] is True  # the Data API, for DatabaseUser
    assert (
        of_type("AWS::RDS::DBInstance")["DatabaseInstance"]["Properties"]["DBInstanceClass"]
        == "db.serverless"
    )
    subnets = of_type("AWS::EC2::Subnet")
    assert len(subnets) == 2
    # A zone parameter each, whose empty default is the zone earlier versions picked.
    assert {str(s["Properties"]["AvailabilityZone"]) for s in subnets.values()} == {
        str({"Fn::If": [f"HasAvailabilityZone{x}", {"Ref": f"AvailabilityZone{x}"}, pick]})
        for x, pick in (
            ("A", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}),
            ("B", {"Fn::Select": [1, {"Fn::GetAZs": ""}]}),
        )
    }
    assert not of_type("AWS::EC2::InternetGateway") and not of_type("AWS::EC2::NatGateway")

    proxy = of_type("AWS::RDS::DBProxy")["DatabaseProxy"]
    assert proxy["Condition"] == "CreateProxy"
    assert proxy["Properties"]["RequireTLS"] is True
    env = T["Globals"]["Function"]["Environment"]["Variables"]
    assert env["DB_EXTERNAL_POOLER"] == {"Fn::If": ["ExternalPooler", "true", "false"]}
    assert "CreateProxy" in str(T["Conditions"]["ExternalPooler"])


def test_create_mode_answers_cloudformation_through_the_s3_gateway_endpoint() -> None:
    endpoints = of_type("AWS::EC2::VPCEndpoint")
    assert set(endpoints) == {"S3Endpoint"}
    s3 = endpoints["S3Endpoint"]["Properties"]
    assert s3["VpcEndpointType"] == "Gateway"
    # The reply bucket first; the fallback bucket's statements follow
    # (tests/sam/test_fallback_template.py checks the whole policy, evaluated).
    statement = s3["PolicyDocument"]["Statement"][0]
    assert statement["Action"] == "s3:PutObject"
    assert "cloudformation-custom-resource-response-" in statement["Resource"]["Fn::Sub"][0]


def test_existing_mode_takes_a_secret_subnets_and_security_groups() -> None:
    for name in ("ExistingDatabaseSecretArn", "ExistingSubnetIds", "ExistingSecurityGroupIds"):
        assert name in PARAMETERS
    vpc = T["Globals"]["Function"]["VpcConfig"]["Fn::If"]
    assert vpc[0] == "InVpc"
    assert "ExistingSubnetIds" in refs_in(vpc[1]["SubnetIds"])
    assert "ExistingSecurityGroupIds" in refs_in(vpc[1]["SecurityGroupIds"])
    rule = T["Rules"]["ExistingDatabaseNeedsASecret"]
    assert "ExistingDatabaseSecretArn" in refs_in(rule["Assertions"])


# -- secrets and IAM ----------------------------------------------------------------------------


def test_the_admin_digest_comes_from_ssm_or_secrets_manager_with_no_default() -> None:
    assert "Default" not in PARAMETERS["AdminTokenDigestName"]
    value = functions()["ApiFunction"]["Properties"]["Environment"]["Variables"][
        "ADMIN_TOKEN_SHA256"
    ]
    condition, versioned, unversioned = value["Fn::If"]
    assert condition == "HasAdminDigestVersion"
    assert versioned == {
        "Fn::If": [
            "AdminDigestInSsm",
            {"Fn::Sub": "{{resolve:ssm:${AdminTokenDigestName}:${AdminTokenDigestVersion}}}"},
            {
                "Fn::Sub": "{{resolve:secretsmanager:${AdminTokenDigestName}"
                ":SecretString:::${AdminTokenDigestVersion}}}"
            },
        ]
    }
    # Without a version (sam local only: the AdminDigestNeedsAVersion rule refuses a deploy).
    assert unversioned == {
        "Fn::If": [
            "AdminDigestInSsm",
            {"Fn::Sub": "{{resolve:ssm:${AdminTokenDigestName}}}"},
            {"Fn::Sub": "{{resolve:secretsmanager:${AdminTokenDigestName}}}"},
        ]
    }


def _statements() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement in the template: roles, policies and VPC endpoint policies."""
    for name, resource in RESOURCES.items():
        props = resource.get("Properties", {})
        documents = []
        for policy in props.get("Policies", []) if isinstance(props.get("Policies"), list) else []:
            for item in walk(policy):
                if isinstance(item, dict) and "PolicyDocument" in item:
                    documents.append(item["PolicyDocument"])
        if "PolicyDocument" in props:
            documents.append(props["PolicyDocument"])
        for document in documents:
            for item in walk(document.get("Statement", [])):
                if isinstance(item, dict) and "Effect" in item:
                    yield name, item


DATA_SERVICES = ("secretsmanager", "kms", "s3", "ssm", "rds-data", "rds-db", "dynamodb", "logs")


def test_no_wildcard_actions_and_no_wildcard_resources_on_data() -> None:
    statements = list(_statements())
    assert len(statements) >= 5
    for name, statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        for action in actions:
            assert isinstance(action, str) and "*" not in action, (name, action)
            service = action.split(":")[0]
            if service in DATA_SERVICES and statement["Effect"] == "Allow":
                assert statement["Resource"] != "*", (name, action)
                # Object wildcards only in CloudFormation's reply bucket (the pre-signed URL's
                # key is CloudFormation's) and under the fallback bucket's own prefixes.
                resource = str(statement["Resource"]).replace(
                    "cloudformation-custom-resource-response-${Region}/*", ""
                )
                for prefix in ("outbox", "keys"):
                    resource = resource.replace(f"${{FallbackBucket.Arn}}/{prefix}/*", "")
                assert "*" not in resource, (name, action)


def test_functions_use_the_stacks_own_role() -> None:
    for fn in functions().values():
        assert fn["Properties"]["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}
        assert "Policies" not in fn["Properties"]
    role = RESOURCES["FunctionRole"]["Properties"]
    assert "ManagedPolicyArns" not in role  # AWS's managed Lambda policies grant logs on "*"


# -- what the SAM transform makes of it ---------------------------------------------------------


@pytest.fixture(scope="module")
def transformed(monkeypatch_module: pytest.MonkeyPatch) -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    monkeypatch_module.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = _load()
    for fn in template["Resources"].values():
        if fn["Type"] == "AWS::Serverless::Function":  # sam build fills these in
            fn["Properties"]["ImageUri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    params = {
        "CorsAllowOrigins": "https://a.example,https://b.example",
        "AdminTokenDigestName": "/portfolio/admin-token-sha256",
    }
    return dict(transform(template, params, NoManagedPolicies()))


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_api_gets_a_default_route_a_throttled_stage_and_split_cors_origins(
    transformed: dict[str, Any],
) -> None:
    resources = transformed["Resources"]
    body = resources["HttpApi"]["Properties"]["Body"]
    assert body["paths"]["$default"]["x-amazon-apigateway-any-method"]["isDefaultRoute"] is True
    cors = body["x-amazon-apigateway-cors"]["Fn::If"]
    # Spaces removed before the split (test_translated_template evaluates it).
    assert cors[1]["allowOrigins"] == {
        "Fn::Split": [
            ",",
            {"Fn::Join": ["", {"Fn::Split": [" ", "https://a.example,https://b.example"]}]},
        ]
    }
    stage = resources["HttpApiStage"]["Properties"]
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
    assert stage["AccessLogSettings"]["DestinationArn"] == {
        "Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]
    }


def test_the_migration_hook_points_at_a_published_version(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    version = resources["DatabaseMigration"]["Properties"]["FunctionVersion"]["Ref"]
    assert resources[version]["Type"] == "AWS::Lambda::Version"


# -- the tools users run --------------------------------------------------------------------------


def _tool_env() -> dict[str, str]:
    """No credentials and no network: validation must not need an AWS account."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_DEFAULT_REGION="us-east-1",
        SAM_CLI_TELEMETRY="0",
        # A proxy nobody listens on: any network call fails fast instead of succeeding.
        HTTPS_PROXY="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        http_proxy="http://127.0.0.1:9",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    return env


@pytest.mark.sam
def test_cfn_lint_reports_nothing() -> None:
    result = subprocess.run(
        [str(BIN / "cfn-lint"), str(TEMPLATE)],
        capture_output=True,
        text=True,
        env=_tool_env(),
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.sam
def test_sam_validate_lint_passes_offline_without_credentials(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "sam"), "validate", "--lint", "--template", str(TEMPLATE)],
        capture_output=True,
        text=True,
        env={**_tool_env(), "HOME": str(tmp_path)},
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr
