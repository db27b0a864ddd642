#!/usr/bin/env bash
# Install quinebox, its default sandbox (bubblewrap) and the judged languages' interpreters
# (node, ruby, gcc) on a Debian or Ubuntu machine.
#   bash scripts/install.sh            quinebox + bwrap
#   EXTRAS=test bash scripts/install.sh  also what the tests need
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

as_root() {
    if ((EUID == 0)); then "$@"; elif command -v sudo >/dev/null; then sudo -E "$@"; else
        echo "install.sh: need root (or sudo) to run: $*" >&2; exit 1; fi
}

# bwrap, and the interpreters of the languages quinebox judges besides Python (bash is always there).
missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap python3)
command -v node >/dev/null || missing+=(nodejs)
command -v ruby >/dev/null || missing+=(ruby)
command -v gcc >/dev/null || missing+=(gcc)
[[ -f /usr/include/stdio.h ]] || missing+=(libc6-dev)
if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The browser tests render the HTML reports in headless chromium.
if [[ ",${EXTRAS:-}," == *,test,* || ",${EXTRAS:-}," == *,dev,* ]] && ! command -v chromium >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
python3 -m pip install -q -e ".${EXTRAS:+[$EXTRAS]}"
# pyenv puts console scripts on PATH through shims, made only on a rehash.
if command -v pyenv >/dev/null; then pyenv rehash || true; fi
command -v quinebox >/dev/null || echo "install.sh: installed; add $(python3 -m site --user-base)/bin to PATH" >&2
