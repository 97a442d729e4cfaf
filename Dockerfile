# The portfolio API as an AWS Lambda container image. Build with `make image` (scripts/engine.sh).

# The base is an argument so a mirror, an ECR pull-through cache or the offline stand-in
# (`make base-image`) can replace it; declared before the first FROM so FROM can use it.
ARG BASE=python:3.11-slim
# The target platform is the builder's own argument (`--platform`, BuildKit's TARGETPLATFORM):
# SAM passes it from the template's Architectures (arm64 ships), engine.sh from ARCH, and
# deploy.sh per architecture. Not pinned here, so one Dockerfile builds both correctly.

# ---- builder: everything that only builds stays in this stage ----
FROM ${BASE} AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# binutils (strip) never reaches the runner; DL3008: its version follows the base's Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY requirements.txt .
# Hashes pin every file and --no-deps forbids anything unlisted; wheels only, so no compiler is
# needed; no cache, no .pyc yet (compiled below, in hash mode); pip trusts the system CA store,
# which a build behind a TLS-inspecting proxy can replace by mounting its bundle there.
RUN python -m pip install --no-cache-dir --disable-pip-version-check --no-compile \
        --cert /etc/ssl/certs/ca-certificates.crt \
        --require-hashes --no-deps --only-binary=:all: --target /opt/deps -r requirements.txt \
    # Console scripts, test suites, test-support packages (sqlalchemy/alembic/mako `testing`)
    # and type stubs are never used on Lambda: about 2.5 MB.
    && rm -rf /opt/deps/bin \
    && find /opt/deps -depth -type d \( -name tests -o -name test -o -name testing \) -exec rm -rf {} + \
    && find /opt/deps \( -name '*.pyi' -o -name py.typed \) -delete \
    # SQLAlchemy dialects for databases this service never talks to (loaded only by URL
    # scheme; alembic names them under TYPE_CHECKING only): about 2 MB.
    && rm -rf /opt/deps/sqlalchemy/dialects/mssql /opt/deps/sqlalchemy/dialects/mysql \
        /opt/deps/sqlalchemy/dialects/oracle \
    # SQLAlchemy's asyncio extension: it needs greenlet, which is not installed (the service
    # is synchronous by design, app/data/db.py), so it cannot be used here: 0.5 MB.
    && rm -rf /opt/deps/sqlalchemy/ext/asyncio \
    # pydantic's v1 compatibility package (1.2 MB): no model here is a v1 model, and FastAPI
    # takes its absence as "no v1 models" (handler.py blocks the import at INIT anyway).
    && rm -rf /opt/deps/pydantic/v1 \
    # Strip extension modules that still carry symbols. Libraries vendored by auditwheel
    # (psycopg2_binary.libs/) and modules patched with an $ORIGIN rpath are left alone:
    # strip can corrupt files that patchelf rewrote; they ship stripped anyway.
    && find /opt/deps -name '*.so*' -type f -not -path '*.libs/*' -print0 \
        | while IFS= read -r -d '' so; do \
            if readelf -S "$so" | grep -q '\.symtab' && ! readelf -d "$so" | grep -q 'R.*PATH'; then \
                strip --strip-unneeded "$so"; \
            fi; \
        done \
    # Fail the build here, not at cold start, if stripping or pruning broke an import.
    && PYTHONPATH=/opt/deps python -c 'import awslambdaric, psycopg2, pydantic_core, sqlalchemy.engine._row_cy, markupsafe._speedups, simplejson._speedups, sqlalchemy.dialects.postgresql.psycopg2, sqlalchemy.dialects.sqlite, alembic.ddl, fastapi.routing' \
    # Hash-based .pyc: valid whatever COPY does to file times, so a read-only file system never
    # recompiles at cold start; unchecked-hash also skips reading and hashing each source.
    && python -m compileall -q -j0 --invalidation-mode unchecked-hash -d /var/task /opt/deps \
    && chmod -R a+rX,go-w /opt/deps

# The app, staged and compiled apart from the dependencies so a code change rebuilds only this.
COPY handler.py /opt/app/
COPY app /opt/app/app
COPY migrations /opt/app/migrations
# The RDS CA bundle (DB_SSLROOTCERT's default): the RDS CAs are in no OS trust store. Cut
# into one file per Region too (certs/rds/<region>.pem), read instead of the whole bundle
# when the database's host name names its Region (app/settings.py, regional_sslrootcert).
COPY certs/rds-ca-bundle.pem /opt/app/certs/
COPY scripts/rds_ca_regions.py /build/
RUN python /build/rds_ca_regions.py /opt/app/certs/rds-ca-bundle.pem /opt/app/certs/rds \
    && python -m compileall -q -j0 --invalidation-mode unchecked-hash -d /var/task /opt/app \
    && chmod -R a+rX,go-w /opt/app

# ---- runner: the base plus only what runs ----
FROM ${BASE} AS runner
ARG BASE
# Records the base so the image's added bytes can be measured against it (tests/image/).
LABEL org.opencontainers.image.base.name=${BASE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# The official slim image ships no stdlib .pyc: compile the base's import path in hash mode.
# Skipped: pip/setuptools/wheel (never imported by the function) and stdlib parts that cannot
# run on Lambda or are only for building packages (GUI, test suite, 2to3, distutils, ensurepip).
# Then a user without a home or login: the image runs as non-root when run as is.
RUN python -c 'import sys, os; print("\n".join(p for p in sys.path[1:] if os.path.isdir(p)))' \
        | xargs python -m compileall -q -j0 --invalidation-mode unchecked-hash \
            -x '/(site|dist)-packages/(pip|setuptools|pkg_resources|wheel)/|/(idlelib|tkinter|turtledemo|lib2to3|distutils|msilib|ensurepip|pydoc_data|test|tests)/' \
    && useradd --no-log-init --no-create-home --uid 10001 --user-group --home-dir /tmp --shell /usr/sbin/nologin lambda \
    # useradd's backups of the files it edited: private copies nobody needs.
    && rm -f /etc/passwd- /etc/group- /etc/shadow- /etc/gshadow-
# Lambda's convention: code in /var/task, the working directory, which is what puts the
# dependencies and `handler` on the import path (sys.path[0] under `python -m`): no env needed.
WORKDIR /var/task
COPY --from=builder /opt/deps /var/task/
COPY --from=builder /opt/app /var/task/
# Files stay root-owned and read-only to the runtime user; nothing writes outside /tmp.
# PYTHONDONTWRITEBYTECODE is deliberately unset: every module has a valid .pyc, so none is written.
USER 10001:10001
# `sam local invoke` builds a layer FROM this image whose `RUN mv ... && chmod +x` on root-owned
# files needs root: images derived from this one start as root (Lambda itself ignores USER).
ONBUILD USER root
# Inside Lambda (AWS_LAMBDA_RUNTIME_API set) this is `python -m awslambdaric handler.handler`, in
# the same process; anywhere else it serves HTTP on $PORT (app/hosts/entry.py).
EXPOSE 8000
ENTRYPOINT ["python", "-m", "app.hosts.entry"]
CMD ["handler.handler"]
