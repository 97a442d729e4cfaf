"""deploy/github-oidc.yaml: who may assume the deploy role, and what the two roles may do.

The template is read as CloudFormation would evaluate it for one set of parameters (conditions,
`Fn::Sub`, `Fn::If`, `Ref`, `Fn::GetAtt` as placeholders), so the trust policy is checked as the
string IAM will compare, not as template text. No AWS account exists here: nothing is deployed.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.sam.translated import (
    EXISTING_SECRET,
    PSEUDO,
    ROOT,
    Stack,
    load,
    parameter_values,
    translate,
)

ROLE_TEMPLATE = ROOT / "deploy" / "github-oidc.yaml"
REPOSITORY = "octo-org/portfolio-fork"
BIN = Path(sys.executable).parent


def _stack(**given: str) -> Stack:
    """The role template as CloudFormation evaluates it for these parameters (the rest default)."""
    template = load(ROLE_TEMPLATE)
    return Stack(template, parameter_values(template, {"GitHubRepository": REPOSITORY, **given}))


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {**s, "Action": _list(s["Action"]), "Resource": _list(s.get("Resource", []))}
        for s in policy["Statement"]
    ]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _role_policy(stack: Stack, role: str) -> list[dict[str, Any]]:
    properties = stack.properties(role)
    return [s for p in properties["Policies"] for s in _statements(p["PolicyDocument"])]


def _allows(statements: list[dict[str, Any]], action: str) -> bool:
    # IAM compares action names case-insensitively; `*` in a policy's action is a wildcard.
    return any(
        s["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in s["Action"])
        for s in statements
    )


# -- the trust policy -------------------------------------------------------------------------


def _trust(stack: Stack) -> dict[str, Any]:
    (statement,) = stack.properties("DeployRole")["AssumeRolePolicyDocument"]["Statement"]
    return dict(statement)


@pytest.mark.parametrize("environment", ["production", "prod-eu"])
def test_the_deploy_role_trusts_exactly_one_repository_and_environment(environment: str) -> None:
    statement = _trust(_stack(DeployEnvironment=environment))

    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    # One operator, StringEquals: no StringLike (wildcards), no ForAnyValue (any of a list).
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": (
                f"repo:{REPOSITORY}:environment:{environment}"
            ),
        }
    }


def test_the_subject_can_hold_no_wildcard_whatever_the_parameters() -> None:
    # IAM's StringEquals takes `*` and `?` literally, but a later edit to StringLike would not:
    # the parameters refuse them (and `:`, which would let a value name another claim's part).
    params = load(ROLE_TEMPLATE)["Parameters"]
    repository = re.compile(params["GitHubRepository"]["AllowedPattern"])
    environment = re.compile(params["DeployEnvironment"]["AllowedPattern"])
    assert repository.fullmatch(REPOSITORY)
    for value in ["*", "octo/*", "*/fork", "octo/fork*", "octo/f?rk", "octo/fork:ref:refs/heads/x"]:
        assert not repository.fullmatch(value), value
    for value in ["*", "prod*", "pr?d", "production:x", ""]:
        assert not environment.fullmatch(value), value


def test_the_provider_is_created_or_reused() -> None:
    created = _stack()
    assert "GitHubOidcProvider" in created.resources
    provider = created.properties("GitHubOidcProvider")
    assert provider["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]
    # IAM verifies GitHub's endpoint against trusted root CAs: a thumbprint is not used.
    assert "ThumbprintList" not in provider
    assert _trust(created)["Principal"] == {"Federated": {"Ref": "GitHubOidcProvider"}}

    arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    reused = _stack(ExistingOidcProviderArn=arn)
    assert "GitHubOidcProvider" not in reused.resources
    assert _trust(reused)["Principal"] == {"Federated": arn}


def test_an_existing_provider_must_be_githubs() -> None:
    pattern = re.compile(
        load(ROLE_TEMPLATE)["Parameters"]["ExistingOidcProviderArn"]["AllowedPattern"]
    )
    assert pattern.fullmatch("")
    assert not pattern.fullmatch("arn:aws:iam::123456789012:oidc-provider/gitlab.com")


# -- what the deploy role may do ------------------------------------------------------------


def test_the_deploy_role_touches_only_its_stack_bucket_and_repository() -> None:
    stack = _stack()
    statements = _role_policy(stack, "DeployRole")
    app_stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/portfolio-backend/*"
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            assert "*" not in action, action  # every action named
        if statement["Resource"] == ["*"]:
            # The registry token names no repository; nothing else may be account-wide.
            assert statement["Action"] == ["ecr:GetAuthorizationToken"]
    cloudformation = {
        a: s["Resource"] for s in statements for a in s["Action"] if a.startswith("cloudformation:")
    }
    assert cloudformation["cloudformation:ExecuteChangeSet"] == [app_stack]
    assert all(
        r in ([app_stack], [PSEUDO["AWS::StackId"]])
        or r == ["arn:aws:cloudformation:us-east-1:aws:transform/Serverless-2016-10-31"]
        for r in cloudformation.values()
    )
    # It can pass exactly one role, the service role, and only to CloudFormation.
    (passing,) = [s for s in statements if "iam:PassRole" in s["Action"]]
    assert passing["Resource"] == [{"Fn::GetAtt": ["CloudFormationServiceRole", "Arn"]}]
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}
    }
    assert not any(
        a.startswith(("iam:Create", "iam:Put", "iam:Attach"))
        for s in statements
        for a in s["Action"]
    )


@pytest.mark.parametrize(
    "action",
    [
        # What SAM CLI's deployer calls (samcli/lib/deploy/deployer.py) and the ECR push.
        "cloudformation:DescribeStacks",
        "cloudformation:GetTemplateSummary",
        "cloudformation:CreateChangeSet",
        "cloudformation:DescribeChangeSet",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:DescribeStackEvents",
        "s3:PutObject",
        "s3:GetObject",
        "ecr:GetAuthorizationToken",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchCheckLayerAvailability",
        "iam:PassRole",
    ],
)
def test_the_deploy_role_can_do_what_sam_deploy_does(action: str) -> None:
    assert _allows(_role_policy(_stack(), "DeployRole"), action)


# -- what CloudFormation may do with the service role ----------------------------------------

# Per resource type of the translated app template: the API calls CloudFormation makes to create,
# update and delete it. For RDS and log groups these are from the `handlers` permission lists of
# CloudFormation's resource provider schemas (aws-cloudformation/aws-cloudformation-resource-
# providers-rds, -logs: aws-rds-dbcluster.json ...), less what this template's properties never
# use (restores, global clusters, KMS keys of their own); the others from the services' API
# references.
NEEDS: dict[str, list[str]] = {
    "AWS::ApiGatewayV2::Api": [
        "apigateway:POST",
        "apigateway:GET",
        "apigateway:PATCH",
        "apigateway:DELETE",
    ],
    "AWS::ApiGatewayV2::Stage": [
        "apigateway:POST",
        "apigateway:PATCH",
        "apigateway:DELETE",
        # Access logging to CloudWatch Logs (the API Gateway guide's "Permissions to activate
        # logging" for HTTP APIs).
        "logs:DescribeLogStreams",
        "logs:GetLogEvents",
        "logs:FilterLogEvents",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    ],
    "AWS::CloudWatch::Alarm": [
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:DeleteAlarms",
    ],
    "AWS::EC2::RouteTable": [
        "ec2:CreateRouteTable",
        "ec2:DescribeRouteTables",
        "ec2:DeleteRouteTable",
        "ec2:CreateTags",
    ],
    "AWS::EC2::SecurityGroup": [
        "ec2:CreateSecurityGroup",
        "ec2:DescribeSecurityGroups",
        "ec2:DeleteSecurityGroup",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:CreateTags",
    ],
    "AWS::EC2::SecurityGroupEgress": [
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:DescribeSecurityGroupRules",
    ],
    "AWS::EC2::Subnet": [
        "ec2:CreateSubnet",
        "ec2:DescribeSubnets",
        "ec2:DeleteSubnet",
        "ec2:ModifySubnetAttribute",
    ],
    "AWS::EC2::SubnetRouteTableAssociation": [
        "ec2:AssociateRouteTable",
        "ec2:DisassociateRouteTable",
    ],
    "AWS::EC2::VPC": [
        "ec2:CreateVpc",
        "ec2:DescribeVpcs",
        "ec2:ModifyVpcAttribute",
        "ec2:DeleteVpc",
    ],
    "AWS::EC2::VPCEndpoint": [
        "ec2:CreateVpcEndpoint",
        "ec2:DescribeVpcEndpoints",
        "ec2:ModifyVpcEndpoint",
        "ec2:DeleteVpcEndpoints",
    ],
    "AWS::IAM::Role": [
        "iam:CreateRole",
        "iam:GetRole",
        "iam:PutRolePolicy",
        "iam:GetRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:DeleteRole",
        "iam:TagRole",
        "iam:UpdateAssumeRolePolicy",
    ],
    "AWS::IAM::RolePolicy": [
        "iam:PutRolePolicy",
        "iam:GetRolePolicy",
        "iam:DeleteRolePolicy",
    ],
    "AWS::Lambda::Alias": [
        "lambda:CreateAlias",
        "lambda:GetAlias",
        "lambda:UpdateAlias",
        "lambda:DeleteAlias",
    ],
    "AWS::Lambda::EventInvokeConfig": [
        "lambda:PutFunctionEventInvokeConfig",
        "lambda:GetFunctionEventInvokeConfig",
        "lambda:UpdateFunctionEventInvokeConfig",
        "lambda:DeleteFunctionEventInvokeConfig",
    ],
    "AWS::Lambda::Function": [
        "lambda:CreateFunction",
        "lambda:GetFunction",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:PutFunctionConcurrency",
        "lambda:DeleteFunction",
        "lambda:TagResource",
        "iam:PassRole",
        # The image, read as the function's creator.
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        # VPC attachment, and the wait for its network interfaces at delete time (without this
        # permission CloudFormation does not wait, and the VPC's deletion races them).
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
        "ec2:DescribeNetworkInterfaces",
        # ADMIN_TOKEN_SHA256's dynamic reference.
        "ssm:GetParameters",
    ],
    "AWS::Lambda::Permission": [
        "lambda:AddPermission",
        "lambda:GetPolicy",
        "lambda:RemovePermission",
    ],
    "AWS::Lambda::Version": [
        "lambda:PublishVersion",
        "lambda:ListVersionsByFunction",
        "lambda:DeleteFunction",
    ],
    "AWS::S3::Bucket": [
        "s3:CreateBucket",
        "s3:PutEncryptionConfiguration",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketOwnershipControls",
        "s3:PutLifecycleConfiguration",
        "s3:PutBucketTagging",
        # The notification that invokes the outbox drain (NotificationConfiguration).
        "s3:PutBucketNotification",
        "s3:GetBucketNotification",
    ],
    "AWS::S3::BucketPolicy": [
        "s3:PutBucketPolicy",
        "s3:GetBucketPolicy",
        "s3:DeleteBucketPolicy",
    ],
    "AWS::Logs::LogGroup": [
        "logs:TagLogGroup",
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
        "logs:DescribeLogGroups",
        "logs:DeleteLogGroup",
    ],
    "AWS::RDS::DBCluster": [
        "rds:CreateDBCluster",
        "rds:DescribeDBClusters",
        "rds:ModifyDBCluster",
        "rds:DeleteDBCluster",
        "rds:AddTagsToResource",
        "rds:EnableHttpEndpoint",
        # DeletionPolicy: Snapshot.
        "rds:CreateDBClusterSnapshot",
        # ManageMasterUserPassword: RDS creates the secret with the caller's rights.
        "secretsmanager:CreateSecret",
        "secretsmanager:TagResource",
        "kms:DescribeKey",
        "iam:CreateServiceLinkedRole",
    ],
    "AWS::RDS::DBClusterParameterGroup": [
        "rds:CreateDBClusterParameterGroup",
        "rds:ModifyDBClusterParameterGroup",
        "rds:DescribeDBClusterParameters",
        "rds:DeleteDBClusterParameterGroup",
        "rds:ResetDBClusterParameterGroup",
    ],
    "AWS::RDS::DBInstance": [
        "rds:CreateDBInstance",
        "rds:DescribeDBInstances",
        "rds:ModifyDBInstance",
        "rds:DeleteDBInstance",
        "rds:RebootDBInstance",
    ],
    "AWS::RDS::DBProxy": [
        "rds:CreateDBProxy",
        "rds:DescribeDBProxies",
        "rds:ModifyDBProxy",
        "rds:DeleteDBProxy",
        "iam:PassRole",
    ],
    "AWS::RDS::DBProxyTargetGroup": [
        "rds:RegisterDBProxyTargets",
        "rds:DeregisterDBProxyTargets",
        "rds:DescribeDBProxyTargets",
        "rds:ModifyDBProxyTargetGroup",
    ],
    "AWS::RDS::DBSubnetGroup": [
        "rds:CreateDBSubnetGroup",
        "rds:DescribeDBSubnetGroups",
        "rds:ModifyDBSubnetGroup",
        "rds:DeleteDBSubnetGroup",
    ],
    "AWS::SNS::Subscription": ["sns:Subscribe", "sns:GetSubscriptionAttributes", "sns:Unsubscribe"],
    "AWS::SNS::Topic": [
        "sns:CreateTopic",
        "sns:GetTopicAttributes",
        "sns:SetTopicAttributes",
        "sns:DeleteTopic",
        "sns:TagResource",
    ],
    # An optional custom domain (a domain name, its API mapping and a Route 53 alias record).
    "AWS::ApiGatewayV2::DomainName": ["apigateway:POST", "apigateway:GET", "apigateway:DELETE"],
    "AWS::ApiGatewayV2::ApiMapping": ["apigateway:POST", "apigateway:PATCH", "apigateway:DELETE"],
    "AWS::Route53::RecordSet": [
        "route53:ChangeResourceRecordSets",
        "route53:ListResourceRecordSets",
        "route53:GetChange",
    ],
    # A custom resource is a Lambda invocation by CloudFormation.
    "Custom::DatabaseMigration": ["lambda:InvokeFunction"],
    "Custom::DatabaseUser": ["lambda:InvokeFunction"],
}

# The app template's variants: every resource it can create appears in one of them.
VARIANTS: list[dict[str, str]] = [
    {},
    {"EnableRdsProxy": "true"},
    {"NotificationEmail": "owner@example.com"},
    {
        "CustomDomainName": "api.example.com",
        "CustomDomainCertificateArn": (
            "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"
        ),
        "CustomDomainHostedZoneId": "Z0123456789ABCDEFGHIJ",
    },
    {
        "DatabaseMode": "existing",
        "ExistingDatabaseSecretArn": EXISTING_SECRET,
        "ExistingSubnetIds": "subnet-1,subnet-2",
        "ExistingSecurityGroupIds": "sg-1",
    },
]


def _app_resource_types() -> set[str]:
    types: set[str] = set()
    for given in VARIANTS:
        types |= {r["Type"] for r in translate(given).resources.values()}
    return types


def test_every_resource_type_of_the_app_stack_is_accounted_for() -> None:
    # A resource type added to template.yaml fails here until its permissions are in NEEDS and
    # in the service role.
    assert _app_resource_types() - set(NEEDS) == set()


@pytest.mark.parametrize("resource_type", sorted(NEEDS))
def test_the_service_role_can_create_update_and_delete(resource_type: str) -> None:
    statements = _role_policy(_stack(), "CloudFormationServiceRole")
    missing = [a for a in NEEDS[resource_type] if not _allows(statements, a)]
    assert missing == []


def test_the_service_role_is_scoped() -> None:
    statements = _role_policy(_stack(AppStackName="my-portfolio"), "CloudFormationServiceRole")
    for statement in statements:
        for action in statement["Action"]:
            name = action.partition(":")[2]
            # No service-wide grant; wildcards only for read-only Describe calls.
            assert name != "*" and ("*" not in name or name == "Describe*"), action
    by_action = {a: s for s in statements for a in s["Action"]}
    stack_roles = "arn:aws:iam::123456789012:role/my-portfolio-*"
    assert by_action["iam:CreateRole"]["Resource"] == [stack_roles]
    assert by_action["iam:PassRole"]["Resource"] == [stack_roles]
    assert by_action["iam:PassRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": ["lambda.amazonaws.com", "rds.amazonaws.com"]}
    }
    assert by_action["lambda:CreateFunction"]["Resource"] == [
        "arn:aws:lambda:us-east-1:123456789012:function:my-portfolio-*"
    ]
    assert by_action["iam:CreateServiceLinkedRole"]["Condition"]["StringEquals"][
        "iam:AWSServiceName"
    ] == ["rds.amazonaws.com", "ops.apigateway.amazonaws.com"]
    trust = _stack().properties("CloudFormationServiceRole")["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_the_admin_digest_is_the_only_parameter_either_role_reads() -> None:
    stack = _stack(AdminTokenDigestName="/team/portfolio/digest")
    for role in ["DeployRole", "CloudFormationServiceRole"]:
        (statement,) = [s for s in _role_policy(stack, role) if "ssm:GetParameters" in s["Action"]]
        assert statement["Resource"] == [
            "arn:aws:ssm:us-east-1:123456789012:parameter/team/portfolio/digest",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:/team/portfolio/digest-*",
        ]


def test_the_image_repository_keeps_the_newest_images_only() -> None:
    repository = _stack(ImagesToKeep="6").properties("ImageRepository")
    policy = json.loads(repository["LifecyclePolicy"]["LifecyclePolicyText"])
    (rule,) = policy["rules"]
    assert rule["selection"] == {
        "tagStatus": "any",
        "countType": "imageCountMoreThan",
        "countNumber": 6,
    }
    assert rule["action"] == {"type": "expire"}
    (pull,) = repository["RepositoryPolicyText"]["Statement"]
    assert pull["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert pull["Condition"] == {
        "StringLike": {"aws:sourceArn": "arn:aws:lambda:us-east-1:123456789012:function:*"}
    }


@pytest.mark.sam
def test_cfn_lint_passes_the_role_template() -> None:
    # cfn-lint also checks every IAM action name against the service's list (W3037).
    result = subprocess.run(
        [str(BIN / "cfn-lint"), str(ROLE_TEMPLATE)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.sam
def test_cfn_lint_catches_a_misspelt_action(tmp_path: Path) -> None:
    broken = tmp_path / "github-oidc.yaml"
    broken.write_text(
        ROLE_TEMPLATE.read_text().replace("ec2:CreateVpcEndpoint", "ec2:CreateVpcEndpiont")
    )
    result = subprocess.run(
        [str(BIN / "cfn-lint"), str(broken)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0 and "W3037" in result.stdout
