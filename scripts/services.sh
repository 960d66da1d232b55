#!/usr/bin/env bash
# The services of the `services` test tier (tests/services): PostgreSQL, RabbitMQ and the tools
# to build the en_US.UTF-8 locale that AiiDA's `CREATE DATABASE` asks for.
#
#   scripts/services.sh install   install what is missing with apt (Debian/Ubuntu, as root); idempotent
#   scripts/services.sh check     say what is missing; exit 1 if anything is
#
# The servers themselves are started and stopped by the pytest fixtures of tests/services, on
# temporary data directories and free ports; nothing here starts or enables a system service.
set -euo pipefail

say() { printf 'services.sh: %s\n' "$*" >&2; }

have_postgresql() { compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || command -v pg_ctl >/dev/null; }
have_rabbitmq() {
    [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || command -v rabbitmq-server >/dev/null
}
have_locales() { command -v localedef >/dev/null && [ -e /usr/share/i18n/locales/en_US ]; }

missing_packages() {
    have_postgresql || echo postgresql
    have_rabbitmq || echo rabbitmq-server
    have_locales || echo locales
}

check() {
    local missing
    missing=$(missing_packages | xargs)
    if [ -n "$missing" ]; then
        say "missing: $missing (run: scripts/services.sh install)"
        return 1
    fi
    say "PostgreSQL, RabbitMQ and locales are installed"
}

apt_install() {
    # keep the packages' init scripts from starting system services during the install
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        created_policy=1
    fi
    local status=0 log
    log=$(mktemp)
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1 || status=$?
    if [ "$status" != 0 ]; then cat "$log" >&2; fi
    rm -f "$log"
    if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
    return "$status"
}

install() {
    local missing
    missing=$(missing_packages | xargs)
    if [ -z "$missing" ]; then
        say 'PostgreSQL, RabbitMQ and locales already installed'
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        say "missing: $missing; installing them needs root (or run: sudo $0 install)"
        return 1
    fi
    if ! command -v apt-get >/dev/null; then
        say "missing: $missing; no apt-get on this machine: install them with its package manager"
        return 1
    fi
    say "installing $missing with apt-get"
    # read the package lists once first when they do not know a package (a fresh machine), and
    # again when the download fails on lists gone stale
    local package
    for package in $missing; do
        if [[ "$(apt-cache policy "$package" 2>/dev/null)" != *'Candidate: '[0-9]* ]]; then
            say 'apt-get update'
            apt-get update -qq
            break
        fi
    done
    # shellcheck disable=SC2086
    if ! apt_install $missing; then
        say 'install failed; apt-get update and retry'
        apt-get update -qq
        # shellcheck disable=SC2086
        apt_install $missing
    fi
    check
}

case "${1:-}" in
    install) install ;;
    check) check ;;
    *)
        echo "usage: $0 install|check" >&2
        exit 2
        ;;
esac
