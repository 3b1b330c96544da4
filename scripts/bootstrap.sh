#!/usr/bin/env bash
# Create or update the project virtual environment (.venv in the repository root).
#
# Usage: scripts/bootstrap.sh [--force]
#
# What it does (idempotent; a rerun with nothing changed returns in well under a second):
#   1. Picks python3 (override with JWM_PYTHON=/path/to/python), which must be >= 3.10.
#   2. ROS 2 route:
#      - if a system ROS 2 is sourced (ROS_DISTRO is set and that python imports rclpy),
#        the venv is created with --system-site-packages and no ROS wheels are installed;
#        numpy/cv2/yaml that the system already provides are kept (apt cv_bridge breaks
#        with a pip numpy 2, see README);
#      - otherwise the ROS 2 rclpy / Fast DDS / message wheels of requirements-ros-wheels.txt
#        are installed into the venv: Jazzy's (ros-jazzy-*), or with JWM_ROS_WHEELS=kilted
#        the same packages of Kilted (ros-kilted-*). JWM_ROS_WHEELS set explicitly also
#        wins over a sourced system ROS 2 (`make test-kilted` uses it).
#   3. Installs torch first, with an explicit spec so pip never picks a CUDA build by
#      accident: JWM_TORCH_SPEC (default "torch==2.13.0"). Skipped if the venv already
#      imports torch. On machines without a local CPU wheel, point pip at the CPU index:
#        PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu scripts/bootstrap.sh
#      For a CUDA build, set JWM_TORCH_SPEC and PIP_EXTRA_INDEX_URL accordingly.
#   4. Installs requirements.txt and requirements-dev.txt, then the package itself
#      (editable, --no-deps), and checks that everything imports.
#   5. Writes .venv/.jwm-bootstrap.stamp, keyed by a hash of the requirements files,
#      setup.py, this script, the torch spec, the ROS route and the python version.
#      --force ignores the stamp.
#
# Environment: JWM_VENV (default <repo>/.venv), JWM_PYTHON, JWM_TORCH_SPEC, JWM_ROS_WHEELS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${JWM_VENV:-$ROOT/.venv}"
PYTHON="${JWM_PYTHON:-python3}"
TORCH_SPEC="${JWM_TORCH_SPEC:-torch==2.13.0}"
STAMP="$VENV/.jwm-bootstrap.stamp"
LOG="$VENV/.jwm-bootstrap.log"
FORCE=0

for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,27p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "bootstrap: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

info() { echo "bootstrap: $*"; }
die() { echo "bootstrap: error: $*" >&2; exit 1; }

# --- interpreter -----------------------------------------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 \
    || die "'$PYTHON' not found. Install Python >= 3.10 or set JWM_PYTHON=/path/to/python3."
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
    die "Python >= 3.10 is required, but '$PYTHON' is $("$PYTHON" -V 2>&1)." \
        "Set JWM_PYTHON to a newer interpreter."
fi
PY_VERSION="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"

# --- ROS 2 route -----------------------------------------------------------------------
ROS_WHEELS="${JWM_ROS_WHEELS:-jazzy}"
case "$ROS_WHEELS" in
    jazzy|kilted) ;;
    *) die "JWM_ROS_WHEELS must be jazzy or kilted (the distributions with rclpy wheels" \
           "tested here), got '$ROS_WHEELS'" ;;
esac
ROS_MODE="wheels-$ROS_WHEELS"
if [[ -n "${ROS_DISTRO:-}" && -z "${JWM_ROS_WHEELS:-}" ]]; then
    if "$PYTHON" -c 'import rclpy' >/dev/null 2>&1; then
        ROS_MODE="system-$ROS_DISTRO"
    else
        info "ROS_DISTRO=$ROS_DISTRO is set but '$PYTHON' cannot import rclpy;" \
            "using the ROS 2 $ROS_WHEELS wheels instead."
    fi
fi

# --- fast path: nothing changed since the last successful run ---------------------------
hash_inputs() {
    (
        cd "$ROOT"
        cat requirements.txt requirements-dev.txt requirements-ros-wheels.txt setup.py \
            scripts/bootstrap.sh
        printf '%s\n' "torch=$TORCH_SPEC" "ros=$ROS_MODE" "python=$PY_VERSION" \
            "python_path=$(command -v "$PYTHON")"
    ) | "$PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'
}
KEY="$(hash_inputs)"
if [[ $FORCE == 0 && -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$KEY" ]]; then
    exit 0
fi

# Serialise concurrent bootstraps of the same checkout (e.g. make -j demo test).
if command -v flock >/dev/null 2>&1; then
    LOCK="${TMPDIR:-/tmp}/jwm-bootstrap-$(printf '%s' "$VENV" | cksum | cut -d' ' -f1).lock"
    exec 9>"$LOCK"
    flock 9
    # Another process may have finished the job while we waited.
    if [[ $FORCE == 0 && -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$KEY" ]]
    then
        exit 0
    fi
fi

START=$SECONDS
info "setting up $VENV (python $PY_VERSION, ROS 2 from: $ROS_MODE, $TORCH_SPEC)"

# --- venv --------------------------------------------------------------------------------
want_system_site=false
[[ $ROS_MODE == system-* ]] && want_system_site=true
if [[ -e "$VENV" ]]; then
    recreate=""
    if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
        recreate="its python does not run"
    elif [[ "$("$VENV/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')" \
            != "$PY_VERSION" ]]; then
        recreate="it was made with another python version"
    elif ! grep -qi "^include-system-site-packages *= *$want_system_site" \
            "$VENV/pyvenv.cfg" 2>/dev/null; then
        recreate="the ROS 2 route changed (system site-packages: $want_system_site)"
    fi
    if [[ -n "$recreate" ]]; then
        info "recreating $VENV because $recreate"
        rm -rf "$VENV"
    fi
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    venv_args=()
    $want_system_site && venv_args+=(--system-site-packages)
    if ! venv_err="$("$PYTHON" -m venv "${venv_args[@]}" "$VENV" 2>&1)"; then
        echo "$venv_err" >&2
        die "could not create $VENV with '$PYTHON -m venv'. On Debian/Ubuntu install the" \
            "venv module first: sudo apt install python3-venv"
    fi
fi
VPY="$VENV/bin/python"
rm -f "$STAMP"
: >"$LOG"

# Run a step quietly; on failure show the end of the log and stop.
step() {
    local desc="$1" started=$SECONDS
    shift
    printf 'bootstrap: %s ...' "$desc"
    if ! "$@" >>"$LOG" 2>&1; then
        echo " failed" >&2
        echo "----- last lines of $LOG -----" >&2
        tail -n 40 "$LOG" >&2
        die "$desc failed${TORCH_HINT:-} (full log: $LOG)"
    fi
    echo " $((SECONDS - started)) s"
}
pip_install() { "$VPY" -m pip install --quiet "$@"; }

# Build backend for the local package (--no-build-isolation keeps it offline-friendly).
if ! "$VPY" -c 'import setuptools, sys; v = int(setuptools.__version__.split(".")[0]);
sys.exit(0 if v >= 64 else 1)' >/dev/null 2>&1; then
    step "installing setuptools" pip_install "setuptools>=64"
fi
if ! "$VPY" -c 'import setuptools.command.bdist_wheel' >/dev/null 2>&1 \
        && ! "$VPY" -c 'import wheel' >/dev/null 2>&1; then
    step "installing wheel" pip_install wheel
fi

# --- torch first, with an explicit spec ---------------------------------------------------
if "$VPY" -c 'import torch' >/dev/null 2>&1; then
    info "torch already importable: $("$VPY" -c 'import torch; print(torch.__version__)')"
else
    TORCH_HINT="; if pip cannot find it, set PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu"
    step "installing $TORCH_SPEC" pip_install "$TORCH_SPEC"
    TORCH_HINT=""
fi
# Keep every later step from replacing torch (e.g. with a CUDA build).
CONSTRAINTS="$VENV/.jwm-constraints.txt"
"$VPY" - "$CONSTRAINTS" <<'PYEOF'
import sys
from importlib import metadata
try:
    line = 'torch==%s\n' % metadata.version('torch')
except metadata.PackageNotFoundError:
    line = ''
with open(sys.argv[1], 'w') as handle:
    handle.write(line)
PYEOF

# --- ROS 2 -----------------------------------------------------------------------------
if [[ $ROS_MODE == wheels-* ]]; then
    # requirements-ros-wheels.txt names the Jazzy wheels; another distribution's have the
    # same names with its own prefix.
    ROS_REQS="$VENV/.jwm-ros-wheels.txt"
    sed "s/^ros-jazzy-/ros-$ROS_WHEELS-/" "$ROOT/requirements-ros-wheels.txt" >"$ROS_REQS"
    step "installing ROS 2 $ROS_WHEELS rclpy + Fast DDS wheels" \
        pip_install -c "$CONSTRAINTS" -r "$ROS_REQS"
fi

# --- Python requirements ------------------------------------------------------------------
REQS="$ROOT/requirements.txt"
if [[ $ROS_MODE == system-* ]]; then
    # Keep what the system (apt) provides: a pip numpy 2 / opencv would shadow it and
    # break apt's cv_bridge.
    REQS="$VENV/.jwm-requirements-system.txt"
    "$VPY" - "$ROOT/requirements.txt" "$REQS" <<'PYEOF'
import importlib.util
import re
import sys

modules = {'opencv-python-headless': 'cv2', 'opencv-python': 'cv2', 'pyyaml': 'yaml'}
kept = []
with open(sys.argv[1]) as handle:
    for raw in handle:
        line = raw.split('#', 1)[0].strip()
        if not line:
            continue
        name = re.split(r'[<>=!~;\[ ]', line, maxsplit=1)[0].lower()
        module = modules.get(name, name.replace('-', '_'))
        if importlib.util.find_spec(module) is None:
            kept.append(line)
with open(sys.argv[2], 'w') as handle:
    handle.write(''.join(line + '\n' for line in kept))
PYEOF
fi
step "installing Python requirements" \
    pip_install -c "$CONSTRAINTS" -r "$REQS" -r "$ROOT/requirements-dev.txt"

# --- the package itself ------------------------------------------------------------------
# --use-pep517: a PEP 660 editable wheel. The legacy "setup.py develop" path cannot be used:
# it honours setup.cfg's [develop] script_dir (scripts would land in .venv/lib/<pkg>, not
# .venv/bin), and setuptools >= 80 rejects that option altogether.
step "installing jepa_world_model (editable)" \
    pip_install --no-deps --no-build-isolation --use-pep517 -e "$ROOT"
# Editable wheels skip setup.py data_files. Link them the way colcon --symlink-install
# does, so AMENT_PREFIX_PATH=$VENV makes get_package_share_directory() work and edits to
# launch/ and config/ show up without reinstalling.
SHARE="$VENV/share/jepa_world_model"
INDEX="$VENV/share/ament_index/resource_index/packages"
mkdir -p "$SHARE" "$INDEX"
ln -sfn "$ROOT/resource/jepa_world_model" "$INDEX/jepa_world_model"
ln -sfn "$ROOT/package.xml" "$SHARE/package.xml"
for dir in launch config models; do
    ln -sfn "$ROOT/$dir" "$SHARE/$dir"
done

# --- checks ------------------------------------------------------------------------------
check_imports='import jepa_world_model, numpy, cv2, yaml, safetensors, rosbags, torch, pytest'
[[ -x "$VENV/bin/jepa-world-model" ]] \
    || die "$VENV/bin/jepa-world-model was not installed (see $LOG)"
if ! out="$("$VPY" -c "$check_imports" 2>&1)"; then
    echo "$out" >&2
    die "the new environment cannot import its dependencies (see above and $LOG)"
fi
# A fresh interpreter, so the ros-wheels-bootstrapper .pth hook (wheels route) runs.
if ! out="$(cd "$ROOT" && "$VPY" -c 'import rclpy, sensor_msgs.msg' 2>&1)"; then
    echo "$out" >&2
    die "the new environment cannot import rclpy (ROS 2 from: $ROS_MODE). Rerun with" \
        "--force; if it keeps failing, check that ROS 2 wheels exist for python $PY_VERSION."
fi

echo "$KEY" >"$STAMP"
info "done in $((SECONDS - START)) s"
