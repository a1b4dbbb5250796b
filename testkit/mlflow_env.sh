#!/usr/bin/env bash
# Prepares a venv with MLflow 3.x (and rotel) for aimux's OpenTelemetry tests.
#   testkit/mlflow_env.sh mlflow   -> prints the path of the `mlflow` executable
#   testkit/mlflow_env.sh rotel    -> prints the path of the `rotel-agent` executable
# Venv: ${AIMUX_MLFLOW_VENV:-$HOME/.cache/aimux-mlflow/venv}. Idempotent; exits 2 with a
# reason on stderr when python3/venv/pip or the network is unavailable.
set -euo pipefail
what="${1:-mlflow}"
VENV="${AIMUX_MLFLOW_VENV:-$HOME/.cache/aimux-mlflow/venv}"
MLFLOW_SPEC="${AIMUX_MLFLOW_SPEC:-mlflow>=3,<4}"
ROTEL_SPEC="${AIMUX_ROTEL_SPEC:-rotel}"
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 2; }
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV" >&2 || { echo "python3 -m venv failed (install python3-venv)" >&2; exit 2; }
fi
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" >&2; }
case "$what" in
  mlflow)
    if [ ! -x "$VENV/bin/mlflow" ]; then
      pip install "$MLFLOW_SPEC" || { echo "pip install '$MLFLOW_SPEC' failed (no network?)" >&2; exit 2; }
    fi
    echo "$VENV/bin/mlflow" ;;
  rotel)
    find_agent() { "$VENV/bin/python" -c 'import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), "rotel-agent"))' 2>/dev/null; }
    agent="$(find_agent || true)"
    if [ -z "$agent" ] || [ ! -x "$agent" ]; then
      pip install "$ROTEL_SPEC" || { echo "pip install '$ROTEL_SPEC' failed (no network?)" >&2; exit 2; }
      agent="$(find_agent || true)"
    fi
    [ -n "$agent" ] && [ -x "$agent" ] || { echo "the rotel package has no rotel-agent binary" >&2; exit 2; }
    echo "$agent" ;;
  *) echo "usage: $0 mlflow|rotel" >&2; exit 2 ;;
esac
