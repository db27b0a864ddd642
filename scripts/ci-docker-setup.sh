#!/usr/bin/env bash
# Everything the docker backend needs, from a bare Debian/Ubuntu runner and with no container registry:
# a running engine, a debootstrapped base image, and the sandbox image built from this repository.
#
# Usage: ci-docker-setup.sh [--force] [--suite SUITE]
#   --force        rebuild the base image even if it exists
#   --suite SUITE  Debian suite of the base: bookworm (default, Python 3.11) or trixie (Python 3.13)
# Environment: SUITE, BASE_IMAGE_TAG (default quinebox-base:$SUITE),
#   SANDBOX_IMAGE (default quinebox-sandbox:latest), and those of start-dockerd.sh / build-base-image.sh.
set -euo pipefail

say() { printf 'ci-docker-setup: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

force=()
suite=${SUITE:-bookworm}
while (($#)); do
    case $1 in
        --force) force=(--force) ;;
        --suite) suite=${2:?--suite needs a value}; shift ;;
        --suite=*) suite=${1#*=} ;;
        -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (try --help)" ;;
    esac
    shift
done
base=${BASE_IMAGE_TAG:-quinebox-base:$suite}
image=${SANDBOX_IMAGE:-quinebox-sandbox:latest}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

# Starting dockerd and debootstrap need root; hosted CI runners give a normal user passwordless sudo.
as_root() {
    if ((EUID == 0)); then
        "$@"
    else
        command -v sudo >/dev/null || die "need root (or sudo) for: $*"
        sudo -E "$@"
    fi
}

if docker info >/dev/null 2>&1; then
    "$here/start-dockerd.sh"  # only reports the running engine
else
    as_root "$here/start-dockerd.sh"
fi

# debootstrap is skipped (and root not needed) when the base image is already there.
if [[ ${#force[@]} -eq 0 ]] && docker image inspect "$base" >/dev/null 2>&1; then
    say "$base already exists; not rebuilding (use --force)"
else
    as_root "$here/build-base-image.sh" "${force[@]}" --suite "$suite" --tag "$base"
fi

[[ -f $repo/sandbox/supervisor.py ]] || die "$repo/sandbox/supervisor.py is missing: nothing to build"
[[ -f $repo/Dockerfile ]] || die "$repo/Dockerfile is missing"

say "building $image from $base"
# --network none: the Dockerfile needs no network, and engines started without a bridge have none.
docker build --network none --build-arg "BASE_IMAGE=$base" -t "$image" "$repo"

# Smoke test under the sandbox's own isolation flags: the interpreter and the supervisor are there.
docker run --rm --network none --read-only --cap-drop ALL --security-opt no-new-privileges \
    --entrypoint python3 "$image" -I -c '
import os, sys
assert os.getuid() != 0, "image runs as root"
assert os.path.isfile("/opt/quinebox/sandbox/supervisor.py"), "supervisor.py missing"
print("Python %d.%d.%d" % sys.version_info[:3])' >/dev/null ||
    die "$image failed its smoke test"

size=$(docker image inspect -f '{{.Size}}' "$image")
echo "ready: $image (base $base, $((size / 1000000)) MB)"
