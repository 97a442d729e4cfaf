"""`sam build` and `sam deploy` resolve the same architecture, with the real SAM CLI.

`sam build --debug` logs the architecture it builds each image for ("Building codeuri: ...
architecture: arm64 functions: ...") before it needs a container engine, so it runs here with
none. `sam deploy --debug` logs the parameter overrides it resolved from samconfig.toml before
it needs credentials; what CloudFormation then sets on the functions is the template evaluated
with those values (SAM CLI's own merge_parameters, then the SAM translator).

The trap this guards against: `sam deploy --guided` saves its answers for `deploy` only, so an
Architecture *parameter* answered x86_64 there was never seen by `sam build`.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sam.translated import ROOT, load, translate
from tests.workflows import readme

BIN = Path(sys.executable).parent
# What a `sam deploy --guided` run saves when the template has an Architecture parameter.
GUIDED_X86 = (
    'region = "us-east-1"\n'
    'parameter_overrides = "Architecture=\\"x86_64\\" '
    'AdminTokenDigestName=\\"/portfolio/admin-token-sha256\\""\n'
)
# The documented instruction for an x86_64 deployment (docs/deploy.md), run as written.
(X86_EDIT,) = [
    line for line in readme.commands() if line.startswith("sed -i") and "Architectures" in line
]

pytestmark = pytest.mark.sam


def _project(tmp_path: Path, deploy_section: str = "", template_edit: bool = False) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "template.yaml", project / "template.yaml")
    if template_edit:
        subprocess.run(["bash", "-c", X86_EDIT], cwd=project, check=True, timeout=30)
        assert (project / "template.yaml").read_text().count("[x86_64]") == 1
    config = (ROOT / "samconfig.toml").read_text()
    if deploy_section:
        config = config.replace(
            "[default.deploy.parameters]\n", f"[default.deploy.parameters]\n{deploy_section}"
        )
    (project / "samconfig.toml").write_text(config)
    shutil.copy(ROOT / "Dockerfile", project / "Dockerfile")
    return project


def _sam(project: Path, *args: str) -> str:
    """The real CLI, offline: no credentials, no container engine, no network."""
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(project.parent),
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "DOCKER_HOST": f"unix://{project}/no-engine.sock",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    result = subprocess.run(
        [str(BIN / "sam"), *args, "--debug"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.stdout + result.stderr


def built(project: Path) -> dict[str, str]:
    """Function name -> the architecture `sam build` builds its image for."""
    found: dict[str, str] = {}
    log = _sam(project, "build")
    for arch, names in re.findall(r"Building codeuri: .* architecture: (\S+) functions: (.+)", log):
        found.update({name.strip(): arch for name in names.split(",")})
    assert found, log[-3000:]
    return found


def deployed(project: Path) -> dict[str, str]:
    """Function name -> the architecture CloudFormation would give it on `sam deploy`."""
    from samcli.commands.deploy.deploy_context import DeployContext

    log = _sam(project, "deploy")
    match = re.search(r"--parameter_overrides=(\{.*?\}) ", log)
    overrides = ast.literal_eval(match.group(1)) if match else {}
    template = load(project / "template.yaml")
    merged = DeployContext.merge_parameters(template, overrides)
    values = {p["ParameterKey"]: p["ParameterValue"] for p in merged if "ParameterValue" in p}
    stack = translate(values, project / "template.yaml")
    return {
        name: stack.value_deep(resource["Properties"].get("Architectures", ["x86_64"]))[0]
        for name, resource in stack.of_type("AWS::Lambda::Function").items()
        if resource["Properties"].get("PackageType") == "Image"
    }


@pytest.mark.parametrize(
    ("deploy_section", "template_edit", "expected"),
    [
        ("", False, "arm64"),
        (GUIDED_X86, False, "arm64"),  # a stale answer cannot split them
        ("", True, "x86_64"),  # the one place to change it
    ],
    ids=["as-shipped", "guided-answer-saved-for-deploy", "template-edited"],
)
def test_build_and_deploy_resolve_the_same_architecture(
    tmp_path: Path, deploy_section: str, template_edit: bool, expected: str
) -> None:
    project = _project(tmp_path, deploy_section, template_edit)
    assert (
        built(project)
        == deployed(project)
        == {
            "ApiFunction": expected,
            "MigrateFunction": expected,
            "DrainFunction": expected,
        }
    )
