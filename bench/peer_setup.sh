#!/usr/bin/env bash
# The peer's own virtual environment for bench/peers.py: dpmm 0.1.9 (AIM, MST, PrivBayes on a vendored
# private-pgm) at bench/.venv-peer, apart from the project's venv and dependencies (dpmm pins numpy 1.26.4,
# pandas 2.1.0, scikit-learn 1.5.0 and opendp 0.12.1; it needs neither torch nor jax).
# Idempotent: a venv that already imports dpmm 0.1.9 is left as it is. Usage: bash bench/peer_setup.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv-peer"
want="0.1.9"
python="${PYTHON:-python3.11}"  # dpmm 0.1.9 wants Python >=3.10,<3.12

quiet_pip() {  # pip, without this machine's warnings about absent local index folders
  "$venv/bin/python" -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither" >&2)
}

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c \
    "import importlib.metadata as m, sys; sys.exit(m.version('dpmm') != '$want')" 2>/dev/null; then
  echo '*' > "$venv/.gitignore"
  echo "peer venv ready: $venv (dpmm $want)"
  exit 0
fi
start=$(date +%s)
"$python" -m venv "$venv"
echo '*' > "$venv/.gitignore"  # as Python 3.13's venv writes: git and ruff (respect-gitignore) skip the venv
quiet_pip --upgrade pip
quiet_pip "dpmm==$want"
"$venv/bin/python" -c "import dpmm.pipelines, importlib.metadata as m; print('dpmm', m.version('dpmm'))"
echo "peer venv ready: $venv in $(( $(date +%s) - start )) s, $(du -sh "$venv" | cut -f1)"
