#!/usr/bin/env bash
# Start a Docker engine in the background when none answers. Safe to run repeatedly.
#
# For hosts without an init system that manages dockerd (CI runners, VMs, containers). It tries the
# engine's defaults first, then progressively less demanding configurations:
#   1. defaults        storage driver auto-picked (overlay2 when the kernel allows), bridge + iptables
#   2. no netfilter    --iptables=false --ip-masq=false --bridge=none: for hosts whose kernel or
#                      userland lacks iptables; sandbox containers run with --network none anyway
#   3. no overlayfs    fuse-overlayfs (when installed), then vfs: for hosts where overlay2 cannot mount,
#                      e.g. when /var/lib/docker itself sits on an overlay filesystem
#
# Environment:
#   DOCKERD_FLAGS    use exactly these flags (one attempt, no fallbacks)
#   DOCKERD_LOG      log file (default /var/log/dockerd.log)
#   DOCKERD_TIMEOUT  seconds to wait for the engine to answer, over all attempts (default 60)
set -euo pipefail

LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
TIMEOUT=${DOCKERD_TIMEOUT:-60}
PIDFILE=/var/run/docker.pid

say() { printf 'start-dockerd: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

status_line() {
    # One line that says which engine answered and how it is configured.
    docker info --format \
        'server {{.ServerVersion}}, storage {{.Driver}}, cgroup v{{.CgroupVersion}}/{{.CgroupDriver}}' \
        2>/dev/null || echo "server answering"
}

command -v docker >/dev/null || die "docker CLI not found in PATH"

if docker info >/dev/null 2>&1; then
    echo "dockerd: already running ($(status_line))"
    exit 0
fi

[[ $(id -u) -eq 0 ]] || die "docker does not answer and starting dockerd needs root (run with sudo)"
command -v dockerd >/dev/null || die "dockerd not found in PATH (install docker.io or docker-ce)"
mkdir -p "$(dirname "$LOG")"

deadline=$((SECONDS + TIMEOUT))

# Wait until the engine answers. Returns 0 when it does, 1 if the daemon died, 2 on timeout.
wait_ready() {
    local pid=$1
    while ((SECONDS < deadline)); do
        docker info >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.5
    done
    return 2
}

# A daemon may already be starting (e.g. a second CI step racing the first): wait for it rather than
# start a rival that would fight over the pid file and the socket.
if [[ -s $PIDFILE ]]; then
    pid=$(<"$PIDFILE")
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
        && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]]; then
        say "dockerd (pid $pid) is running but not answering yet; waiting up to ${TIMEOUT}s"
        if wait_ready "$pid"; then
            echo "dockerd: ready, pid $pid ($(status_line))"
            exit 0
        fi
        die "dockerd (pid $pid) did not answer within ${TIMEOUT}s; see $LOG"
    fi
fi

if [[ -n ${DOCKERD_FLAGS+x} ]]; then
    attempts=("$DOCKERD_FLAGS")
else
    nonet="--iptables=false --ip-masq=false --bridge=none"
    attempts=("" "$nonet")
    command -v fuse-overlayfs >/dev/null && attempts+=("--storage-driver=fuse-overlayfs $nonet")
    attempts+=("--storage-driver=vfs $nonet")
fi

for flags in "${attempts[@]}"; do
    ((SECONDS < deadline)) || break
    say "starting dockerd ${flags:-(defaults)}; log: $LOG"
    printf '\n==== %s start-dockerd: dockerd %s\n' "$(date -u +%FT%TZ)" "$flags" >>"$LOG"
    # setsid: detach from this shell's session so the daemon outlives the script and its terminal.
    # shellcheck disable=SC2086  # flags are deliberately word-split
    setsid dockerd $flags </dev/null >>"$LOG" 2>&1 &
    pid=$!
    rc=0
    wait_ready "$pid" || rc=$?
    if ((rc == 0)); then
        echo "dockerd: ready, pid $pid, flags: ${flags:-(defaults)} ($(status_line)); log: $LOG"
        exit 0
    fi
    if ((rc == 2)); then
        # Still alive but silent: stop it so a later run starts clean, then report.
        kill "$pid" 2>/dev/null || true
        die "dockerd did not answer within ${TIMEOUT}s (flags: ${flags:-(defaults)}); see $LOG"
    fi
    say "dockerd exited during startup; last warnings/errors in the log:"
    tail -n 200 "$LOG" | grep -v 'level=info' | tail -n 4 | sed 's/^/    /' >&2 || true
done

die "could not start dockerd (tried: $(printf '[%s] ' "${attempts[@]}")); see $LOG"
