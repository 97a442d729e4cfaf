"""deploy.yml's `sam deploy` step, run as GitHub runs it (bash -e), with the real SAM CLI, up to
its first call to AWS. SAM checks its options and samconfig.toml before it calls anything, so
a flag SAM refuses (`--image-repository` beside samconfig's `resolve_image_repos`, say) fails
here. Stand-ins for what cannot exist here, named as such: `aws` is a script that answers the
role stack's outputs (there is no account to ask), the build directory holds the template
`sam build` writes with image URIs already in the registry (no engine pushes here), and every
AWS endpoint is a closed local port.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.sam.translated import ROOT, load

pytestmark = pytest.mark.sam

WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"
REPOSITORY_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/portfolio-images"
OUTPUTS = {
    "ArtifactBucket": "portfolio-artifacts-x1",
    "ImageRepository": REPOSITORY_URI,
    "CloudFormationRoleArn": "arn:aws:iam::123456789012:role/portfolio-backend-github-cfn",
}
# Stands in for the AWS CLI: answers describe-stacks --query "...OutputKey=='KEY'..." from a
# JSON file of outputs (None for a key it lacks, as the real CLI prints), and logs each call.
AWS_STAND_IN = """#!/usr/bin/env bash
printf '%s\\n' "$*" >>"$AWS_CALLS"
all="$*"
query=${all##*OutputKey==\\'}
key=${query%%\\'*}
python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], "None"))' \\
    "$AWS_OUTPUTS" "$key"
"""


def _deploy_script() -> str:
    (job,) = yaml.safe_load(WORKFLOW.read_text())["jobs"].values()
    (step,) = [s for s in job["steps"] if s.get("name") == "sam deploy"]
    return str(step["run"])


def _project(tmp_path: Path, outputs: dict[str, str]) -> tuple[Path, dict[str, str]]:
    project = tmp_path / "project"
    project.mkdir()
    for name in ["template.yaml", "samconfig.toml", "Dockerfile"]:
        shutil.copy(ROOT / name, project / name)
    (project / ".venv").symlink_to(ROOT / ".venv")
    # What `sam build` leaves, with each image already pushed (stand-in: no engine here).
    template = load(ROOT / "template.yaml")
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["ImageUri"] = f"{REPOSITORY_URI}:{name.lower()}-0123abcd"
    build = project / ".aws-sam" / "build"
    build.mkdir(parents=True)
    (build / "template.yaml").write_text(json.dumps(template))

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(AWS_STAND_IN)
    (bin_dir / "aws").chmod(0o755)
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ROLE_STACK": "portfolio-backend-github",
        "OVERRIDES": "AdminTokenDigestName=/portfolio/admin-token-sha256 LogLevel=DEBUG",
        "AWS_OUTPUTS": str(tmp_path / "outputs.json"),
        "AWS_CALLS": str(tmp_path / "aws-calls.log"),
        "SAM_CLI_TELEMETRY": "0",
        # What configure-aws-credentials exports, with made-up values; nothing answers them.
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "ASIAEXAMPLEEXAMPLE00",
        "AWS_SECRET_ACCESS_KEY": "example",
        "AWS_SESSION_TOKEN": "example",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_MAX_ATTEMPTS": "1",
        "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
    }
    return project, env


def _run(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # GitHub runs a `run:` block without `shell:` as `bash -e {0}`.
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-c", _deploy_script()],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_deploy_step_reaches_cloudformation_with_the_role_stacks_resources(
    tmp_path: Path,
) -> None:
    project, env = _project(tmp_path, OUTPUTS)
    done = _run(project, env)
    output = done.stdout + done.stderr

    # SAM accepted every option and samconfig's `ci` environment, packaged the template for the
    # stack samconfig names, and stopped only at the first call to AWS.
    assert done.returncode != 0
    assert "Only one of the following" not in output and "Usage:" not in output, output
    assert "Failed to create/update the stack: portfolio-backend," in output, output[-3000:]
    assert 'Could not connect to the endpoint URL: "http://127.0.0.1:9/"' in output
    calls = (tmp_path / "aws-calls.log").read_text().splitlines()
    assert len(calls) == 3
    assert all(
        c.startswith("cloudformation describe-stacks --stack-name portfolio-backend-github")
        for c in calls
    )


def test_a_missing_role_stack_output_stops_the_step_before_sam(tmp_path: Path) -> None:
    outputs = {k: v for k, v in OUTPUTS.items() if k != "ImageRepository"}
    project, env = _project(tmp_path, outputs)
    done = _run(project, env)
    assert done.returncode != 0
    assert "::error::portfolio-backend-github has no output ImageRepository" in done.stderr
    assert "Failed to create/update the stack" not in done.stdout + done.stderr


def test_the_ci_config_deploys_the_stack_the_role_trusts() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    stack = config["ci"]["global"]["parameters"]["stack_name"]
    role_template = load(ROOT / "deploy" / "github-oidc.yaml")
    assert stack == role_template["Parameters"]["AppStackName"]["Default"]
    deploy = config["ci"]["deploy"]["parameters"]
    # SAM refuses --image-repository beside resolve_image_repos, and the managed bucket would
    # need rights the deploy role does not have.
    assert "resolve_image_repos" not in deploy and "resolve_s3" not in deploy
    assert deploy["confirm_changeset"] is False
