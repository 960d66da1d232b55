#!/usr/bin/env bash
# The services of the `services` test tier (tests/services): PostgreSQL, RabbitMQ and the tools
# to build the en_US.UTF-8 locale that AiiDA's `CREATE DATABASE` asks for.
#
#   tests/services/install.sh install   install what is missing with apt (Debian/Ubuntu, as root); idempotent
#   tests/services/install.sh check     say what is missing; exit 1 if anything is
#
# The servers themselves are started and stopped by the pytest fixtures of tests/services, on
# temporary data directories and free ports; nothing here starts or enables a system service.
set -euo pipefail

say() { printf 'services.sh: %s\n' "$*" >&2; }
# shellcheck source=tests/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../apt.sh"

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
        say "missing: $missing (run: tests/services/install.sh install)"
        return 1
    fi
    say "PostgreSQL, RabbitMQ and locales are installed"
}


install() {
    local missing
    missing=$(missing_packages | xargs)
    if [ -z "$missing" ]; then
        say 'PostgreSQL, RabbitMQ and locales already installed'
        return 0
    fi
    # shellcheck disable=SC2086
    apt_install $missing || return 1
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
