"""The one settings object. Nothing else in the project reads the environment.

A plain pydantic model filled from the environment by `load_settings()`, not pydantic-settings:
the same validation for a tenth of the import (pydantic-settings cost 8 ms and 1.4 MB of every
cold start for what `_environment()` does in a dozen lines).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

# Unset DATABASE_URL means "run on a laptop": a SQLite file in the working directory.
DEFAULT_DATABASE_URL = "sqlite:///./portfolio.db"
# How a CloudFormation dynamic reference starts. CloudFormation replaces it at deploy time;
# SAM CLI's local commands cannot and pass the text through as the variable's value.
DYNAMIC_REFERENCE_PREFIX = "{{resolve:"
# The RDS CA bundle shipped with the code: certs/ in the repository, /var/task/certs in the image.
DEFAULT_SSLROOTCERT = str(Path(__file__).resolve().parent.parent / "certs" / "rds-ca-bundle.pem")
# That bundle cut into one file per AWS Region when the image is built (scripts/rds_ca_regions.py):
# libpq reads the whole CA file at each new connection, and the database's Region needs 3 of
# its 103 certificates (3.5 ms less CPU per connection, docs/benchmark.md).
REGIONAL_SSLROOTCERTS = Path(DEFAULT_SSLROOTCERT).parent / "rds"
# RDS and Aurora host names end with their Region: instances, cluster and reader endpoints and
# RDS Proxy endpoints alike (<name>.<id>.<region>.rds.amazonaws.com, <name>.cluster-<id>...,
# <name>.proxy-<id>...; https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/
# Aurora.Overview.Endpoints.html, https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/
# rds-proxy-endpoints.html). Any other host keeps the whole bundle.
_RDS_HOST = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d)\.rds\.amazonaws\.com\.?$")
SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# libpq 16+'s name for the operating system's trust store (DB_SSLROOTCERT or the URL's own).
SYSTEM_TRUST_STORE = "system"


# The dotenv file is for `make run`; Lambda has no such file and pays nothing for the lookup.
ENV_FILE = ".env"


class Settings(BaseModel):
    """Configuration read once from environment variables (names are the upper-cased fields).

    `load_settings()` reads the environment; `Settings(**values)` takes the values given only.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    # When set, the database URL is built from this Secrets Manager secret (RDS JSON format)
    # on first use, so credentials are never baked into the image or a plain-text parameter.
    database_secret_arn: str | None = None
    # Replaces the secret's host: an RDS Proxy endpoint differs from the cluster's own.
    db_host: str | None = None
    # RDS Proxy or PgBouncer in front: let the pooler pool, keep no idle connection here.
    db_external_pooler: bool = False
    db_connect_timeout: Annotated[int, Field(ge=1, le=60)] = 3
    db_statement_timeout_ms: Annotated[int, Field(ge=100, le=900_000)] = 5_000
    # Below the usual idle timeouts of NAT gateways, proxies and PostgreSQL itself.
    db_pool_recycle: Annotated[int, Field(ge=30)] = 240
    # RDS IAM database authentication: a token computed locally from the function's own
    # credentials replaces the password (no secret, no Secrets Manager endpoint). The target
    # is DB_HOST / DB_PORT / DB_NAME / DB_USER; TLS is required.
    db_iam_auth: bool = False
    db_port: Annotated[int, Field(ge=1, le=65535)] = 5432
    db_name: str | None = None
    db_user: str | None = None
    # libpq sslmode. Unset: the URL's own ?sslmode=, verify-full for the AWS paths (secret,
    # IAM) and with sslrootcert=system, else libpq's own default (how local databases are
    # reached). Explicit configuration wins over these defaults (see db_tls_settings below).
    db_sslmode: SslMode | None = None
    # A CA file, or `system` (the OS trust store: a public CA such as Neon's or Supabase's).
    # Unset: the URL's own ?sslrootcert=, else the RDS bundle shipped with the code.
    db_sslrootcert: str = DEFAULT_SSLROOTCERT
    # Pooled connections under a multi-request server (uvicorn: `make run`, compose). A Lambda
    # environment serves one event at a time and always uses one (app/hosts/lambda_host.py).
    db_pool_size: Annotated[int, Field(ge=1, le=100)] = 5

    # The fallback (docs/paused-database.md): an S3 bucket for the published snapshot and the
    # contact outbox. Unset: public reads and the contact form use the database only.
    fallback_bucket: str | None = None
    # How long a public read or a contact message waits for the database before answering
    # from the snapshot or the outbox; the connection attempt goes on in the background.
    db_read_budget_ms: Annotated[int, Field(ge=10, le=5_000)] = 250
    # The AWS SDKs' standard override of the S3 endpoint (tests: a local S3 server).
    aws_endpoint_url_s3: str | None = None

    admin_token_sha256: str | None = None
    cors_origins: list[str] = []
    # Base path of a custom-domain API mapping (e.g. "/v1"); stages are detected from events.
    api_base_path: str = ""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    max_body_bytes: Annotated[int, Field(ge=1024)] = 256 * 1024

    # POST /contact: messages one client may send per window before it gets 429.
    contact_rate_limit: Annotated[int, Field(ge=1, le=10_000)] = 5
    contact_rate_window_seconds: Annotated[int, Field(ge=60, le=86_400)] = 3_600
    # Key of the hash that stands for a client's address in the database. Unset: derived
    # from ADMIN_TOKEN_SHA256, a deploy-time secret the database never holds either.
    contact_client_key: str | None = None
    # The ALB in front preserves client ports in X-Forwarded-For (its attribute
    # routing.http.xff_client_port.enabled): the port is stripped from its entry.
    xff_client_port: bool = False
    # The HTTP host (app/hosts/http_host.py), when no Lambda runtime API is present.
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    # Worker processes; unset: the CPUs the container may use (its cgroup quota).
    web_concurrency: Annotated[int | None, Field(ge=1, le=64)] = None
    # Addresses or CIDRs of the proxies whose X-Forwarded-For is believed (the ALB's subnets);
    # none by default: the client is the peer of the TCP connection.
    trusted_proxies: list[str] = []
    # Each request's deadline outside Lambda: its database work ends by then (a JSON 503).
    request_timeout_seconds: Annotated[float, Field(gt=0, le=900)] = 30
    # After SIGTERM, how long in-flight requests may take to finish (ECS waits 30 s by default
    # before SIGKILL: a container definition's stopTimeout, default 30 s on Fargate,
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html).
    shutdown_timeout_seconds: Annotated[int, Field(ge=0, le=120)] = 25
    # Set by Lambda: the dimension of the metrics the function emits (app/aws/metrics.py).
    aws_lambda_function_name: str | None = None

    # Lambda's own variables, consumed when fetching the database secret.
    aws_region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    # ECS (and App Runner) serve the task role's credentials here instead of AWS_* variables
    # (app/aws/container_credentials.py).
    aws_container_credentials_relative_uri: str | None = None
    aws_container_credentials_full_uri: str | None = None
    # The AWS SDKs' standard override of the Secrets Manager endpoint (tests, LocalStack).
    aws_endpoint_url_secrets_manager: str | None = None
    # Set by Lambda: the runtime API (present only inside a Lambda runtime) and the
    # log level of Lambda's advanced logging controls.
    aws_lambda_runtime_api: str | None = None
    aws_lambda_log_level: str | None = None
    # "true" in every container SAM CLI runs (`sam local invoke/start-api`), never on AWS: SAM
    # CLI's answer to https://github.com/aws/aws-sam-cli/issues/6 (set in its
    # samcli/local/lambdafn/env_vars.py, beside the AWS_LAMBDA_* variables it emulates).
    aws_sam_local: bool = False

    # Variables left unset because SAM CLI passed an unresolved dynamic reference (see below).
    _unresolved: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # Hosts hand out postgres:// and postgresql:// URLs; SQLAlchemy reads the first as an
        # unknown dialect and the second as psycopg2 only by default. Both mean the one
        # PostgreSQL driver installed. The value is never echoed: it may hold a password.
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        scheme, separator, rest = value.partition("://")
        if not separator:
            raise ValueError("must be a URL such as postgresql://user@host/db")
        scheme = scheme.lower()
        if scheme in ("postgres", "postgresql", "postgresql+psycopg2"):
            value = f"postgresql+psycopg2://{rest}"
        elif scheme not in ("sqlite", "sqlite+pysqlite"):
            raise ValueError(
                "must be a postgresql:// (or postgres://) or sqlite:// URL; "
                "psycopg2 is the only PostgreSQL driver installed"
            )
        try:
            make_url(value).port  # noqa: B018 - parsing the port is the check
        except (ArgumentError, ValueError):
            raise ValueError("is not a valid database URL") from None
        return value

    @field_validator("admin_token_sha256")
    @classmethod
    def _is_sha256_hex(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if value.startswith(DYNAMIC_REFERENCE_PREFIX):
            return value  # judged with AWS_SAM_LOCAL in _unresolved_references
        value = value.strip().lower()
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise ValueError("must be the 64-character hex SHA-256 digest of the admin token")
        return value

    @model_validator(mode="after")
    def _iam_auth_has_a_target_and_tls(self) -> Settings:
        if not self.db_iam_auth:
            return self
        missing = [
            name.upper()
            for name in ("db_host", "db_name", "db_user", "aws_region")
            if not getattr(self, name)
        ]
        if missing:
            raise ValueError(f"DB_IAM_AUTH needs {', '.join(missing)}")
        if self.db_sslmode in ("disable", "allow", "prefer"):
            # RDS accepts IAM tokens only over TLS; a plaintext fallback must not even start.
            raise ValueError(f"DB_SSLMODE={self.db_sslmode}: DB_IAM_AUTH requires TLS")
        return self

    @property
    def _url_query(self) -> dict[str, str]:
        """The libpq parameters the DATABASE_URL itself carries, when it is the target."""
        if self.db_iam_auth or self.database_secret_arn:
            return {}
        from sqlalchemy.engine import make_url

        query = make_url(self.database_url).query
        repeated = sorted(name for name, value in query.items() if isinstance(value, tuple))
        if repeated:
            raise ValueError(f"DATABASE_URL gives {', '.join(repeated)} more than once")
        return {name: str(value) for name, value in query.items()}

    @property
    def _url_tls(self) -> tuple[str | None, str | None]:
        """(sslmode, sslrootcert) the DATABASE_URL itself carries, when it is the target."""
        query = self._url_query
        return query.get("sslmode"), query.get("sslrootcert")

    @property
    def sslrootcert(self) -> str:
        """The CA to verify against: DB_SSLROOTCERT, the URL's own, or the RDS bundle (the
        file of the database's Region when its host name says it and the image has it)."""
        if "db_sslrootcert" in self.model_fields_set:
            return self.db_sslrootcert
        url_root = self._url_tls[1]
        if url_root is not None:
            return url_root
        return regional_sslrootcert(self._database_host) or self.db_sslrootcert

    @property
    def _database_host(self) -> str | None:
        """The host the engine connects to, when the settings name it (a secret may not)."""
        if self.db_host:
            return self.db_host
        if self.database_url.startswith("sqlite"):
            return None
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).host

    @property
    def effective_sslmode(self) -> SslMode | None:
        """The sslmode to connect with; None leaves it to libpq (its default, `prefer`)."""
        if self.db_sslmode is not None:
            return self.db_sslmode
        url_mode = self._url_tls[0]
        if url_mode is not None:
            return url_mode  # type: ignore[return-value]  # checked by _tls_explicit_wins
        if self.db_iam_auth or self.database_secret_arn:
            return "verify-full"
        if self.sslrootcert == SYSTEM_TRUST_STORE:
            return "verify-full"  # libpq 16+'s own default with sslrootcert=system
        return None

    @model_validator(mode="after")
    def _tls_explicit_wins(self) -> Settings:
        # The URL's own TLS parameters and the DB_* settings are both explicit: where they
        # disagree, nothing says which one the operator meant, so neither silently wins.
        url_mode, url_root = self._url_tls
        if url_mode is not None and url_mode not in _SSLMODES:
            raise ValueError(f"DATABASE_URL: unknown sslmode={url_mode}")
        if url_mode is not None and self.db_sslmode not in (None, url_mode):
            raise ValueError(
                f"DATABASE_URL says sslmode={url_mode} and DB_SSLMODE={self.db_sslmode}: set one"
            )
        url_timeout = self._url_query.get("connect_timeout")
        explicit_timeout = "db_connect_timeout" in self.model_fields_set
        if (
            url_timeout is not None
            and explicit_timeout
            and url_timeout != str(self.db_connect_timeout)
        ):
            raise ValueError(
                f"DATABASE_URL says connect_timeout={url_timeout} and "
                f"DB_CONNECT_TIMEOUT={self.db_connect_timeout}: set one"
            )
        explicit_root = "db_sslrootcert" in self.model_fields_set
        if url_root is not None and explicit_root and url_root != self.db_sslrootcert:
            raise ValueError("DATABASE_URL's sslrootcert and DB_SSLROOTCERT differ: set one")
        mode = self.effective_sslmode
        if self.sslrootcert == SYSTEM_TRUST_STORE and mode != "verify-full":
            # libpq refuses it too: a public CA signs certificates for anyone's host names,
            # so only checking the name as well (verify-full) means anything.
            raise ValueError(f"sslrootcert=system needs sslmode=verify-full, not {mode}")
        return self

    @model_validator(mode="after")
    def _unresolved_references(self) -> Settings:
        # Under SAM CLI an unresolved reference must not stop INIT: the variable counts as unset
        # (admin routes answer 503) and the app logs its name. On AWS CloudFormation resolves
        # every reference during the stack operation, which fails when the parameter is missing
        # (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html),
        # so reference text in a deployed function is a mistake: refuse it.
        value = self.admin_token_sha256
        if value is None or not value.startswith(DYNAMIC_REFERENCE_PREFIX):
            return self
        if not self.aws_sam_local:
            raise ValueError(
                "ADMIN_TOKEN_SHA256 is an unresolved dynamic reference; "
                "it must be the 64-character hex SHA-256 digest of the admin token"
            )
        object.__setattr__(self, "admin_token_sha256", None)  # frozen model, still validating
        self._unresolved = ("ADMIN_TOKEN_SHA256",)
        return self

    @property
    def database_unavailable_detail(self) -> str:
        """What a 503 for a database outage says. Under `sam local` the first step runs with
        no database at all (docs/workflows.md): say how to start one, not "try again"."""
        if self.aws_sam_local:
            return (
                "database unavailable: under sam local, start the Compose stack's database "
                "(docker compose up -d db) and add --docker-network portfolio-local to the sam "
                "command"
            )
        return "database unavailable, try again shortly"

    @property
    def unresolved_references(self) -> tuple[str, ...]:
        """Variables SAM CLI left as unresolved deploy-time references (treated as unset)."""
        return self._unresolved

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [entry.strip() for entry in value.split(",") if entry.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR") from None
        return value

    @field_validator("api_base_path")
    @classmethod
    def _normalise_base_path(cls, value: str) -> str:
        value = value.strip().strip("/")
        return f"/{value}" if value else ""


def regional_sslrootcert(host: str | None) -> str | None:
    """The CA file of the Region an RDS host name ends with, if REGIONAL_SSLROOTCERTS has it."""
    found = _RDS_HOST.search(host.lower()) if host else None
    if found is None:
        return None
    path = REGIONAL_SSLROOTCERTS / f"{found.group(1)}.pem"
    return str(path) if path.is_file() else None


class SettingsError(RuntimeError):
    """Raised at start-up when a variable is invalid; the message names the variable."""


def _environment(environ: Mapping[str, str], env_file: str = ENV_FILE) -> dict[str, Any]:
    """The fields' values from `environ`, over those of `env_file` when it exists.

    Names match case-insensitively. Empty values count as unset: SAM templates declare every
    variable `sam local --env-vars` may override, with "" as the value when there is none.
    """
    values: dict[str, Any] = {}
    if os.path.isfile(env_file):
        from dotenv import dotenv_values  # only `make run` has the file

        values.update(_fields_of(dotenv_values(env_file)))
    values.update(_fields_of(environ))
    return values


def _fields_of(variables: Mapping[str, str | None]) -> dict[str, str]:
    return {
        name.lower(): value
        for name, value in variables.items()
        if value and name.lower() in Settings.model_fields
    }


def load_settings() -> Settings:
    """Read and validate the environment, turning validation errors into one clear message."""
    from pydantic import ValidationError

    try:
        return Settings.model_validate(_environment(os.environ))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']).upper()}: {error['msg']}".lstrip(": ")
            for error in exc.errors()
        )
        raise SettingsError(f"invalid configuration: {problems}") from None


def in_lambda_runtime() -> bool:
    """Whether this process runs inside a Lambda runtime (the runtime API is announced).

    Read without validating anything else, so that the image's entry point can choose its
    host before the settings are checked (a bad value must still reach the runtime client,
    which reports it as the function's INIT error).
    """
    return bool(os.environ.get("AWS_LAMBDA_RUNTIME_API"))


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read on first use."""
    return load_settings()
