"""What a real browser lets a site's script read (issue 17, section 6).

A page on one local origin (a static server) calls the API on another (the app under uvicorn,
as `make run` serves it, CORS_ORIGINS naming the page's origin), in Debian's headless Chromium
(scripts/setup.sh test installs it). The page's script writes what it could read into the
DOM, which Chromium dumps. Marked slow: a browser start costs seconds.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import ROOT
from tests.support import free_port, serve_in_thread

pytestmark = pytest.mark.slow

PAGE = """<!doctype html>
<html><body><pre id="out">pending</pre><script>
const api = "%(api)s";
const message = {name: "Ada", email: "ada@example.com", message: "Hello"};
async function post(body, extra) {
  try {
    const r = await fetch(api + "/contact", {
      method: "POST", headers: {"Content-Type": "application/json", ...(extra || {})},
      body: JSON.stringify(body)});
    return {status: r.status, retryAfter: r.headers.get("Retry-After"), body: await r.json()};
  } catch (e) {
    return {error: String(e)};  // what a refused CORS answer looks like to a script
  }
}
(async () => {
  const first = await post(message);
  const limited = await post(message);
  const tooLarge = await post({...message, message: "x".repeat(300000)});
  document.getElementById("out").textContent = JSON.stringify({first, limited, tooLarge});
})();
</script></body></html>
"""


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, ConnectionError):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)


@pytest.fixture
def page_and_api(database_url: str, clean_db: Engine, tmp_path: Path) -> Iterator[str]:
    api_port, page_port = free_port(), free_port()
    site = f"http://127.0.0.1:{page_port}"
    api = f"http://localhost:{api_port}"  # another origin: another host name and port
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": database_url,
        "CORS_ORIGINS": site,
        "CONTACT_RATE_LIMIT": "1",
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app"]
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(api_port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    (tmp_path / "index.html").write_text(PAGE % {"api": api})
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    pages = http.server.ThreadingHTTPServer(("127.0.0.1", page_port), handler)
    serve_in_thread(pages)
    try:
        _wait_for(f"{api}/health", server)
        yield f"{site}/index.html"
    finally:
        pages.shutdown()
        server.terminate()
        server.wait(10)


def _browse(url: str, profile: Path) -> dict[str, Any]:
    chromium = shutil.which("chromium")
    assert chromium is not None, "scripts/setup.sh test installs Debian's chromium"
    done = subprocess.run(
        [
            chromium,
            "--headless=new",
            "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
            f"--user-data-dir={profile}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = re.search(r'<pre id="out">(.*?)</pre>', done.stdout, re.S)
    assert found is not None, done.stderr[-2000:]
    text = found.group(1).replace("&quot;", '"').replace("&amp;", "&")
    assert text != "pending", done.stderr[-2000:]
    result: dict[str, Any] = json.loads(text)
    return result


def test_a_site_reads_retry_after_and_the_413_in_a_real_browser(
    page_and_api: str, tmp_path: Path
) -> None:
    seen = _browse(page_and_api, tmp_path / "profile")
    assert seen["first"] == {"status": 202, "retryAfter": None, "body": seen["first"]["body"]}
    limited = seen["limited"]
    assert limited["status"] == 429
    assert limited["retryAfter"] is not None and int(limited["retryAfter"]) > 0
    assert limited["body"] == {"detail": "too many messages, try again later"}
    # Before the fix the browser hid the 413 behind a CORS failure: "TypeError: Failed to fetch".
    assert seen["tooLarge"] == {
        "status": 413,
        "retryAfter": None,
        "body": {"detail": "request body too large"},
    }
