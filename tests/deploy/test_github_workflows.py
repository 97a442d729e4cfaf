""".github/workflows: actionlint on both, then what each must hold: CI runs the README's test
command on pull requests; deploy runs sam build + sam deploy on main through OIDC, in an
environment, with no stored AWS key, and reads only outputs the role template really has.
GitHub's runners are not here: the workflows are checked, not run.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import jmespath
import pytest
import yaml

from tests.sam.translated import ROOT, load
from tests.workflows import readme

WORKFLOWS = ROOT / ".github" / "workflows"
ROLE_TEMPLATE = ROOT / "deploy" / "github-oidc.yaml"
ACTIONLINT = Path(sys.executable).parent / "actionlint"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def _workflow(name: str) -> dict[Any, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(document, dict)
    # YAML 1.1 reads the key `on` as the boolean true.
    document["on"] = document.pop(True, document.get("on"))
    return document


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def _actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", "-oneline", *map(str, paths)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_actionlint_passes_every_workflow() -> None:
    workflows = sorted(WORKFLOWS.glob("*.yml"))
    assert [w.name for w in workflows] == ["ci.yml", "deploy.yml"]
    result = _actionlint(*workflows)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_refuses_an_injectable_workflow(tmp_path: Path) -> None:
    # The same checker, on a copy of deploy.yml with an attacker-controlled expression in a shell.
    workflow = tmp_path / ".github" / "workflows" / "deploy.yml"
    workflow.parent.mkdir(parents=True)
    text = (WORKFLOWS / "deploy.yml").read_text()
    workflow.write_text(
        text.replace("run: make venv", "run: echo ${{ github.event.head_commit.message }}")
    )
    result = _actionlint(workflow)
    assert result.returncode == 1 and "potentially untrusted" in result.stdout


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_every_action_is_pinned_by_commit_sha(name: str) -> None:
    uses = [step["uses"] for step in _steps(_workflow(name)) if "uses" in step]
    assert uses and all(PINNED.match(u) for u in uses), uses
    # ... and says which release that commit is.
    for line in (WORKFLOWS / name).read_text().splitlines():
        if "uses:" in line:
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line


def test_ci_runs_the_readme_test_command_on_pull_requests() -> None:
    ci = _workflow("ci.yml")
    assert ci["on"] == {"pull_request": None}
    assert ci["permissions"] == {"contents": "read"}
    (job,) = ci["jobs"].values()
    # On Debian 12 as root (Debian's python3 is the 3.11 the image ships), privileged for podman.
    assert job["container"]["image"] == "debian:12"
    assert job["container"]["options"] == "--privileged"
    runs = [step["run"] for step in job["steps"] if "run" in step]
    # The one set-up script (what .ci/run runs first), then the README's command, as written.
    assert runs[-2:] == ["bash scripts/setup.sh test", readme.command("make test")]
    assert "bash scripts/setup.sh test" in (ROOT / ".ci" / "run").read_text()
    assert "id-token" not in (WORKFLOWS / "ci.yml").read_text()


def test_deploy_runs_sam_on_main_through_oidc_in_an_environment() -> None:
    deploy = _workflow("deploy.yml")
    assert deploy["on"] == {"push": {"branches": ["main"]}}
    assert deploy["permissions"] == {"contents": "read"}  # id-token only where it is needed
    (job,) = deploy["jobs"].values()
    default_environment = load(ROLE_TEMPLATE)["Parameters"]["DeployEnvironment"]["Default"]
    assert job["environment"] == default_environment  # the trust policy's subject names it
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    (credentials,) = [
        s
        for s in job["steps"]
        if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    ]
    assert credentials["with"] == {
        "role-to-assume": "${{ vars.AWS_DEPLOY_ROLE_ARN }}",
        "aws-region": "${{ vars.AWS_REGION }}",
    }
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert any(r.startswith(".venv/bin/sam build") for r in runs)
    (deploy_step,) = [r for r in runs if ".venv/bin/sam deploy" in r]
    assert "--role-arn" in deploy_step and "--no-confirm-changeset" in deploy_step
    # Credentials come after the build tools and before the first AWS call.
    order = [s.get("name") or s.get("uses", "").split("@")[0] for s in job["steps"]]
    assert order.index("aws-actions/configure-aws-credentials") == order.index("sam build") - 1


def test_no_workflow_holds_or_reads_a_stored_key() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        assert "secrets." not in text, path.name
        assert not re.search(r"aws-(access-key-id|secret-access-key|session-token)", text)
        assert "AWS_ACCESS_KEY_ID" not in text and "AWS_SECRET_ACCESS_KEY" not in text


def test_deploy_reads_only_outputs_the_role_stack_has() -> None:
    text = (WORKFLOWS / "deploy.yml").read_text()
    read = set(re.findall(r"\$\(output (\w+)\)", text))
    assert read == {"ArtifactBucket", "ImageRepository", "CloudFormationRoleArn"}
    assert read <= set(load(ROLE_TEMPLATE)["Outputs"])


# -- the documented wiring (docs/github-actions.md) -------------------------------------------

ROLE_STACK_COMMAND = (
    "aws cloudformation deploy --stack-name portfolio-backend-github --template-file "
    "deploy/github-oidc.yaml --capabilities CAPABILITY_IAM --parameter-overrides "
    'GitHubRepository="$(gh repo view --json nameWithOwner -q .nameWithOwner)"'
)
VARIABLE_COMMAND = (
    'gh variable set AWS_DEPLOY_ROLE_ARN --body "$(aws cloudformation describe-stacks '
    "--stack-name portfolio-backend-github --query "
    '"Stacks[0].Outputs[?OutputKey==\'DeployRoleArn\'].OutputValue" --output text)"'
)


def test_the_documented_role_stack_is_the_one_deploy_reads() -> None:
    words = shlex.split(readme.command(ROLE_STACK_COMMAND))
    stack_name = words[words.index("--stack-name") + 1]
    assert f"vars.AWS_ROLE_STACK_NAME || '{stack_name}'" in (WORKFLOWS / "deploy.yml").read_text()
    assert (ROOT / words[words.index("--template-file") + 1]) == ROLE_TEMPLATE
    overrides = words[words.index("--parameter-overrides") + 1 :]
    template = load(ROLE_TEMPLATE)
    assert {o.split("=")[0] for o in overrides} <= set(template["Parameters"])
    # Every parameter without a default is given.
    required = {n for n, p in template["Parameters"].items() if "Default" not in p}
    assert required <= {o.split("=")[0] for o in overrides}


def test_the_documented_query_selects_the_deploy_role() -> None:
    # The --query of the variable command, evaluated by JMESPath (what the AWS CLI uses) on a
    # DescribeStacks answer holding every output the role template declares.
    inner = readme.command(VARIABLE_COMMAND).split('"$(', 1)[1].rsplit(')"', 1)[0]
    words = shlex.split(inner)
    query = words[words.index("--query") + 1]
    outputs = [
        {"OutputKey": key, "OutputValue": f"value-of-{key}"}
        for key in load(ROLE_TEMPLATE)["Outputs"]
    ]
    assert jmespath.search(query, {"Stacks": [{"Outputs": outputs}]}) == ["value-of-DeployRoleArn"]
    variable = shlex.split(readme.command(VARIABLE_COMMAND))[3]
    assert "${{ vars." + variable + " }}" in (WORKFLOWS / "deploy.yml").read_text()
