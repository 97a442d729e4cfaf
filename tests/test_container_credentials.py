"""IAM database auth on ECS: the task role's credentials come from the container agent.

The agent's endpoint cannot exist here: a local HTTP server stands in for it (a stand-in of
AWS, named as such), reached through AWS_CONTAINER_CREDENTIALS_FULL_URI as the AWS SDKs allow.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc

from app.aws import container_credentials
from app.aws.rds_auth import IamAuthToken
from app.settings import Settings
from tests.support import serve_in_thread


class AgentStandIn:
    """Serves one credentials document at /creds and counts the requests."""

    def __init__(self) -> None:
        self.requests = 0
        self.document: dict[str, Any] = {}
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                agent.requests += 1
                body = json.dumps(agent.document).encode()
                self.send_response(200 if self.path == "/creds" else 404)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/creds"
        serve_in_thread(self.server)

    def issue(self, key_id: str, expires_in: dt.timedelta) -> None:
        expiration = (dt.datetime.now(dt.UTC) + expires_in).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.document = {
            "AccessKeyId": key_id,
            "SecretAccessKey": "secret",
            "Token": "session-token",
            "Expiration": expiration,
        }


@pytest.fixture
def agent() -> Iterator[AgentStandIn]:
    stand_in = AgentStandIn()
    yield stand_in
    stand_in.server.shutdown()


def _settings(**values: Any) -> Settings:
    return Settings(
        db_iam_auth=True,
        db_host="db.example.internal",
        db_name="portfolio",
        db_user="portfolio_app",
        aws_region="eu-west-1",
        **values,
    )


def _token_key_id(hook: IamAuthToken) -> str:
    params: dict[str, Any] = {}
    hook(None, None, None, params)
    query = urllib.parse.parse_qs(params["password"].split("?", 1)[1])
    return query["X-Amz-Credential"][0].split("/")[0]


def test_the_token_is_signed_with_the_task_role_s_credentials(agent: AgentStandIn) -> None:
    agent.issue("ASIATASKROLE", dt.timedelta(hours=6))
    hook = IamAuthToken(_settings(aws_container_credentials_full_uri=agent.url))
    assert _token_key_id(hook) == "ASIATASKROLE"
    assert _token_key_id(hook) == "ASIATASKROLE"
    assert agent.requests == 1  # kept while they are valid


def test_credentials_are_fetched_again_before_they_expire(agent: AgentStandIn) -> None:
    agent.issue("ASIAOLD", dt.timedelta(minutes=4))  # inside the 5-minute margin
    hook = IamAuthToken(_settings(aws_container_credentials_full_uri=agent.url))
    assert _token_key_id(hook) == "ASIAOLD"
    agent.issue("ASIANEW", dt.timedelta(hours=6))
    assert _token_key_id(hook) == "ASIANEW"
    assert agent.requests == 2


def test_lambda_s_variables_win_over_the_agent(agent: AgentStandIn) -> None:
    agent.issue("ASIATASKROLE", dt.timedelta(hours=6))
    hook = IamAuthToken(
        _settings(
            aws_container_credentials_full_uri=agent.url,
            aws_access_key_id="ASIALAMBDA",
            aws_secret_access_key="secret",
        )
    )
    assert _token_key_id(hook) == "ASIALAMBDA"
    assert agent.requests == 0


def test_the_relative_uri_is_the_ecs_agent_s_address() -> None:
    settings = _settings(aws_container_credentials_relative_uri="/v2/credentials/abc")
    assert container_credentials.url_for(settings) == "http://169.254.170.2/v2/credentials/abc"


@pytest.mark.parametrize("document", [{}, {"AccessKeyId": "A"}, {"Code": "Error"}])
def test_no_or_bad_credentials_are_a_database_error_not_a_crash(
    agent: AgentStandIn, document: dict[str, Any]
) -> None:
    agent.document = document
    hook = IamAuthToken(_settings(aws_container_credentials_full_uri=agent.url))
    with pytest.raises(sa_exc.OperationalError):
        hook(None, None, None, {})
    with pytest.raises(sa_exc.OperationalError, match="no AWS credentials"):
        IamAuthToken(_settings())(None, None, None, {})
