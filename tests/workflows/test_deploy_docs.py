"""docs/deploy.md against the tools it describes (issue 18): the commands that run offline are
run as written, against SAM CLI's own code where SAM CLI decides the outcome; the statements
about AWS are checked against the template they describe.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
from pathlib import Path

import jmespath
import pytest

from tests.sam.translated import TEMPLATE
from tests.workflows import readme
from tests.workflows.support import ROOT

DEPLOY = (ROOT / "docs" / "deploy.md").read_text()
REGION_LINE = "REGION=$(sed -n 's/^region = \"\\(.*\\)\"$/\\1/p' samconfig.toml)"
ROTATE_LINE = (
    'sed -i \'s/AdminTokenDigestVersion=\\\\"[0-9a-f-]*\\\\"/AdminTokenDigestVersion=\\\\"\''
    '"$VERSION"'
    "'\\\\\"/' samconfig.toml"
)
PREFIX_LINE = 'PREFIX="portfoliobackend$(printf %s portfolio-backend | md5sum | cut -c1-8)/"'
REPOS_LINE = (
    'REPOS=$(aws ecr describe-repositories --region "$REGION" --output text --query '
    "\"repositories[?starts_with(repositoryName, '$PREFIX')].repositoryName\")"
)
# What `sam deploy --guided` writes into samconfig.toml (the format SAM CLI saves).
GUIDED = (
    "[default.deploy.parameters]\n"
    'region = "eu-west-1"\n'
    'parameter_overrides = "AdminTokenDigestName=\\"/portfolio/admin-token-sha256\\" '
    'AdminTokenDigestVersion=\\"1\\" DbEngineVersion=\\"17.9\\" StageName=\\"$default\\""\n'
)


def _project(tmp_path: Path) -> Path:
    (tmp_path / "samconfig.toml").write_text(
        (ROOT / "samconfig.toml").read_text().replace("[default.deploy.parameters]\n", GUIDED)
    )
    return tmp_path


def _bash(script: str, cwd: Path) -> str:
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, text=True, check=True, timeout=30
    ).stdout


def _saved_overrides(project: Path) -> dict[str, str]:
    """The parameter overrides SAM CLI itself reads from samconfig.toml for `sam deploy`."""
    from samcli.cli.types import CfnParameterOverridesType
    from samcli.lib.config.samconfig import SamConfig

    saved = SamConfig(str(project)).get_all(["deploy"], "parameters")
    return dict(CfnParameterOverridesType().convert(saved["parameter_overrides"], None, None))


def test_the_region_line_reads_the_region_the_guided_deploy_saved(tmp_path: Path) -> None:
    project = _project(tmp_path)
    line = readme.command(REGION_LINE)
    assert _bash(f'{line}; printf %s "$REGION"', project) == "eu-west-1"


@pytest.mark.parametrize("version", ["2", "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"])
def test_the_rotation_moves_the_saved_digest_version_and_nothing_else(
    tmp_path: Path, version: str
) -> None:
    project = _project(tmp_path)
    before = _saved_overrides(project)
    assert before["AdminTokenDigestVersion"] == "1"
    line = readme.command(ROTATE_LINE)
    _bash(f"VERSION={version}; {line}", project)
    after = _saved_overrides(project)
    assert after == before | {"AdminTokenDigestVersion": version}
    # Twice, as a second rotation would: the pattern matches what the first one wrote.
    _bash(f"VERSION=3; {line}", project)
    assert _saved_overrides(project)["AdminTokenDigestVersion"] == "3"


def test_the_repository_query_selects_the_repositories_sam_creates_and_no_others(
    tmp_path: Path,
) -> None:
    from samcli.lib.bootstrap.companion_stack.data_types import CompanionStack, ECRRepo

    prefix = _bash(f'{readme.command(PREFIX_LINE)}; printf %s "$PREFIX"', tmp_path)
    companion = CompanionStack("portfolio-backend")
    ours = [
        ECRRepo(companion_stack=companion, function_full_path=name).physical_id
        for name in ("ApiFunction", "MigrateFunction")
    ]
    assert all(repo and repo.startswith(prefix) for repo in ours), (prefix, ours)
    others = [
        ECRRepo(companion_stack=CompanionStack(stack), function_full_path="ApiFunction").physical_id
        for stack in ("portfolio-backend-staging", "portfoliobackend")
    ] + ["portfolio-backend", "unrelated/apifunction"]
    listing = {"repositories": [{"repositoryName": name} for name in [*others, *ours]]}
    # The --query the document shows, with $PREFIX expanded as bash expands it.
    command = readme.command(REPOS_LINE)
    (query,) = re.findall(r'--query "([^"]+)"', command)
    assert jmespath.search(query.replace("$PREFIX", prefix), listing) == ours


def test_the_lifecycle_policy_keeps_the_last_five_images_of_any_tag() -> None:
    # The rule shape of AWS's lifecycle policy examples:
    # https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_examples.html
    policy = json.loads((ROOT / "scripts" / "ecr-lifecycle-policy.json").read_text())
    (rule,) = policy["rules"]
    assert rule["selection"] == {
        "tagStatus": "any",
        "countType": "imageCountMoreThan",
        "countNumber": 5,
    }
    assert rule["action"] == {"type": "expire"} and rule["rulePriority"] == 1
    assert "file://scripts/ecr-lifecycle-policy.json" in DEPLOY


def test_the_guided_prompts_are_quoted_as_sam_cli_asks_them() -> None:
    from samcli.commands.deploy.auth_utils import auth_per_resource
    from samcli.commands.deploy.guided_context import GuidedContext
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    stacks, _ = SamLocalStackProvider.get_stacks(
        str(TEMPLATE), parameter_overrides={"AdminTokenDigestName": "/x"}
    )
    unauthenticated = [name for name, required in auth_per_resource(stacks) if not required]
    assert unauthenticated == ["ApiFunction", "ApiFunction"]  # one question per HttpApi event
    source = inspect.getsource(GuidedContext)
    (auth_format,) = re.findall(r"\{resource\}([^{]+)\{self\.end_bold\}", source)
    prompt = f"ApiFunction{auth_format}"
    assert f"`{prompt} [y/N]`, **twice**" in DEPLOY
    for question, answer in [
        ("Confirm changes before deploy", "[Y/n]"),
        ("Allow SAM CLI IAM role creation", "[Y/n]"),
        ("Disable rollback", "[y/N]"),
    ]:
        assert f'{{self.start_bold}}{question}{{self.end_bold}}"' in source, question
        assert f"`{question} {answer}`" in DEPLOY
    # No ECR question: samconfig.toml lets SAM create the repositories.
    assert "resolve_image_repos = true" in (ROOT / "samconfig.toml").read_text()
    assert "Create managed ECR repositories" in source


def test_teardown_states_the_eni_permission_and_the_wait() -> None:
    assert DEPLOY.count("ec2:DescribeNetworkInterfaces") >= 2
    assert "20\N{EN DASH}45 minutes" in DEPLOY
    assert "about 20 minutes" not in DEPLOY


def test_every_command_on_the_stacks_resources_names_the_region() -> None:
    # The stack's region is the one the guided deploy saved, not the CLI's default.
    shown = [c for path, c in readme.located() if path.endswith("deploy.md")]
    scoped = [c for c in shown if re.match(r"(\w+=\$\()?aws (rds|ecr|ec2) ", c)]
    assert len(scoped) >= 5
    for command in scoped:
        assert "--region " in command, command


def test_versions_only_move_forward_and_the_pinning_claim_matches_aws() -> None:
    assert "Versions only move forward" in DEPLOY
    design = (ROOT / "docs" / "design.md").read_text()
    assert "a session-level `SET` would pin" not in design
    for text in (DEPLOY, design):
        assert "SET LOCAL" in text and "nextval" in text and "advisory lock" in text


def test_the_cost_table_counts_maintenance_wakes_and_the_image_repositories() -> None:
    cost = (ROOT / "docs" / "cost.md").read_text()
    assert "$0 (paused at 0 ACU)" not in cost
    assert "maintenance wakes it" in cost
    assert "one ~100 MB image per function repository" not in cost
    assert "lifecycle policy" in cost
