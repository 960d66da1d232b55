#!/usr/bin/env bash
# The DFT codes of the `dft` test tier (tests/dft) and of docs/howto/dft_labels.md:
#
#   CP2K        apt: `cp2k` (cp2k.psmp, cp2k.popt) and `cp2k-data` (BASIS_MOLOPT, GTH_POTENTIALS, ...)
#   aiida-cp2k  pip, into the virtual environment (see below why partly without dependencies)
#   GPAW        pip, built from source without MPI against apt's libxc and OpenBLAS (needs g++);
#               its PAW setups come with the `gpaw-data` wheel
#
#   tests/dft/install.sh install   install what is missing; idempotent; quiet unless something fails
#   tests/dft/install.sh check     say what is missing; exit 1 if anything is
#
# The virtual environment is $VENV (default: .venv of the repository). apt needs root (Debian/Ubuntu).
#
# aiida-cp2k 2.1 depends on cp2k-output-tools 0.5, which pins numpy<2 and regex<2022 although the part
# aiida-cp2k uses (trajectory parsing, not needed for single points) runs with numpy 2: a plain
# `pip install aiida-cp2k` would downgrade numpy under pacemaker and TensorFlow. So aiida-cp2k and its
# own plugins are installed with --no-deps and their other requirements separately; `pip check` then
# reports that one known conflict (cp2k-output-tools vs numpy/regex), nothing else.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
PYTHON=$VENV/bin/python
PIP=("$PYTHON" -m pip --quiet --disable-pip-version-check)

say() { printf 'dft.sh: %s\n' "$*" >&2; }
# shellcheck source=tests/apt.sh
source "$ROOT/tests/apt.sh"

have_cp2k() { command -v cp2k.psmp >/dev/null || command -v cp2k.popt >/dev/null || command -v cp2k.ssmp >/dev/null; }
have_cp2k_data() { [ -f /usr/share/cp2k/BASIS_MOLOPT ] || [ -f "${CP2K_DATA_DIR:-/nonexistent}/BASIS_MOLOPT" ]; }
have_aiida_cp2k() {
    "$PYTHON" - <<'EOF' 2>/dev/null
from importlib.metadata import entry_points
import aiida_cp2k, aiida_pseudo, aiida_gaussian_datatypes, upf_to_json  # noqa: F401
assert entry_points(group='aiida.calculations', name='cp2k')
assert entry_points(group='aiida.data', name='pseudo.upf')
EOF
}
have_gpaw() { "$PYTHON" -c 'from gpaw.calculator import GPAW; import gpaw_data' 2>/dev/null; }
have_gpaw_build_deps() {
    # a C++ compiler, libxc's header, and the unversioned libxc.so and libopenblas.so to link with
    command -v g++ >/dev/null && [ -e /usr/include/xc.h ] \
        && ldconfig -p | grep -q 'libxc\.so ' && ldconfig -p | grep -q 'libopenblas\.so '
}

missing_packages() {
    have_cp2k || echo cp2k
    have_cp2k_data || echo cp2k-data
    if ! have_gpaw; then
        have_gpaw_build_deps || echo g++ libxc-dev libopenblas-dev
    fi
}

check() {
    local status=0
    if [ ! -x "$PYTHON" ]; then
        say "no virtual environment at $VENV (run: make install)"
        return 1
    fi
    have_cp2k || { say 'missing: CP2K (apt: cp2k)'; status=1; }
    have_cp2k_data || { say 'missing: the CP2K data (apt: cp2k-data)'; status=1; }
    have_aiida_cp2k || { say "missing: aiida-cp2k in $VENV"; status=1; }
    have_gpaw || { say "missing: GPAW (with gpaw-data) in $VENV"; status=1; }
    if [ "$status" = 0 ]; then
        say "CP2K ($(command -v cp2k.psmp || command -v cp2k.popt || command -v cp2k.ssmp)), aiida-cp2k and GPAW are installed"
    else
        say "run: tests/dft/install.sh install"
    fi
    return "$status"
}

quietly() {
    # run "$@" with its output in a log that is shown only when it fails
    local log status=0
    log=$(mktemp)
    "$@" >"$log" 2>&1 || status=$?
    if [ "$status" != 0 ]; then
        cat "$log" >&2
    fi
    rm -f "$log"
    return "$status"
}

install_aiida_cp2k() {
    say "pip install aiida-cp2k into $VENV"
    quietly "${PIP[@]}" install --no-deps 'aiida-cp2k~=2.1' 'aiida-gaussian-datatypes>=0.5' \
        'cp2k-input-tools>=0.9,<0.10' 'cp2k-output-tools>=0.5,<0.6' 'aiida-pseudo>=1.2,<2'
    # their remaining requirements, none of which touches numpy, pandas or aiida-core
    quietly "${PIP[@]}" install 'Pint>=0.23,<0.25' 'transitions>=0.7,<0.10' 'upf-to-json>=0.9' \
        'ruamel.yaml>=0.16.5' 'Jinja2>=2.11.3,<4' 'pydantic>=2,<3' 'click>=8.1,<8.3' 'requests~=2.20' six regex
}

install_gpaw() {
    say "pip install gpaw into $VENV (compiled without MPI: a minute or two)"
    local config
    config=$(mktemp -d)
    # no MPI (a serial build is what the ASE labeller runs in-process), C++ compiler, libxc and OpenBLAS
    printf "mpi = False\ncompiler = 'g++'\nlibraries = ['xc', 'openblas']\n" >"$config/siteconfig.py"
    local status=0
    GPAW_CONFIG="$config/siteconfig.py" quietly "${PIP[@]}" install --no-cache-dir 'gpaw>=24' || status=$?
    rm -rf "$config"
    return "$status"
}

install() {
    if [ ! -x "$PYTHON" ]; then
        say "no virtual environment at $VENV (run: make install)"
        return 1
    fi
    local missing
    missing=$(missing_packages | xargs)
    if [ -n "$missing" ]; then
        # shellcheck disable=SC2086
        apt_install $missing
    fi
    have_aiida_cp2k || install_aiida_cp2k
    have_gpaw || install_gpaw
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
