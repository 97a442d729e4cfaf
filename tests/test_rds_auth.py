"""The RDS IAM auth token (app/aws/rds_auth.py), byte for byte against botocore's
`generate_db_auth_token`, and the settings that select IAM authentication.

botocore is a development dependency only (it comes with aws-sam-cli), never in the image; it
signs with awscrt when that is installed, as here, else with its own SigV4: both clocks are
frozen. The login itself, with the token as the password over verified TLS, is in
tests/test_db_tls.py.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from typing import Any
from unittest import mock

import botocore.session as botocore_session
import pytest

from app.aws.rds_auth import generate_auth_token
from app.aws.sigv4 import Credentials
from app.settings import Settings, SettingsError, load_settings

KEYS = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+token/with+specials="
CASES = [
    # (region, host, port, user, session token, when)
    (
        "us-east-1",
        "portfolio.cluster-abc123.us-east-1.rds.amazonaws.com",
        5432,
        "portfolio_app",
        SESSION_TOKEN,
        dt.datetime(2026, 11, 29, 9, 0, 0),
    ),
    (
        "us-east-1",
        "portfolio.cluster-abc123.us-east-1.rds.amazonaws.com",
        5432,
        "portfolio_app",
        None,
        dt.datetime(2026, 11, 29, 9, 0, 0),
    ),
    (
        "eu-west-1",
        "portfolio-proxy.proxy-xyz.eu-west-1.rds.amazonaws.com",
        5432,
        "app",
        SESSION_TOKEN,
        dt.datetime(2026, 12, 31, 23, 59, 59),
    ),
    (
        "ap-southeast-2",
        "db.internal.example",
        6543,
        "user.name+tag@example",
        None,
        dt.datetime(2027, 1, 1, 0, 0, 0),
    ),
    (
        "us-gov-west-1",
        "gov.cluster-q.us-gov-west-1.rds.amazonaws.com",
        5432,
        "Admin_User",
        SESSION_TOKEN,
        dt.datetime(2026, 2, 28, 12, 30, 5),
    ),
    (
        "cn-north-1",
        "cn.cluster-q.rds.cn-north-1.amazonaws.com.cn",
        3306,
        "u",
        None,
        dt.datetime(2028, 2, 29, 1, 2, 3),
    ),
    (
        "eu-central-2",
        "10.0.1.25",
        5432,
        "iam user",
        SESSION_TOKEN,
        dt.datetime(2026, 6, 15, 8, 0, 0),
    ),
]


@functools.cache
def _botocore() -> botocore_session.Session:
    # One session for every case: a new one parses botocore's RDS model again (~0.25 s a case).
    return botocore_session.get_session()


def _botocore_token(
    region: str, host: str, port: int, user: str, token: str | None, when: dt.datetime
) -> str:
    client = _botocore().create_client(
        "rds",
        region_name=region,
        aws_access_key_id=KEYS[0],
        aws_secret_access_key=KEYS[1],
        aws_session_token=token,
    )

    def clock(remove_tzinfo: bool = True) -> dt.datetime:
        return when if remove_tzinfo else when.replace(tzinfo=dt.UTC)

    # The only stand-in: botocore's clock (its own signer's and awscrt's).
    with (
        mock.patch("botocore.auth.get_current_datetime", clock),
        mock.patch("botocore.crt.auth.get_current_datetime", clock),
    ):
        return str(client.generate_db_auth_token(host, port, user))


@pytest.mark.parametrize(("region", "host", "port", "user", "token", "when"), CASES)
def test_the_token_is_botocores_byte_for_byte(
    region: str, host: str, port: int, user: str, token: str | None, when: dt.datetime
) -> None:
    expected = _botocore_token(region, host, port, user, token, when)
    mine = generate_auth_token(
        host=host,
        port=port,
        user=user,
        region=region,
        credentials=Credentials(*KEYS, token),
        now=when.replace(tzinfo=dt.UTC),
    )
    assert mine == expected
    assert mine.startswith(f"{host}:{port}/?Action=connect&DBUser=")
    assert f"X-Amz-Date={when:%Y%m%dT%H%M%SZ}" in mine


def _random_cases(count: int, seed: int) -> list[tuple[Any, ...]]:
    """Hosts in mixed case (DNS names are case-insensitive, and people paste them as they
    like: `Portfolio.Cluster-ABC.eu-west-1.RDS.amazonaws.com`), with random users, ports and
    times; a fixed seed, so that a failure names a case that can be run again."""
    rng = random.Random(seed)
    regions = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1"]
    labels = ["portfolio", "cluster-abc123", "proxy-xyz", "db", "rds", "amazonaws", "com"]
    cases = []
    for _ in range(count):
        host = ".".join(rng.sample(labels, rng.randint(2, 5)))
        host = "".join(c.upper() if rng.random() < 0.4 else c for c in host)
        user = "".join(rng.choice("abcXYZ_09.+@ ") for _ in range(rng.randint(1, 12)))
        when = dt.datetime(2026, 1, 1) + dt.timedelta(seconds=rng.randrange(3 * 365 * 86400))
        cases.append(
            (
                rng.choice(regions),
                host,
                rng.choice([5432, 6543, 443, 3306]),
                user,
                rng.choice([None, SESSION_TOKEN]),
                when,
            )
        )
    return cases


@pytest.mark.parametrize(
    ("region", "host", "port", "user", "token", "when"),
    _random_cases(60, seed=17),
    ids=[f"{case[1]}:{case[2]}" for case in _random_cases(60, seed=17)],
)
def test_mixed_case_hosts_are_signed_as_botocore_signs_them(
    region: str, host: str, port: int, user: str, token: str | None, when: dt.datetime
) -> None:
    # botocore signs the host lowercased (a host name's case carries no meaning), and RDS
    # checks the signature against the host it reconstructs: a differently-signed token is a
    # refused login that only happens with capital letters in DB_HOST.
    expected = _botocore_token(region, host, port, user, token, when)
    mine = generate_auth_token(
        host=host,
        port=port,
        user=user,
        region=region,
        credentials=Credentials(*KEYS, token),
        now=when.replace(tzinfo=dt.UTC),
    )
    assert mine == expected


def test_the_secret_key_never_appears_in_the_token() -> None:
    token = generate_auth_token(
        host="h", port=5432, user="u", region="us-east-1", credentials=Credentials(*KEYS)
    )
    assert KEYS[1] not in token and "wJalrXUtnFEMI" not in token


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> pytest.MonkeyPatch:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def _iam_env(env: pytest.MonkeyPatch, **extra: str) -> None:
    values = {
        "DB_IAM_AUTH": "true",
        "DB_HOST": "portfolio.cluster-abc.eu-west-1.rds.amazonaws.com",
        "DB_NAME": "portfolio",
        "DB_USER": "portfolio_app",
        "AWS_REGION": "eu-west-1",
        **extra,
    }
    for name, value in values.items():
        env.setenv(name, value)


def test_iam_auth_defaults_to_verified_tls_on_port_5432(clean_env: pytest.MonkeyPatch) -> None:
    _iam_env(clean_env)
    settings = load_settings()
    assert (settings.db_iam_auth, settings.db_port, settings.effective_sslmode) == (
        True,
        5432,
        "verify-full",
    )


@pytest.mark.parametrize("missing", ["DB_HOST", "DB_NAME", "DB_USER", "AWS_REGION"])
def test_iam_auth_without_its_target_stops_start_up(
    clean_env: pytest.MonkeyPatch, missing: str
) -> None:
    _iam_env(clean_env, **{missing: ""})  # empty counts as unset
    with pytest.raises(SettingsError, match=f"DB_IAM_AUTH needs {missing}"):
        load_settings()


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer"])
def test_iam_auth_refuses_an_sslmode_that_allows_plaintext(
    clean_env: pytest.MonkeyPatch, mode: str
) -> None:
    _iam_env(clean_env, DB_SSLMODE=mode)
    with pytest.raises(SettingsError, match=f"DB_SSLMODE={mode}: DB_IAM_AUTH requires TLS"):
        load_settings()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),  # DATABASE_URL (local): libpq's default or the URL's own
        ({"DATABASE_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:x"}, "verify-full"),
        ({"DATABASE_SECRET_ARN": "arn:x", "DB_SSLMODE": "require"}, "require"),
        ({"DB_SSLMODE": "disable"}, "disable"),
    ],
)
def test_sslmode_defaults(
    clean_env: pytest.MonkeyPatch, env: dict[str, str], expected: str | None
) -> None:
    for name, value in env.items():
        clean_env.setenv(name, value)
    assert load_settings().effective_sslmode == expected


def test_an_unknown_sslmode_stops_start_up(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DB_SSLMODE", "verify_full")
    with pytest.raises(SettingsError, match="DB_SSLMODE"):
        load_settings()
