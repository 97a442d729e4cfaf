"""The task role's temporary credentials on ECS (and App Runner), from the container agent.

Lambda puts its role's credentials in AWS_* variables; an ECS task gets none there. The
container agent serves them at http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
as {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}, and rotates them before they
expire (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html).
AWS_CONTAINER_CREDENTIALS_FULL_URI is the SDKs' form of the same endpoint at any URL (used
by the tests' stand-in of the agent).

Fetched on first use and again five minutes before they expire; the standard library only
(no SDK at start-up).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.request

from app.aws.sigv4 import Credentials
from app.settings import Settings

AGENT = "http://169.254.170.2"
REFRESH_BEFORE = dt.timedelta(minutes=5)


def url_for(settings: Settings) -> str | None:
    """Where the task's credentials are served, or None outside a container with a role."""
    if settings.aws_container_credentials_relative_uri:
        return AGENT + settings.aws_container_credentials_relative_uri
    return settings.aws_container_credentials_full_uri or None


class ContainerCredentials:
    """The credentials at `url`, kept until five minutes before they expire."""

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        self.url = url
        self.timeout = timeout
        self._lock = threading.Lock()
        self._credentials: Credentials | None = None
        self._refresh_at = dt.datetime.min.replace(tzinfo=dt.UTC)

    def get(self) -> Credentials:
        """The current credentials; OSError or ValueError when the agent cannot give them."""
        with self._lock:
            if self._credentials is None or dt.datetime.now(dt.UTC) >= self._refresh_at:
                self._credentials, expires = self._fetch()
                self._refresh_at = expires - REFRESH_BEFORE
            return self._credentials

    def _fetch(self) -> tuple[Credentials, dt.datetime]:
        with urllib.request.urlopen(self.url, timeout=self.timeout) as response:
            document = json.loads(response.read())
        try:
            credentials = Credentials(
                document["AccessKeyId"], document["SecretAccessKey"], document.get("Token")
            )
            expires = dt.datetime.fromisoformat(document["Expiration"].replace("Z", "+00:00"))
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"unexpected credentials document ({type(error).__name__})") from None
        return credentials, expires
