#!/usr/bin/env bash
# Build a minimal Debian + Python root with debootstrap and `docker import` it, so the sandbox image can
# be built with no container registry at all (only a Debian mirror is needed).
#
# Usage: build-base-image.sh [--force] [--suite SUITE] [--tag TAG]
#
# Environment (flags win over environment):
#   SUITE           Debian suite: bookworm (default, Python 3.11) or trixie (Python 3.13)
#   BASE_IMAGE_TAG  image tag (default quinebox-base:$SUITE)
#   DEBIAN_MIRROR   Debian mirror URL (default: the one apt on this host uses, else deb.debian.org)
#   DEBIAN_KEYRING  keyring that verifies the mirror (default the debian-archive-keyring package's)
#   DEBOOTSTRAP_CACHE  directory to keep downloaded .debs between runs (optional)
#
# Needs root (debootstrap chroots), debootstrap, tar, and a running Docker engine.
set -euo pipefail

say() { printf 'build-base-image: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

force=0
suite=${SUITE:-bookworm}
tag=${BASE_IMAGE_TAG:-}
while (($#)); do
    case $1 in
        --force) force=1 ;;
        --suite) suite=${2:?--suite needs a value}; shift ;;
        --suite=*) suite=${1#*=} ;;
        --tag) tag=${2:?--tag needs a value}; shift ;;
        --tag=*) tag=${1#*=} ;;
        -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (try --help)" ;;
    esac
    shift
done
tag=${tag:-quinebox-base:$suite}

# The mirror apt already trusts and reaches on this host, so restricted networks work unchanged:
# the first plain Debian archive (not -security, not third-party) with a main component.
system_mirror() {
    command -v apt-get >/dev/null || return 0
    # shellcheck disable=SC2016  # $(...) here is apt's field syntax, not the shell's
    apt-get indextargets --format '$(TARGET_OF) $(LABEL) $(COMPONENT) $(REPO_URI)' 2>/dev/null |
        awk '$1 == "deb" && $2 == "Debian" && $3 == "main" && $4 ~ /^(https?|file):/ { print $4; exit }'
}
mirror=${DEBIAN_MIRROR:-$(system_mirror)}
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}

command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "the Docker engine does not answer (start it first, e.g. scripts/start-dockerd.sh)"

if ((!force)) && docker image inspect "$tag" >/dev/null 2>&1; then
    say "$tag already exists; skipping (use --force to rebuild)"
    exit 0
fi

[[ $(id -u) -eq 0 ]] || die "debootstrap needs root"
command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
# Always verify what the mirror serves: without a keyring debootstrap only warns and carries on.
keyring=${DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
[[ -r $keyring ]] || die "keyring $keyring not found (apt-get install debian-archive-keyring)"

start=$SECONDS
work=$(mktemp -d "${TMPDIR:-/var/tmp}/quinebox-base.XXXXXX")
root=$work/root

cleanup() {
    # debootstrap mounts /proc and /sys inside the target; a failed run can leave them mounted, and
    # rm must never descend into them.
    if command -v findmnt >/dev/null; then
        findmnt -R -n -l -o TARGET "$root" 2>/dev/null | sort -r | while read -r m; do
            umount -l "$m" 2>/dev/null || true
        done || true
    fi
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# python3-minimal: the interpreter; libpython3-stdlib: the default Python's full stdlib (ctypes, json,
# selectors, resource, tokenize ...), named without a version so every suite resolves its own.
# nodejs, ruby, gcc with libc6-dev: the other languages quinebox judges (bash is in minbase).
packages=python3-minimal,libpython3-stdlib,nodejs,ruby,gcc,libc6-dev
cache_args=()
if [[ -n ${DEBOOTSTRAP_CACHE:-} ]]; then
    mkdir -p "$DEBOOTSTRAP_CACHE"
    cache_args=(--cache-dir="$(cd "$DEBOOTSTRAP_CACHE" && pwd)")
fi

say "debootstrap $suite (minbase + $packages) from $mirror"
if ! debootstrap --variant=minbase --components=main --include="$packages" --keyring="$keyring" \
    "${cache_args[@]}" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log" >&2
    [[ -f $root/debootstrap/debootstrap.log ]] && tail -n 20 "$root/debootstrap/debootstrap.log" >&2
    die "debootstrap $suite from $mirror failed"
fi

say "stripping docs, locales and apt caches"
# Keep copyright files (licence obligations); everything else under doc/man/info is dead weight.
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/{man,info,lintian,linda}/* "$root"/usr/share/locale/*
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
    "$root"/var/lib/dpkg/*-old "$root"/var/log/* "$root"/tmp/* "$root"/var/tmp/*
rm -f "$root/etc/hostname" "$root/etc/resolv.conf"
: >"$root/etc/machine-id"
# Keep images derived from this one small too, should they apt-get install anything.
mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$root/etc/apt/apt.conf.d"
cat >"$root/etc/dpkg/dpkg.cfg.d/excludes" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
EOF

pyver=$(chroot "$root" python3 -I -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])') ||
    die "python3 does not run in the new root"
# Debian byte-compiles only part of the stdlib at install time and leaves the rest to be cached on
# first import. Sandbox containers have a read-only root and start a fresh interpreter per run, so
# anything not compiled here would be recompiled on every run: compile it all once, now.
chroot "$root" python3 -I -m compileall -q -x '/(test|tests|idlelib|lib2to3|tkinter|turtledemo)/' \
    "/usr/lib/python${pyver%.*}" >/dev/null || die "byte-compiling the stdlib failed"

say "importing as $tag"
old_id=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
# /dev, /proc and /sys are provided by the container runtime; ship them empty.
tar --numeric-owner --xattrs --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    -C "$root" -cf - . |
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["/bin/bash"]' \
        --change "LABEL org.quinebox.base.suite=$suite org.quinebox.base.python=$pyver" \
        --message "debootstrap --variant=minbase $suite + $packages" \
        - "$tag" >/dev/null

# Prove the image can do what the sandbox needs, with the sandbox's own isolation flags.
docker run --rm --network none --read-only "$tag" \
    python3 -I -c 'import ctypes, json, selectors, base64, resource, tokenize, signal' ||
    die "$tag: python3 cannot import the modules the sandbox needs"

# A --force rebuild leaves the previous image untagged: drop it unless a container still uses it.
new_id=$(docker image inspect -f '{{.Id}}' "$tag")
if [[ -n $old_id && $old_id != "$new_id" ]]; then
    docker image rm "$old_id" >/dev/null 2>&1 || true
fi

size=$(docker image inspect -f '{{.Size}}' "$tag")
echo "built $tag: Debian $suite, Python $pyver, $((size / 1000000)) MB, in $((SECONDS - start)) s"
