#!/usr/bin/env bash
# Build an offline stand-in for python:3.11-slim from Debian bookworm packages (debootstrap),
# for machines that cannot reach a container registry. It mimics the official image where it
# matters for measurement: python/python3/pip on PATH, pip usable without PEP 668's marker,
# no .pyc in the standard library (so the Dockerfile must compile it), no apt lists or docs.
# It is tagged under its own name, never as the official image.
# SUITE and PYTHON pick another Debian release and its interpreter for comparison, e.g.
# SUITE=trixie PYTHON=python3.13 (tag localhost/portfolio-base:3.13-slim-trixie-ARCH) for the
# bench's newer-Python row; the mirror is the one the machine's sources name for SUITE, else
# the one they name for bookworm (a Debian mirror serves every suite).
#
# Usage: [ARCH=amd64|arm64] [TAG=...] [FORCE=1] [MIRROR=url] [ENGINE=podman|docker]
#        [SUITE=bookworm] [PYTHON=python3.11] scripts/base-image.sh
# Prints the tag on stdout; skips the build when the tag already exists (FORCE=1 rebuilds).
set -euo pipefail

SUITE=${SUITE:-bookworm}
PYTHON=${PYTHON:-python3.11}
[[ $PYTHON =~ ^python3\.[0-9]+$ ]] || { printf 'base-image: PYTHON must look like python3.X\n' >&2; exit 2; }
PYVER=${PYTHON#python}
INCLUDE=$PYTHON,python3-pip,python3-venv,ca-certificates,netbase,tzdata

log() { printf 'base-image: %s\n' "$*" >&2; }

normalize_arch() {
    case "$1" in
        amd64 | x86_64) echo amd64 ;;
        arm64 | aarch64) echo arm64 ;;
        *) log "unsupported ARCH '$1' (amd64 or arm64)"; exit 2 ;;
    esac
}

ARCH=$(normalize_arch "${ARCH:-$(uname -m)}")
TAG=${TAG:-localhost/portfolio-base:$PYVER-slim-$SUITE-$ARCH}
ENGINE=${ENGINE:-podman}
case "$ENGINE" in
    # podman 4.3's import knows --arch only, docker's --platform only.
    podman) image_exists() { podman image exists "$1"; }; IMPORT_ARCH=(--arch "$ARCH") ;;
    docker) image_exists() { docker image inspect "$1" >/dev/null 2>&1; }; IMPORT_ARCH=(--platform "linux/$ARCH") ;;
    *) log "ENGINE must be podman or docker"; exit 2 ;;
esac

# The Debian mirror this machine already uses: deb822 sources first, then the one-line format.
find_mirror() {
    local f=/etc/apt/sources.list.d/debian.sources suite=${1:-$SUITE}
    if [[ -r $f ]]; then
        awk -v suite="$suite" '
            /^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
            END { if (uri != "" && ok) print uri }
        ' "$f" | head -n1
    fi
    if [[ -r /etc/apt/sources.list ]]; then
        awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }' /etc/apt/sources.list
    fi
}

if [[ -z ${FORCE:-} ]] && image_exists "$TAG"; then
    log "$TAG exists; reusing it (FORCE=1 to rebuild)"
    echo "$TAG"
    exit 0
fi

MIRROR=${MIRROR:-$(find_mirror | head -n1)}
if [[ -z $MIRROR && $SUITE != bookworm ]]; then
    MIRROR=$(find_mirror bookworm | head -n1)
    [[ -z $MIRROR ]] || log "no source names $SUITE; using the mirror named for bookworm"
fi
if [[ -z $MIRROR ]]; then
    log "no Debian mirror found in /etc/apt sources; set MIRROR=..."
    exit 1
fi

ROOTFS=$(mktemp -d "${TMPDIR:-/var/tmp}/portfolio-base.XXXXXX")
cleanup() {
    # debootstrap may leave proc/sys mounted in the target if it fails.
    umount -R "$ROOTFS/proc" "$ROOTFS/sys" 2>/dev/null || true
    rm -rf --one-file-system "$ROOTFS"
}
trap cleanup EXIT

log "debootstrap $SUITE ($ARCH) from the machine's mirror into $ROOTFS"
start=$(date +%s)
debootstrap --variant=minbase --arch="$ARCH" --include="$INCLUDE" "$SUITE" "$ROOTFS" "$MIRROR" >&2

log "trimming to match python:$PYVER-slim"
# The official image's pip installs anywhere: drop Debian's PEP 668 marker.
find "$ROOTFS/usr/lib" -maxdepth 2 -name EXTERNALLY-MANAGED -delete
# The official image ships no bytecode and no stdlib tests: a faithful stand-in has none either.
find "$ROOTFS/usr/lib/python3" "$ROOTFS/usr/lib/$PYTHON" "$ROOTFS/usr/share/python3" -depth \
    \( -name __pycache__ -o -name '*.pyc' -o -name '*.pyo' \
    -o \( -type d \( -name test -o -name tests -o -name idle_test \) -path "*/usr/lib/$PYTHON/*" \) \) \
    -exec rm -rf {} +
# `python` and `pip` on PATH, as in the official image (Debian only ships python3 and pip3).
ln -sf /usr/bin/python3 "$ROOTFS/usr/local/bin/python"
[[ -e $ROOTFS/usr/bin/pip ]] || ln -sf /usr/bin/pip3 "$ROOTFS/usr/local/bin/pip"
# debian:bookworm-slim excludes docs, man pages and locales; apt lists and caches go too.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/cache/debconf/*-old \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
    "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/* "$ROOTFS"/var/log/bootstrap.log
find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/slim-excludes" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF

log "importing as $TAG"
tar -C "$ROOTFS" --numeric-owner --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -c . |
    "$ENGINE" import "${IMPORT_ARCH[@]}" \
        --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        --message "offline stand-in for python:$PYVER-slim (debootstrap $SUITE)" \
        - "$TAG" >/dev/null

"$ENGINE" run --rm --platform "linux/$ARCH" "$TAG" python -c 'import sys; print(sys.version)' >&2
log "built $TAG in $(($(date +%s) - start)) s"
echo "$TAG"
