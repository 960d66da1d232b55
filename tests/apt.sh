# shellcheck shell=bash
# apt-get for the tier scripts (tests/services/install.sh, cluster.sh, dft.sh), which source this file
# and define `say` (their message prefix) before calling it.
#
#   apt_install PACKAGE...   install with apt-get as root: reads the package lists first when they do
#                            not know a package (a fresh machine) and again before one retry when
#                            the download fails (lists gone stale); waits for another apt run's lock;
#                            keeps the packages' init scripts from starting system services; quiet
#                            unless something fails. Returns 1, saying why, without root or apt-get.

apt_quietly() {
    # run apt-get "$@" with its output in a log that is shown only when it fails
    local log status=0
    log=$(mktemp)
    DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=900 "$@" >"$log" 2>&1 || status=$?
    if [ "$status" != 0 ]; then cat "$log" >&2; fi
    rm -f "$log"
    return "$status"
}

apt_install() {
    if [ "$(id -u)" != 0 ]; then
        say "missing: $*; installing them needs root (or run: sudo $0 install)"
        return 1
    fi
    if ! command -v apt-get >/dev/null; then
        say "missing: $*; no apt-get on this machine: install them with its package manager"
        return 1
    fi
    say "installing $* with apt-get"
    local package
    for package in "$@"; do
        if [[ "$(apt-cache policy "$package" 2>/dev/null)" != *'Candidate: '[0-9]* ]]; then
            say 'apt-get update'
            apt_quietly update
            break
        fi
    done
    local policy=/usr/sbin/policy-rc.d created_policy=0 status=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        created_policy=1
    fi
    if ! apt_quietly install -y --no-install-recommends "$@"; then
        say 'install failed; apt-get update and retry'
        apt_quietly update && apt_quietly install -y --no-install-recommends "$@" || status=$?
    fi
    if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
    return "$status"
}
