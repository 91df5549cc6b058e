#!/usr/bin/env bash
# Runs all peer benchmarks (see README.md) with the virtualenv's Python and writes
# results.json. Usage: benches/peers/run.sh [run_all.py options], e.g. --passes 2, --only gemm.
# PEERS_VENV points at the virtualenv (default /work/scratch/peers-venv).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${PEERS_VENV:-/work/scratch/peers-venv}"
exec "$venv/bin/python" "$here/run_all.py" "$@"
