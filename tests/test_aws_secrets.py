"""The hand-written SigV4 signer and GetSecretValue client (app/aws/aws_secrets.py).

The signer is checked against AWS's published Signature Version 4 test-suite vectors
("get-vanilla" and friends: credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z, region us-east-1,
service "service"). The client is checked against a local HTTP server that stands in for
AWS Secrets Manager, since no AWS account is reachable from the test machines: the server
recomputes the signature independently of the code under test and refuses bad ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from app.aws import aws_secrets
from app.aws.aws_secrets import Credentials, SecretsManagerError
from tests.support import http_server

SUITE_CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_DATE = "20150830T123600Z"
SUITE_SCOPE = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"


def _suite_sign(method: str, url: str) -> str:
    headers = {"Host": "example.amazonaws.com", "X-Amz-Date": SUITE_DATE}
    return aws_secrets.sign(
        method,
        url,
        headers,
        aws_secrets.EMPTY_SHA256,
        credentials=SUITE_CREDENTIALS,
        region="us-east-1",
        service="service",
        amz_date=SUITE_DATE,
    )


@pytest.mark.parametrize(
    ("name", "method", "url", "signature"),
    [
        (
            "get-vanilla",
            "GET",
            "https://example.amazonaws.com/",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "get-vanilla-query-order-key-case",
            "GET",
            "https://example.amazonaws.com/?Param2=value2&Param1=value1",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        (
            "post-vanilla",
            "POST",
            "https://example.amazonaws.com/",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ),
    ],
)
def test_signer_matches_the_published_sigv4_test_suite(
    name: str, method: str, url: str, signature: str
) -> None:
    assert _suite_sign(method, url) == (
        f"AWS4-HMAC-SHA256 Credential={SUITE_SCOPE}, SignedHeaders=host;x-amz-date, "
        f"Signature={signature}"
    ), name


def test_signing_key_matches_the_published_derivation() -> None:
    key = aws_secrets.signing_key(
        SUITE_CREDENTIALS.secret_access_key, "20150830", "us-east-1", "service"
    )
    assert key.hex() == "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75"


def test_signer_agrees_with_botocore_on_a_secrets_manager_request() -> None:
    """A second, independent signer (a dev dependency, never in the image)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "TOKEN/+=")
    url = "https://secretsmanager.eu-west-1.amazonaws.com/"
    body = b'{"SecretId": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"}'
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "secretsmanager.GetSecretValue",
    }
    when = dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.UTC)

    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    SigV4Auth(
        BotoCredentials(creds.access_key_id, creds.secret_access_key, creds.session_token),
        "secretsmanager",
        "eu-west-1",
    ).add_auth(request)

    ours = {
        **headers,
        "Host": "secretsmanager.eu-west-1.amazonaws.com",
        "X-Amz-Date": request.context["timestamp"],
        "X-Amz-Security-Token": "TOKEN/+=",
    }
    mine = aws_secrets.sign(
        "POST",
        url,
        ours,
        hashlib.sha256(body).hexdigest(),
        credentials=creds,
        region="eu-west-1",
        service="secretsmanager",
        amz_date=request.context["timestamp"],
    )
    assert request.headers["Authorization"].split("Signature=")[1] == mine.split("Signature=")[1]


# -- a local stand-in for AWS Secrets Manager ------------------------------------------------


def _reference_signature(secret_key: str, amz_date: str, region: str, canonical: str) -> str:
    """Signature computed here from first principles, independently of app.aws.aws_secrets."""

    def mac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    scope = f"{amz_date[:8]}/{region}/secretsmanager/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = mac(
        mac(mac(mac(f"AWS4{secret_key}".encode(), amz_date[:8]), region), "secretsmanager"),
        "aws4_request",
    )
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class FakeSecretsManager(BaseHTTPRequestHandler):
    """Answers GetSecretValue like AWS does, after checking the SigV4 signature."""

    secrets: ClassVar[dict[str, str]] = {}
    keys: ClassVar[dict[str, str]] = {}  # access key id -> secret access key
    region: ClassVar[str] = "eu-west-1"
    seen: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append({"headers": dict(self.headers), "body": body})
        auth = self.headers.get("Authorization", "")
        try:
            credential = auth.split("Credential=")[1].split(",")[0]
            signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
            given = auth.split("Signature=")[1]
        except IndexError:
            return self._reply(403, {"__type": "MissingAuthenticationTokenException"})
        access_key = credential.split("/")[0]
        if access_key not in self.keys or "x-amz-security-token" not in signed:
            return self._reply(
                403,
                {
                    "__type": "UnrecognizedClientException",
                    "message": "The security token is invalid.",
                },
            )
        canonical = "\n".join(
            [
                "POST",
                "/",
                "",
                "".join(f"{h}:{self.headers[h].strip()}\n" for h in signed),
                ";".join(signed),
                hashlib.sha256(body).hexdigest(),
            ]
        )
        expected = _reference_signature(
            self.keys[access_key], self.headers["X-Amz-Date"], self.region, canonical
        )
        if not hmac.compare_digest(given, expected):
            return self._reply(
                403,
                {
                    "__type": "InvalidSignatureException",
                    "message": "The request signature we calculated does not match",
                },
            )
        if self.headers.get("X-Amz-Target") != "secretsmanager.GetSecretValue":
            return self._reply(400, {"__type": "UnknownOperationException"})
        secret_id = json.loads(body)["SecretId"]
        if secret_id not in self.secrets:
            return self._reply(
                400,
                {
                    "__type": "com.amazonaws.secretsmanager#ResourceNotFoundException",
                    "Message": "Secrets Manager can't find the specified secret.",
                },
            )
        return self._reply(
            200,
            {
                "ARN": secret_id,
                "Name": secret_id.rsplit(":", 1)[-1],
                "SecretString": self.secrets[secret_id],
                "VersionId": "v1",
                "CreatedDate": 1.7e9,
            },
        )


SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:portfolio/db-AbCdEf"
LAMBDA_CREDENTIALS = Credentials("ASIAFAKEKEY", "fake/secret+key", "session-token/==")


DB_SECRET = {
    "username": "portfolio",
    "password": "p@ss:w/rd%",
    "host": "cluster.example.internal",
    "port": 5432,
    "dbname": "portfolio",
    "engine": "postgres",
}


@pytest.fixture
def secrets_manager() -> Iterator[str]:
    FakeSecretsManager.secrets = {
        SECRET_ARN: json.dumps(DB_SECRET),
        "not-json": "hunter2",
    }
    FakeSecretsManager.keys = {
        LAMBDA_CREDENTIALS.access_key_id: LAMBDA_CREDENTIALS.secret_access_key
    }
    FakeSecretsManager.seen = []
    with http_server(FakeSecretsManager) as address:
        yield f"http://{address}"


def test_get_secret_json_returns_the_parsed_secret(secrets_manager: str) -> None:
    secret = aws_secrets.get_secret_json(
        SECRET_ARN, credentials=LAMBDA_CREDENTIALS, endpoint=secrets_manager
    )
    assert secret == DB_SECRET
    (request,) = FakeSecretsManager.seen
    assert request["headers"]["X-Amz-Security-Token"] == LAMBDA_CREDENTIALS.session_token
    assert json.loads(request["body"]) == {"SecretId": SECRET_ARN}


def test_a_wrong_secret_key_is_refused_by_the_signature_check(secrets_manager: str) -> None:
    wrong = Credentials(LAMBDA_CREDENTIALS.access_key_id, "not-the-key", "session-token/==")
    with pytest.raises(SecretsManagerError, match=r"HTTP 403 InvalidSignatureException"):
        aws_secrets.get_secret_json(SECRET_ARN, credentials=wrong, endpoint=secrets_manager)


def test_an_unknown_secret_names_the_aws_error(secrets_manager: str) -> None:
    missing = SECRET_ARN.replace("db-AbCdEf", "gone-XyZ123")
    with pytest.raises(SecretsManagerError, match=r"HTTP 400 ResourceNotFoundException: Secrets"):
        aws_secrets.get_secret_json(
            missing, credentials=LAMBDA_CREDENTIALS, endpoint=secrets_manager
        )


def test_a_non_json_secret_is_refused_without_echoing_it(secrets_manager: str) -> None:
    with pytest.raises(SecretsManagerError, match="not JSON") as caught:
        aws_secrets.get_secret_json(
            "not-json", credentials=LAMBDA_CREDENTIALS, region="eu-west-1", endpoint=secrets_manager
        )
    assert "hunter2" not in str(caught.value)


def test_an_unreachable_endpoint_fails_within_the_timeout() -> None:
    with pytest.raises(SecretsManagerError, match="could not reach"):
        aws_secrets.get_secret_json(
            SECRET_ARN, credentials=LAMBDA_CREDENTIALS, endpoint="http://127.0.0.1:9", timeout=1.0
        )


def test_the_region_comes_from_the_arn_and_the_endpoint_from_the_region() -> None:
    assert aws_secrets.region_of_arn(SECRET_ARN) == "eu-west-1"
    assert aws_secrets.region_of_arn("portfolio/db") is None
    assert (
        aws_secrets.default_endpoint("eu-west-1")
        == "https://secretsmanager.eu-west-1.amazonaws.com"
    )
    assert aws_secrets.default_endpoint("cn-north-1").endswith(".amazonaws.com.cn")
    with pytest.raises(SecretsManagerError, match="no region"):
        aws_secrets.get_secret_json("portfolio/db", credentials=LAMBDA_CREDENTIALS)


def test_database_url_from_secret_percent_encodes_and_honours_a_host_override(
    secrets_manager: str,
) -> None:
    settings = SimpleNamespace(
        database_secret_arn=SECRET_ARN,
        aws_region="eu-west-1",
        aws_access_key_id=LAMBDA_CREDENTIALS.access_key_id,
        aws_secret_access_key=LAMBDA_CREDENTIALS.secret_access_key,
        aws_session_token=LAMBDA_CREDENTIALS.session_token,
        db_host=None,
    )
    url = aws_secrets.database_url_from_secret(settings, endpoint=secrets_manager)
    assert url == (
        "postgresql+psycopg2://portfolio:p%40ss%3Aw%2Frd%25@cluster.example.internal:5432/portfolio"
    )

    settings.db_host = "proxy.example.internal"
    url = aws_secrets.database_url_from_secret(settings, endpoint=secrets_manager)
    assert url.endswith("@proxy.example.internal:5432/portfolio")

    sqlalchemy = pytest.importorskip("sqlalchemy")
    parsed = sqlalchemy.engine.make_url(url)
    assert (parsed.username, parsed.password, parsed.host) == (
        "portfolio",
        "p@ss:w/rd%",
        "proxy.example.internal",
    )


def test_credentials_never_show_the_secret_key() -> None:
    assert "fake/secret+key" not in repr(LAMBDA_CREDENTIALS)
