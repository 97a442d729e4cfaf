"""The rule: every command the README and docs/*.md show (their ```sh blocks) is run, as written,
by a named test, or is listed below with the reason it cannot run here. A command added to a
document without either fails this module, and so does a named test that no longer holds the
command. ("README" below means README.md and docs/*.md together.)
"""

from __future__ import annotations

import ast
import subprocess

import pytest

from tests.workflows import readme
from tests.workflows.support import ROOT

# command -> the test that runs it, as written ("path::function").
EXERCISED: dict[str, str] = {
    "make run": "tests/workflows/test_make_run.py::test_make_run_on_a_fresh_tree",
    "echo \"ADMIN_TOKEN_SHA256=$(printf %s 'local-admin-token' | sha256sum | cut -d' ' -f1)\""
    " >> .env": "tests/workflows/test_make_run.py::test_make_run_on_a_fresh_tree",
    "make seed": "tests/workflows/test_make_run.py::test_make_run_on_a_fresh_tree",
    "DATABASE_URL=postgresql+psycopg2://portfolio:portfolio@localhost:5432/portfolio make migrate "
    "run": "tests/workflows/test_make_run.py::test_make_migrate_run_on_postgresql",
    "make test-fast": "tests/workflows/test_bare_debian.py::test_make_test_fast_on_bare_debian",
    "make lint": "tests/workflows/test_make_run.py::test_make_lint_and_events_on_a_fresh_tree",
    "make events": "tests/workflows/test_make_run.py::test_make_lint_and_events_on_a_fresh_tree",
    "export LAMBDA_RIE=$(scripts/engine.sh rie-path)": (
        "tests/workflows/test_compose.py::test_compose_up_serves_both_ports_and_down_leaves_nothing"
    ),
    "curl localhost:8000/health": (
        "tests/workflows/test_compose.py::test_compose_up_serves_both_ports_and_down_leaves_nothing"
    ),
    "curl localhost:8001/health": (
        "tests/workflows/test_compose.py::test_compose_up_serves_both_ports_and_down_leaves_nothing"
    ),
    "curl -d @events/http-v2/get-health.json localhost:9000/2015-03-31/functions/function/"
    "invocations": (
        "tests/workflows/test_compose.py::test_compose_up_serves_both_ports_and_down_leaves_nothing"
    ),
    "curl -X POST localhost:8000/projects -H 'Authorization: Bearer local-admin-token' -H "
    "'content-type: application/json' -d "
    """'{"slug":"hello","title":"Hello","summary":"First","body":"# Hi","published":true}'""": (
        "tests/workflows/test_compose.py::test_compose_up_serves_both_ports_and_down_leaves_nothing"
    ),
    "make image && make local": "tests/workflows/test_make_local.py::test_make_local_and_invoke",
    "make invoke EVENT=http-v2/get-projects.json": (
        "tests/workflows/test_make_local.py::test_make_local_and_invoke"
    ),
    # python:3.11-slim cannot be pulled here: the copy's template names the offline base.
    "sam build": "tests/sam/test_sam_local_bare.py::test_the_first_step_needs_no_compose_stack",
    "sam local invoke ApiFunction -e events/alb/get-health.json": (
        "tests/sam/test_sam_local_bare.py::test_the_first_step_needs_no_compose_stack"
    ),
    "sam local invoke ApiFunction -e events/alb/get-projects.json": (
        "tests/sam/test_sam_local_bare.py::test_the_first_step_needs_no_compose_stack"
    ),
    "sam local invoke MigrateFunction --docker-network portfolio-local": (
        "tests/sam/test_sam_local_bare.py::test_bare_invoke"
    ),
    "sam local invoke ApiFunction -e events/http-v2/get-projects.json --docker-network "
    "portfolio-local": "tests/sam/test_sam_local_bare.py::test_bare_invoke",
    "sam local start-api --docker-network portfolio-local": (
        "tests/sam/test_sam_local_bare.py::test_bare_start_api"
    ),
    "TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))'); echo \"$TOKEN\"": (
        "tests/workflows/test_readme_commands.py::test_the_token_recipe_prints_a_fresh_token"
    ),
    # docs/deploy.md: the offline parts of the region, rotation and image clean-up recipes.
    "REGION=$(sed -n 's/^region = \"\\(.*\\)\"$/\\1/p' samconfig.toml)": (
        "tests/workflows/test_deploy_docs.py::"
        "test_the_region_line_reads_the_region_the_guided_deploy_saved"
    ),
    'sed -i \'s/AdminTokenDigestVersion=\\\\"[0-9a-f-]*\\\\"/AdminTokenDigestVersion=\\\\"\''
    '"$VERSION"'
    "'\\\\\"/' samconfig.toml": (
        "tests/workflows/test_deploy_docs.py::"
        "test_the_rotation_moves_the_saved_digest_version_and_nothing_else"
    ),
    'PREFIX="portfoliobackend$(printf %s portfolio-backend | md5sum | cut -c1-8)/"': (
        "tests/workflows/test_deploy_docs.py::"
        "test_the_repository_query_selects_the_repositories_sam_creates_and_no_others"
    ),
}

# Tests that read their command from the documents themselves (readme.commands(), at run time).
READS_THE_README: dict[str, str] = {
    "sed -i 's/^    Architectures: \\[arm64\\]$/    Architectures: [x86_64]/' template.yaml": (
        "tests/sam/test_architecture.py::test_build_and_deploy_resolve_the_same_architecture"
    ),
}

# command -> why no test runs it as written here (each names what runs instead, if anything).
NOT_RUN_HERE: dict[str, str] = {
    "make test": "the whole suite, this test included (it would run itself); CI runs it through "
    ".ci/run, and its set-up step (scripts/setup.sh) is exercised by test_bare_debian.py",
    "docker compose up --build": "no Docker daemon here: test_compose.py runs this line with "
    "podman-compose in place of `docker compose` (same file, same arguments)",
    "docker compose down -v": "no Docker daemon here: test_compose.py runs this line with "
    "podman-compose in place of `docker compose`",
    # AWS-account commands: nothing can be deployed from here.
    "aws ssm put-parameter --name /portfolio/admin-token-sha256 --type String --value "
    '"$(printf %s "$TOKEN" | sha256sum | cut -d\' \' -f1)"': "AWS account (SSM)",
    "sam deploy --guided": "AWS account; the template is validated by tests/sam (cfn-lint, "
    "sam validate, the SAM translator)",
    "URL=$(aws cloudformation describe-stacks --stack-name portfolio-backend --query "
    "\"Stacks[0].Outputs[?OutputKey=='ApiUrl'].OutputValue\" --output text)": "AWS account",
    'curl "${URL}health"; curl "${URL}projects"': "a deployed stack's URL",
    'curl -X POST "${URL}projects" -H "Authorization: Bearer $TOKEN" -H '
    "'content-type: application/json' -d "
    """'{"slug":"hello","title":"Hello","summary":"First","body":"# Hi","tags":[],"""
    """"published":true}'""": "a deployed stack's URL",
    "sam logs --stack-name portfolio-backend --tail": "AWS account (CloudWatch Logs)",
    'aws rds describe-db-engine-versions --engine aurora-postgresql --region "$REGION" '
    "--query 'DBEngineVersions[].EngineVersion' --output text": "AWS account (RDS API)",
    "aws ec2 describe-availability-zones --region us-east-1 --query "
    "'AvailabilityZones[].[ZoneName,ZoneId]' --output text": "AWS account (EC2 API)",
    'aws rds describe-db-clusters --region "$REGION" --query '
    "'DBClusters[].[DBClusterIdentifier,EngineVersion]' --output text": "AWS account (RDS API)",
    'aws rds create-db-cluster-snapshot --region "$REGION" --db-cluster-identifier CLUSTER '
    "--db-cluster-snapshot-identifier portfolio-before-major-upgrade": "AWS account (RDS API)",
    "VERSION=$(aws ssm put-parameter --name /portfolio/admin-token-sha256 --type String "
    '--overwrite --value "$(printf %s "$TOKEN" | sha256sum | cut -d\' \' -f1)" --query Version '
    "--output text)": "AWS account (SSM); the sed line after it runs in test_deploy_docs.py",
    "sam deploy": "AWS account; test_deploy_docs.py checks what it reads from samconfig.toml",
    'REPOS=$(aws ecr describe-repositories --region "$REGION" --output text --query '
    "\"repositories[?starts_with(repositoryName, '$PREFIX')].repositoryName\")": "AWS account "
    "(ECR); test_deploy_docs.py evaluates its --query against SAM CLI's repository names",
    'for repo in $REPOS; do aws ecr put-lifecycle-policy --region "$REGION" --repository-name '
    '"$repo" --lifecycle-policy-text file://scripts/ecr-lifecycle-policy.json; done': "AWS account "
    "(ECR); test_deploy_docs.py checks the policy file",
    "sam deploy --parameter-overrides DbDeletionProtection=false": "AWS account; the parameter "
    "is translated by tests/sam/test_deploy_review.py",
    "sam deploy --parameter-overrides DbEngineVersion=17.9": "AWS account; the template with "
    "that engine version is translated and linted by tests/sam",
    "sam delete --stack-name portfolio-backend": "AWS account",
    # GitHub wiring (README, docs/github-actions.md): an AWS account and a GitHub repository.
    # tests/deploy/test_github_workflows.py checks their stack name, template and parameters
    # against deploy.yml and the template, and evaluates the --query with JMESPath.
    "aws cloudformation deploy --stack-name portfolio-backend-github --template-file "
    "deploy/github-oidc.yaml --capabilities CAPABILITY_IAM --parameter-overrides "
    'GitHubRepository="$(gh repo view --json nameWithOwner -q .nameWithOwner)"': "AWS account "
    "(CloudFormation) and a GitHub repository; the template is linted by cfn-lint in tests/deploy",
    'gh variable set AWS_DEPLOY_ROLE_ARN --body "$(aws cloudformation describe-stacks '
    "--stack-name portfolio-backend-github --query "
    '"Stacks[0].Outputs[?OutputKey==\'DeployRoleArn\'].OutputValue" --output text)"': "AWS "
    "account and a GitHub repository (gh needs one to write variables to)",
    # The HTTP host on ECS Express Mode (docs/http-host.md).
    "aws cloudformation deploy --stack-name portfolio-backend-web --template-file "
    "deploy/ecs-express.yaml --capabilities CAPABILITY_IAM --parameter-overrides "
    "ImageUri=$IMAGE_URI_INDEX SubnetIds=$SUBNETS SecurityGroupIds=$SECURITY_GROUP "
    "DbHost=$DB_HOST DbResourceId=$DB_RESOURCE_ID": "AWS account (ECS Express Mode); the "
    "template is linted by cfn-lint and checked against the image and the app in "
    "tests/sam/test_ecs_express.py",
    # The suite's own pytest invocations: `make test` runs these very tests.
    ".venv/bin/python -m pytest tests/reliability": "part of the suite (make test runs it)",
    "FUZZ_EXAMPLES=1000 .venv/bin/python -m pytest tests/reliability/test_fuzz.py": "part of the "
    "suite at FUZZ_EXAMPLES' default; the long run is `make fuzz`",
    ".venv/bin/python -m pytest -m image tests/image/test_reliability_load.py "
    "tests/image/test_reliability_hardening.py": "part of the suite (make test runs it)",
    ".venv/bin/python -m pytest -m slow tests/reliability/test_unicode_fuzz.py": "part of the "
    "suite (its slow tier; make test runs it)",
    ".venv/bin/python -m pytest -m slow tests/reliability/test_event_mutations.py": "part of "
    "the suite (its slow tier; make test runs it)",
    "LOAD_INVOCATIONS=500 .venv/bin/python -m pytest -m image -s "
    "tests/image/test_reliability_load.py": "part of the suite at LOAD_INVOCATIONS' default",
}


def test_every_readme_command_is_exercised_or_excused() -> None:
    known = {*EXERCISED, *READS_THE_README, *NOT_RUN_HERE}
    unaccounted = [(doc, c) for doc, c in readme.located() if c not in known]
    assert unaccounted == [], "commands in README.md or docs/ no test runs and no reason excuses"


def test_the_documents_are_read_where_the_depth_moved() -> None:
    # The commands that moved out of README.md are still found (and so still held to the rule).
    docs = {doc for doc, _ in readme.located()}
    assert {"README.md", "docs/deploy.md", "docs/workflows.md", "docs/development.md"} <= docs


def test_every_shell_block_is_marked_sh() -> None:
    # A block fenced as bash/shell/console would escape the rule above: the reader types it, but
    # readme.commands() reads only ```sh blocks.
    other_shells = {"bash", "shell", "console", "zsh", "shell-session", "sh-session"}
    marked = [
        (path.name, number, fence.group("lang"))
        for path in readme.documents()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if (fence := readme.FENCE.match(line)) and fence.group("lang").lower() in other_shells
    ]
    assert marked == []


def test_the_lists_name_only_commands_the_readme_shows() -> None:
    shown = set(readme.commands())
    stale = [c for c in [*EXERCISED, *READS_THE_README, *NOT_RUN_HERE] if c not in shown]
    assert stale == []
    assert not set(EXERCISED) & set(NOT_RUN_HERE)
    assert not set(READS_THE_README) & (set(EXERCISED) | set(NOT_RUN_HERE))


@pytest.mark.parametrize("command", sorted(EXERCISED))
def test_the_named_test_exists_and_holds_the_command(command: str) -> None:
    path, _, name = EXERCISED[command].partition("::")
    source = (ROOT / path).read_text()
    functions = {
        node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)
    }
    assert name in functions, f"{EXERCISED[command]} does not exist"
    # The module passes the command through readme.command() (or holds it verbatim): the test
    # runs what the README shows, and breaks when the README changes it.
    literals = {
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert command in literals, f"{path} does not hold the command as written"


@pytest.mark.parametrize("command", sorted(READS_THE_README))
def test_the_named_test_exists_and_reads_the_readme(command: str) -> None:
    path, _, name = READS_THE_README[command].partition("::")
    source = (ROOT / path).read_text()
    tree = ast.parse(source)
    assert name in {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert "readme.commands()" in source  # it takes the line from the documents at run time


def test_the_token_recipe_prints_a_fresh_token() -> None:
    line = readme.command(
        "TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))'); echo \"$TOKEN\""
    )
    runs = [
        subprocess.run(["bash", "-c", line], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    ]
    assert all(len(token.strip()) == 43 for token in runs)  # 32 bytes, URL-safe base64
    assert runs[0] != runs[1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("make run   # a comment", ["make run"]),
        ('curl -d \'{"body":"# Hi"}\' x  # comment', ['curl -d \'{"body":"# Hi"}\' x']),
        ("a \\\n  b", ["a b"]),
    ],
)
def test_commands_are_read_the_way_the_shell_reads_them(
    text: str, expected: list[str], tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "README.md").write_text(f"# x\n\n```sh\n{text}\n```\n\n```\nnot sh\n```\n")
    monkeypatch.setattr(readme, "ROOT", root)
    readme.located.cache_clear()
    readme.commands.cache_clear()
    try:
        assert list(readme.commands()) == expected
    finally:
        readme.located.cache_clear()
        readme.commands.cache_clear()
