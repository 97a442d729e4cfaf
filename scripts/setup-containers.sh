#!/usr/bin/env bash
# Prepare a Debian 12 machine (as root) to build and run the Lambda image without a Docker daemon:
# podman/buildah on runc + cgroupfs with explicit ulimits, qemu for arm64, and podman's
# Docker-compatible API socket for SAM CLI (DOCKER_HOST=unix:///run/podman/podman.sock).
# Idempotent: every step checks first and only changes what is missing.
set -euo pipefail

SOCKET_PATH=/run/podman/podman.sock
CONF=/etc/containers/containers.conf
MARKER="# managed by portfolio-backend scripts/setup-containers.sh"
# dnsname: containers on one podman (CNI) network find each other by service name (Compose).
PACKAGES=(podman buildah runc debootstrap qemu-user-static binfmt-support curl ca-certificates
    golang-github-containernetworking-plugin-dnsname)

log() { printf 'setup-containers: %s\n' "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
    log "must run as root (it installs packages and writes /etc/containers)"
    exit 1
fi

install_packages() {
    local missing=() pkg
    for pkg in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        log "packages present"
    fi
}

write_containers_conf() {
    # The default crun fails on this hybrid cgroup layout, systemd is not PID 1, and the default
    # ulimits make setrlimit fail: pin all three.
    local wanted
    wanted=$(cat <<EOF
$MARKER
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
)
    mkdir -p "$(dirname "$CONF")"
    if [[ -f $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
        # Someone else's file: never overwrite it, only check that it has what we need.
        if grep -q 'runtime *= *"runc"' "$CONF" && grep -q 'cgroup_manager *= *"cgroupfs"' "$CONF" &&
            grep -q 'default_ulimits' "$CONF"; then
            log "$CONF (not ours) already sets runc, cgroupfs and ulimits"
            return
        fi
        log "$CONF exists and is not managed by this script; add these settings to it:"
        printf '%s\n' "$wanted" >&2
        exit 1
    fi
    if [[ "$(cat "$CONF" 2>/dev/null)" != "$wanted" ]]; then
        printf '%s\n' "$wanted" >"$CONF"
        log "wrote $CONF"
    else
        log "$CONF up to date"
    fi
}

mount_binfmt() {
    # qemu-aarch64 registration (arm64 builds) needs binfmt_misc mounted.
    if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
        log "mounted binfmt_misc"
    fi
    if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
        update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || update-binfmts --import qemu-aarch64 || true
    fi
    if [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
        log "qemu-aarch64 registered"
    else
        log "warning: qemu-aarch64 not registered; arm64 builds will fail"
    fi
}

socket_answers() {
    [[ -S $SOCKET_PATH ]] && curl -fsS --max-time 5 --unix-socket "$SOCKET_PATH" http://d/_ping >/dev/null 2>&1
}

start_api_service() {
    if socket_answers; then
        log "podman API answers at unix://$SOCKET_PATH"
        return
    fi
    mkdir -p "$(dirname "$SOCKET_PATH")"
    rm -f "$SOCKET_PATH"
    # chroot isolation is the only build isolation that works here; SAM builds go through this service.
    BUILDAH_ISOLATION=chroot setsid nohup podman system service --time=0 "unix://$SOCKET_PATH" \
        >/var/log/podman-api.log 2>&1 </dev/null &
    local _
    for _ in $(seq 1 50); do
        socket_answers && { log "started podman API at unix://$SOCKET_PATH (log: /var/log/podman-api.log)"; return; }
        sleep 0.2
    done
    log "podman API did not answer; see /var/log/podman-api.log"
    exit 1
}

install_packages
write_containers_conf
mount_binfmt
start_api_service
podman run --rm --help >/dev/null # fails early if podman itself is broken
log "ready: export DOCKER_HOST=unix://$SOCKET_PATH for SAM CLI"
