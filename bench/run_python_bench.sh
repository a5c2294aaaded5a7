#!/usr/bin/env bash
# astrodiff's Python package against Pylians3 Pk_plane and quantimpy, side by side in one Python
# process on the same maps (bench/python_bench.py prints the table).
#
# Usage: bench/run_python_bench.sh [N_MAPS] [SIDE]     (defaults 200 256)
# Uses bench/.venv (Pylians 0.12 + quantimpy 0.2.6, as bench/run_stats_bench.sh makes it) and
# installs the package into it with the README's command, `pip install ./python`, timing it.
set -euo pipefail
cd "$(dirname "$0")/.."
N_MAPS=${1:-200}
SIDE=${2:-256}
VENV=bench/.venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import Pk_library, quantimpy" 2>/dev/null; then
  # run_stats_bench.sh creates the reference environment; 1 map is enough for that.
  bench/run_stats_bench.sh 1 64 >/dev/null
fi
start=$(date +%s)
"$VENV/bin/pip" install -q ./python
echo "== pip install ./python: $(( $(date +%s) - start )) s (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
OUTDIR=target/stats_bench; mkdir -p "$OUTDIR"
MAPS=$OUTDIR/maps_${N_MAPS}_${SIDE}.npy
if [ ! -f "$MAPS" ]; then
  # The maps of bench/run_stats_bench.sh (positive, log-normal-like projected densities).
  (. scripts/env.sh >/dev/null && cargo run -q --release -p stats --example stats_bench -- \
      --maps "$N_MAPS" --side "$SIDE" --threads 2 --write-npy "$MAPS" --json "$OUTDIR/rust.json" >/dev/null)
fi
"$VENV/bin/python" bench/python_bench.py "$MAPS" --json "$OUTDIR/python_bench.json"
