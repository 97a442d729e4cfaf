"""The image's entry point: the Lambda runtime client inside Lambda, the HTTP host elsewhere.

`python -m app.hosts.entry handler.handler`: with AWS_LAMBDA_RUNTIME_API set (Lambda, the
emulator, SAM CLI), this is `python -m awslambdaric handler.handler` in the same process, so
the Lambda path loads nothing more than before (no shell, no second interpreter). Without
it, `docker run -p 8000:8000 IMAGE` serves HTTP (app/hosts/http_host.py) and the handler
argument is ignored.
"""

from __future__ import annotations

import sys

from app.hosts import startup_gc

# Before any heavy import: no garbage collection while the process starts
# (app/hosts/startup_gc.py). Inside Lambda, handler.py resumes it at the end of INIT.
startup_gc.pause()

from app.settings import in_lambda_runtime  # noqa: E402


def main(argv: list[str]) -> None:
    if in_lambda_runtime():
        from awslambdaric.__main__ import main as lambda_runtime

        lambda_runtime(argv)
        return
    from app.hosts import http_host

    # The server's own imports are done; the app itself is imported by uvicorn (in each
    # worker process when there are several), with the collector on as usual.
    startup_gc.resume()
    http_host.main()


if __name__ == "__main__":
    main(sys.argv)
