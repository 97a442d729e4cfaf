"""The image's entry point: the Lambda runtime client inside Lambda, the HTTP host elsewhere.

`python -m app.hosts.entry handler.handler`: with AWS_LAMBDA_RUNTIME_API set (Lambda, the
emulator, SAM CLI), this is `python -m awslambdaric handler.handler` in the same process, so
the Lambda path loads nothing more than before (no shell, no second interpreter). Without
it, `docker run -p 8000:8000 IMAGE` serves HTTP (app/hosts/http_host.py) and the handler
argument is ignored.
"""

from __future__ import annotations

import sys

from app.settings import in_lambda_runtime


def main(argv: list[str]) -> None:
    if in_lambda_runtime():
        from awslambdaric.__main__ import main as lambda_runtime

        lambda_runtime(argv)
        return
    from app.hosts import http_host

    http_host.main()


if __name__ == "__main__":
    main(sys.argv)
