#!/usr/bin/env bash
# Build the function image for linux/amd64 and linux/arm64, push both to Amazon ECR with one
# multi-architecture manifest over them, and print the image URIs. For deploying without SAM
# (Terraform, CDK, the console); `sam deploy` builds and pushes by itself.
#
# Lambda does not accept a multi-architecture manifest as a function's image: give the function
# the URI of its own architecture (printed as IMAGE_URI_ARM64 / IMAGE_URI_AMD64, by digest).
# The multi-architecture tag (IMAGE_URI) is for everything else that pulls the image.
#
# Usage: scripts/deploy.sh
# Environment:
#   AWS_REGION       region of the repository (default: AWS_DEFAULT_REGION, then the CLI's config)
#   REPOSITORY       ECR repository name, created when missing (default: portfolio-backend)
#   TAG              image tag (default: the git commit, with -dirty for uncommitted changes)
#   BASE             base image build argument (default: the Dockerfile's own)
#   PLATFORMS        space-separated architectures (default: "amd64 arm64")
#   DRY_RUN=1        print every command instead of running it; needs neither AWS nor Docker
#                    (AWS_ACCOUNT_ID then stands in for the account, default 123456789012)
# Written for bash 3.2 too (macOS).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPOSITORY=${REPOSITORY:-portfolio-backend}
PLATFORMS=${PLATFORMS:-amd64 arm64}

SCRIPT_NAME=deploy
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

need() { command -v "$1" >/dev/null || die "$1 is required (${2})"; }

default_tag() {
    local sha
    if sha=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null); then
        git -C "$ROOT" diff --quiet HEAD 2>/dev/null || sha="$sha-dirty"
        echo "$sha"
    else
        date -u +%Y%m%d%H%M%S
    fi
}

if [[ -z ${DRY_RUN:-} ]]; then
    need aws "the AWS CLI v2"
    need docker "Docker with the buildx plugin"
    docker buildx version >/dev/null 2>&1 || die "docker buildx is required"
fi

REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
if [[ -z $REGION && -z ${DRY_RUN:-} ]]; then
    REGION=$(aws configure get region || true)
fi
[[ -n $REGION ]] || REGION=us-east-1
[[ -n ${DRY_RUN:-} ]] && [[ -z ${AWS_REGION:-${AWS_DEFAULT_REGION:-}} ]] && log "no AWS_REGION; showing $REGION"

if [[ -n ${DRY_RUN:-} ]]; then
    ACCOUNT=${AWS_ACCOUNT_ID:-123456789012}
else
    ACCOUNT=$(aws sts get-caller-identity --query Account --output text)
fi
[[ $ACCOUNT =~ ^[0-9]{12}$ ]] || die "unexpected account id '$ACCOUNT'"

SUFFIX=amazonaws.com
[[ $REGION == cn-* ]] && SUFFIX=amazonaws.com.cn
REGISTRY="$ACCOUNT.dkr.ecr.$REGION.$SUFFIX"
TAG=${TAG:-$(default_tag)}
IMAGE="$REGISTRY/$REPOSITORY"

log "repository $IMAGE, tag $TAG, platforms $PLATFORMS"

# 1. The repository (scanned on push), created only when missing.
if [[ -n ${DRY_RUN:-} ]] || ! aws ecr describe-repositories --region "$REGION" \
        --repository-names "$REPOSITORY" >/dev/null 2>&1; then
    run aws ecr create-repository --region "$REGION" --repository-name "$REPOSITORY" \
        --image-scanning-configuration scanOnPush=true
fi

# 2. Log Docker in to the registry (the password never touches the command line).
if [[ -n ${DRY_RUN:-} ]]; then
    printf '+ aws ecr get-login-password --region %q | docker login --username AWS --password-stdin %q\n' \
        "$REGION" "$REGISTRY"
else
    aws ecr get-login-password --region "$REGION" |
        docker login --username AWS --password-stdin "$REGISTRY"
fi

# 3. One build per architecture, each pushed as a single-platform image (no provenance
# attestation, which would turn it into an index Lambda refuses). The Dockerfile's stages
# follow the build's --platform.
build_args=()
[[ -n ${BASE:-} ]] && build_args+=(--build-arg "BASE=$BASE")
arch_refs=()
for arch in $PLATFORMS; do
    case $arch in amd64 | arm64) ;; *) die "unsupported platform '$arch' (amd64 or arm64)" ;; esac
    run docker buildx build --platform "linux/$arch" \
        ${build_args[@]+"${build_args[@]}"} --provenance=false --sbom=false \
        --tag "$IMAGE:$TAG-$arch" --push "$ROOT"
    arch_refs+=("$IMAGE:$TAG-$arch")
done

# 4. The multi-architecture manifest over them, under the plain tag.
run docker buildx imagetools create --tag "$IMAGE:$TAG" "${arch_refs[@]}"

# 5. URIs by digest: what a function definition should name.
digest_of() {
    if [[ -n ${DRY_RUN:-} ]]; then
        echo "sha256:<digest of $1>"
    else
        docker buildx imagetools inspect "$1" --format '{{json .Manifest.Digest}}' | tr -d '"'
    fi
}
echo "IMAGE_URI=$IMAGE:$TAG"
echo "IMAGE_URI_INDEX=$IMAGE@$(digest_of "$IMAGE:$TAG")"
for arch in $PLATFORMS; do
    echo "IMAGE_URI_$(echo "$arch" | tr '[:lower:]' '[:upper:]')=$IMAGE@$(digest_of "$IMAGE:$TAG-$arch")"
done
