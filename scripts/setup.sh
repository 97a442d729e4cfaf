#!/usr/bin/env bash
# The one set-up script: what a fresh Debian/Ubuntu machine needs before `make run`, `make test`
# or CI (.ci/run). It installs only what is missing, so a prepared machine pays a few probes.
#
# Usage: scripts/setup.sh run|fast|test
#   run   python3 with venv/ensurepip (the runtime virtualenv of `make run`)
#   fast  that, make, git, curl, PostgreSQL server binaries (the suite starts its own cluster),
#         PgBouncer and openssl (the pooler and TLS tests), Node.js (the schema's patterns as
#         JavaScript regexes): all `make test-fast` needs
#   test  that, Chromium (the browser CORS test), then podman/buildah/qemu and podman's Docker-compatible API
#         (scripts/setup-containers.sh) unless a Docker daemon answers
# Packages install as root, or through sudo; without either it names what is missing and fails.
set -euo pipefail

SCRIPT_NAME=setup
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

profile=${1:-}
[[ $profile =~ ^(run|fast|test)$ ]] || die "usage: scripts/setup.sh run|fast|test"

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "needs root to run: $* (run this script as root, or install sudo)"
    fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# Debian splits venv/ensurepip out of python3: `python3 -m venv` fails without it.
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [[ $profile != run ]]; then
    command -v make >/dev/null 2>&1 || missing+=(make)
    command -v git >/dev/null 2>&1 || missing+=(git)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    # tests/postgres.py runs initdb/pg_ctl from the server package (any major version).
    command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ||
        missing+=(postgresql)
    command -v pgbouncer >/dev/null 2>&1 || missing+=(pgbouncer)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    # ECMA-262 regexes for tests/test_schema_portability.py (the schema's patterns in JavaScript).
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
fi
if [[ $profile == test ]]; then
    # A real browser for tests/test_browser_cors.py (marked slow). Debian's package; on Ubuntu
    # `chromium` is a snap wrapper, which also answers `chromium --headless`.
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    log "packages for '$profile' present"
fi

if [[ $profile == test ]]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        log "a Docker daemon answers: no podman set-up needed"
        # The arm64 image tests build under emulation (setup-containers.sh does this for podman).
        # Debian's and Ubuntu's qemu-user-static register qemu-aarch64 with the fix-binary flag,
        # which builds inside Docker need (GitHub's Ubuntu runners have Docker but no qemu).
        if [[ $(uname -m) != aarch64 && ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
            log "installing qemu-user-static binfmt-support (arm64 builds under emulation)"
            as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                qemu-user-static binfmt-support
        fi
    else
        as_root bash "$HERE/setup-containers.sh"
    fi
fi
