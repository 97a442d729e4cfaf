#!/usr/bin/env bash
# The one place that knows how to build and run the Lambda image with whatever engine the machine
# has: Docker (BuildKit) when a Docker daemon answers, otherwise podman/buildah with the settings
# these machines need (chroot build isolation, runc, cgroupfs, explicit ulimits).
#
# Usage: scripts/engine.sh COMMAND [ARGS]
#   engine                      print the engine that would be used (docker or podman)
#   base-image [ARCH]           build (or reuse) the offline stand-in for python:3.11-slim; print its tag
#   resolve-base [ARCH]         print the base to use: python:3.11-slim if available, else the stand-in
#   build [TAG] [ARCH] [BASE]   build the image (defaults: portfolio-backend:latest, host arch, resolve-base)
#   rie-path [ARCH]             print the path of the Lambda emulator shipped in the aws-sam-cli package
#   run-local [TAG] [ARCH]      run the image under the emulator: read-only, tmpfs /tmp, no capabilities
#   invoke EVENT_FILE           POST an event to the running emulator and print the response
#
# ARCH (env) is the default architecture wherever one is taken (host's otherwise);
# BASE (env) the default base of `build`, BUILD_FLAGS extra build flags (e.g. --no-cache).
# ENGINE=docker|podman forces the engine; DRY_RUN=1 prints the commands that change
# something instead of running them (probes are skipped and assume the real base is available);
# run-local reads PORT (9000), NAME (portfolio-local), DETACH=1, NETWORK (host|bridge),
# DATABASE_URL (a SQLite file in /tmp), ENV_FILE (extra variables), HANDLER (the image's CMD,
# handler.handler; handler.migrate runs the migrations) and MIGRATE=1 (migrate DATABASE_URL when the function
# starts, as `make local` does); PYTHON is the interpreter that has aws-sam-cli. invoke takes a
# path, or a path under events/ (http-v2/get-health.json).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OFFICIAL_BASE=python:3.11-slim
DEFAULT_TAG=portfolio-backend:latest
HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
# podman needs these where the defaults fail (see setup-containers.sh, which also writes them
# to containers.conf); passing them here keeps this script working without that file.
PODMAN_ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

SCRIPT_NAME=engine
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

detect_engine() {
    if [[ -n ${ENGINE:-} ]]; then
        echo "$ENGINE"
    elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 &&
        ! docker version --format '{{range .Server.Components}}{{.Name}} {{end}}' 2>/dev/null | grep -qi podman; then
        # A real Docker daemon (podman's Docker-compatible socket has no BuildKit).
        echo docker
    elif command -v podman >/dev/null 2>&1; then
        echo podman
    else
        die "neither a Docker daemon nor podman found (on Debian: sudo bash scripts/setup-containers.sh)"
    fi
}

# Normalise an architecture name to Debian/OCI (amd64/arm64) and to Lambda's (x86_64/arm64).
oci_arch() {
    case "${1:-${ARCH:-$(uname -m)}}" in
        amd64 | x86_64) echo amd64 ;;
        arm64 | aarch64) echo arm64 ;;
        *) die "unsupported architecture '$1' (amd64 or arm64)" ;;
    esac
}
lambda_arch() { [[ $(oci_arch "$1") == amd64 ]] && echo x86_64 || echo arm64; }

# Global podman flags: runc and cgroupfs where runc is installed (crun fails on hybrid cgroups).
podman_cmd() {
    local flags=()
    command -v runc >/dev/null 2>&1 && flags=(--runtime runc --cgroup-manager cgroupfs)
    echo podman "${flags[@]}"
}

# One field of an image's config (Entrypoint, Cmd), one element per line. Reading it changes
# nothing, so a dry run reads it too; only an image that is not there (yet) gets the project's
# Dockerfile values under DRY_RUN.
image_config() {
    local engine=$1 image=$2 field=$3 format value
    format="{{range .Config.$field}}{{println .}}{{end}}"
    if [[ $engine == podman ]]; then
        # shellcheck disable=SC2046
        value=$($(podman_cmd) image inspect --format "$format" "$image" 2>/dev/null) || value=
    else
        value=$(docker image inspect --format "$format" "$image" 2>/dev/null) || value=
    fi
    if [[ -z $value && -n ${DRY_RUN:-} ]]; then
        [[ $field == Entrypoint ]] && value=$'python\n-m\napp.hosts.entry' || value=handler.handler
    fi
    [[ -n $value ]] && sed '/^$/d' <<<"$value"
    return 0
}

image_exists() {
    local engine=$1 image=$2
    if [[ $engine == docker ]]; then
        docker image inspect "$image" >/dev/null 2>&1
    else
        podman image exists "$image"
    fi
}

cmd_base_image() {
    local arch engine
    arch=$(oci_arch "${1:-}")
    engine=$(detect_engine)
    if [[ -n ${DRY_RUN:-} ]]; then
        run env ENGINE="$engine" ARCH="$arch" bash "$ROOT/scripts/base-image.sh"
        echo "localhost/portfolio-base:3.11-slim-bookworm-$arch"
        return
    fi
    ENGINE=$engine ARCH=$arch bash "$ROOT/scripts/base-image.sh"
}

cmd_resolve_base() {
    local arch engine
    arch=$(oci_arch "${1:-}")
    engine=$(detect_engine)
    if [[ -n ${DRY_RUN:-} ]]; then
        echo "$OFFICIAL_BASE"
        return
    fi
    if image_exists "$engine" "$OFFICIAL_BASE" ||
        timeout 120 "$engine" pull --platform "linux/$arch" "$OFFICIAL_BASE" >/dev/null 2>&1; then
        echo "$OFFICIAL_BASE"
        return
    fi
    log "$OFFICIAL_BASE cannot be pulled: using the offline stand-in built by scripts/base-image.sh"
    log "(figures measured on it compare by bytes added above the base, not by total size)"
    cmd_base_image "$arch"
}

cmd_build() {
    local tag=${1:-$DEFAULT_TAG} arch base engine start
    arch=$(oci_arch "${2:-}")
    base=${3:-${BASE:-}}
    [[ -n $base ]] || base=$(cmd_resolve_base "$arch" | tail -n1)
    engine=$(detect_engine)
    log "building $tag for linux/$arch on $base with $engine"
    start=$(date +%s)
    local flags=()
    read -r -a flags <<<"${BUILD_FLAGS:-}"
    local args=(--platform "linux/$arch" --build-arg "BASE=$base"
        "${flags[@]}" -t "$tag" -f "$ROOT/Dockerfile" "$ROOT")
    if [[ $engine == docker ]]; then
        if docker buildx version >/dev/null 2>&1; then
            run docker buildx build --load "${args[@]}"
        else
            run env DOCKER_BUILDKIT=1 docker build "${args[@]}"
        fi
    else
        local extra=()
        # Behind a TLS-inspecting proxy only the host's bundle is trusted: lend it to RUN steps.
        [[ -f $HOST_CA_BUNDLE ]] && extra=(-v "$HOST_CA_BUNDLE:$HOST_CA_BUNDLE:ro")
        # chroot: the only isolation that works without a privileged runtime here; docker format:
        # OCI images drop ONBUILD, which `sam local invoke` relies on (see the Dockerfile).
        # shellcheck disable=SC2046
        run env BUILDAH_ISOLATION=chroot $(podman_cmd) build --isolation chroot --format docker \
            "${PODMAN_ULIMITS[@]}" "${extra[@]}" "${args[@]}"
    fi
    [[ -n ${DRY_RUN:-} ]] || log "built $tag in $(($(date +%s) - start)) s"
}

cmd_rie_path() {
    local python dir rie
    python=${PYTHON:-}
    if [[ -z $python ]]; then
        if [[ -x $ROOT/.venv/bin/python ]]; then python=$ROOT/.venv/bin/python; else python=python3; fi
    fi
    dir=$("$python" -c 'import os, samcli; print(os.path.dirname(samcli.__file__))' 2>/dev/null) ||
        die "aws-sam-cli is not installed for $python (pip install -r requirements-dev.txt)"
    rie="$dir/local/rapid/aws-lambda-rie-$(lambda_arch "${1:-}")"
    [[ -f $rie ]] || die "emulator not found at $rie"
    echo "$rie"
}

cmd_run_local() {
    local tag=${1:-$DEFAULT_TAG} arch rie engine port=${PORT:-9000} name=${NAME:-portfolio-local}
    local database_url=${DATABASE_URL:-sqlite:////tmp/portfolio.db}
    arch=$(oci_arch "${2:-}")
    engine=$(detect_engine)
    rie=$(cmd_rie_path "$arch")
    local args=(--rm --name "$name" --platform "linux/$arch"
        # What Lambda gives a function: a read-only root, a writable /tmp, no privileges.
        --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges
        -e "DATABASE_URL=$database_url"
        -v "$rie:/rie:ro" --entrypoint /rie)
    [[ -n ${ENV_FILE:-} ]] && args+=(--env-file "$ENV_FILE")
    [[ -n ${DETACH:-} ]] && args+=(--detach)
    [[ $engine == podman ]] && args+=("${PODMAN_ULIMITS[@]}")
    local rie_args=()
    if [[ ${NETWORK:-host} == host ]]; then
        # Host network reaches a database on the host's loopback; the emulator then listens on
        # PORT itself, and its runtime API on PORT+10000 so that several can run side by side.
        args+=(--network host)
        rie_args=(--runtime-interface-emulator-address "127.0.0.1:$port"
            --runtime-api-address "127.0.0.1:$((port + 10000))")
    else
        args+=(-p "127.0.0.1:$port:8080")
    fi
    # What Lambda runs: the image's own ENTRYPOINT with its CMD (or HANDLER) as argument, behind
    # the emulator (--entrypoint /rie above replaces the ENTRYPOINT, so it is read back here).
    local entrypoint=() image_cmd=()
    mapfile -t entrypoint < <(image_config "$engine" "$tag" Entrypoint)
    mapfile -t image_cmd < <(image_config "$engine" "$tag" Cmd)
    ((${#entrypoint[@]})) || die "$tag has no ENTRYPOINT"
    local runtime=("${entrypoint[@]}" "${HANDLER:-${image_cmd[0]:-handler.handler}}")
    if [[ -n ${MIGRATE:-} ]]; then
        # The emulator starts the runtime at the first event: migrate right before it, in the
        # same container, so a database in its /tmp is ready for the routes that need one.
        runtime=(sh -c 'python -m app.migrate >&2 && exec "$@"' migrate "${runtime[@]}")
    fi
    log "database: $(describe_database "$database_url")${MIGRATE:+, migrated when the function starts}"
    log "emulator on http://localhost:$port/2015-03-31/functions/function/invocations (make invoke EVENT=...)"
    if [[ $engine == podman ]]; then
        # shellcheck disable=SC2046
        run $(podman_cmd) run "${args[@]}" "$tag" "${rie_args[@]}" "${runtime[@]}"
    else
        run docker run "${args[@]}" "$tag" "${rie_args[@]}" "${runtime[@]}"
    fi
}

# A database URL for humans, without its password.
describe_database() {
    case "$1" in
        sqlite:////tmp/*) echo "SQLite file ${1#sqlite:///} in the container's tmpfs (gone when it stops; DATABASE_URL=... for PostgreSQL)" ;;
        sqlite*) echo "SQLite ${1#sqlite:///}" ;;
        *) echo "${1%%://*}://$(sed -E 's#^[^/]*//([^:@/]*)(:[^@/]*)?@#\1@#' <<<"$1" | sed -E 's#^[^/]*//##')" ;;
    esac
}

cmd_invoke() {
    local event=${1:-} port=${PORT:-9000}
    [[ -n $event ]] || die "usage: engine.sh invoke EVENT_FILE"
    # The README names events by their path under events/; a path from the repository works too.
    [[ -f $event || ! -f $ROOT/events/$event ]] || event=$ROOT/events/$event
    [[ -f $event ]] || die "no such event file: $event (nor events/$event)"
    run curl -sS --fail-with-body -X POST -H 'Content-Type: application/json' --data-binary "@$event" \
        "http://localhost:$port/2015-03-31/functions/function/invocations"
    echo
}

command=${1:-}
shift || true
case "$command" in
    engine) detect_engine ;;
    base-image) cmd_base_image "$@" ;;
    resolve-base) cmd_resolve_base "$@" ;;
    build) cmd_build "$@" ;;
    rie-path) cmd_rie_path "$@" ;;
    run-local) cmd_run_local "$@" ;;
    invoke) cmd_invoke "$@" ;;
    *) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
