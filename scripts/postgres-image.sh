#!/usr/bin/env bash
# Build an offline stand-in for postgres:16-alpine from Debian bookworm's PostgreSQL (debootstrap),
# for machines that cannot reach a container registry (docker-compose.yml selects it with
# POSTGRES_IMAGE). It behaves like the official image where the compose file relies on it:
# POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB create the role and database on first start,
# the data lives in /var/lib/postgresql/data (a volume), the server listens on 5432 with password
# authentication, and `pg_isready` answers the health check. It is tagged under its own name.
#
# Usage: [ARCH=amd64|arm64] [TAG=...] [FORCE=1] [MIRROR=url] [ENGINE=podman|docker]
#        scripts/postgres-image.sh
# Prints the tag on stdout; skips the build when the tag already exists (FORCE=1 rebuilds).
set -euo pipefail

SCRIPT_NAME=postgres-image
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

case "${ARCH:-$(uname -m)}" in
    amd64 | x86_64) ARCH=amd64 ;;
    arm64 | aarch64) ARCH=arm64 ;;
    *) die "unsupported ARCH '${ARCH:-}' (amd64 or arm64)" ;;
esac
PG_MAJOR=15 # bookworm's PostgreSQL; the schema needs nothing newer
TAG=${TAG:-localhost/portfolio-postgres:$PG_MAJOR-bookworm-$ARCH}
ENGINE=${ENGINE:-podman}
case "$ENGINE" in
    podman) image_exists() { podman image exists "$1"; }; IMPORT_ARCH=(--arch "$ARCH") ;;
    docker) image_exists() { docker image inspect "$1" >/dev/null 2>&1; }; IMPORT_ARCH=(--platform "linux/$ARCH") ;;
    *) die "ENGINE must be podman or docker" ;;
esac

if [[ -z ${FORCE:-} ]] && image_exists "$TAG"; then
    log "$TAG exists; reusing it (FORCE=1 to rebuild)"
    echo "$TAG"
    exit 0
fi

# The mirror this machine's apt already uses (deb822 first, then the one-line format).
find_mirror() {
    local f=/etc/apt/sources.list.d/debian.sources
    [[ -r $f ]] && awk 'tolower($1) == "uris:" { print $2; exit }' "$f"
    [[ -r /etc/apt/sources.list ]] && awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list
    return 0
}
MIRROR=${MIRROR:-$(find_mirror | head -n1)}
[[ -n $MIRROR ]] || die "no Debian mirror found in /etc/apt sources; set MIRROR=..."

ROOTFS=$(mktemp -d "${TMPDIR:-/var/tmp}/portfolio-postgres.XXXXXX")
cleanup() {
    umount -R "$ROOTFS/proc" "$ROOTFS/sys" 2>/dev/null || true
    rm -rf --one-file-system "$ROOTFS"
}
trap cleanup EXIT

log "debootstrap bookworm ($ARCH) with postgresql-$PG_MAJOR into $ROOTFS"
start=$(date +%s)
debootstrap --variant=minbase --arch="$ARCH" --include="postgresql-$PG_MAJOR,netbase,tzdata" \
    bookworm "$ROOTFS" "$MIRROR" >&2

# Debian's package creates a cluster of its own in /var/lib/postgresql/15/main: the stand-in
# keeps the official image's layout instead (one data directory, created on first start).
rm -rf "$ROOTFS/var/lib/postgresql/$PG_MAJOR" "$ROOTFS/etc/postgresql/$PG_MAJOR"
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/usr/share/doc/* \
    "$ROOTFS"/usr/share/man/* "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/*
install -m 0755 "$(dirname "${BASH_SOURCE[0]}")/postgres-entrypoint.sh" \
    "$ROOTFS/usr/local/bin/docker-entrypoint.sh"

log "importing as $TAG"
tar -C "$ROOTFS" --numeric-owner --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -c . |
    "$ENGINE" import "${IMPORT_ARCH[@]}" \
        --change "ENV PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        --change 'ENV PGDATA=/var/lib/postgresql/data' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'EXPOSE 5432' \
        --change 'STOPSIGNAL SIGINT' \
        --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
        --change 'CMD ["postgres"]' \
        --message "offline stand-in for postgres (Debian bookworm postgresql-$PG_MAJOR)" \
        - "$TAG" >/dev/null
log "built $TAG in $(($(date +%s) - start)) s"
echo "$TAG"
