#!/usr/bin/env bash
# Benchmark astrodiff's statistics against the Python pair the community uses:
# Pylians3 Pk_plane (P(k)) + quantimpy 0.2.6 minkowski.functionals (MFs), plus a numpy
# histogram, on the same maps, with 2 threads on both sides.
#
# Usage: bench/run_stats_bench.sh [N_MAPS] [SIDE]     (defaults 1000 256)
# Creates bench/.venv on first use (Pylians from sdist needs Cython 0.29.37 and pyFFTW;
# quantimpy is built against the installed numpy with --no-build-isolation).
set -euo pipefail
cd "$(dirname "$0")/.."
N_MAPS=${1:-1000}
SIDE=${2:-256}
VENV=bench/.venv
PY=${PYTHON:-python3.11}

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import Pk_library, quantimpy" 2>/dev/null; then
  echo "== creating $VENV (Pylians 0.12 + quantimpy 0.2.6); this takes a few minutes" >&2
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip setuptools wheel
  # Versions as in shared/fixtures/metrics/README.md section 6.
  "$VENV/bin/pip" install -q "numpy==2.4.6" "scipy==1.17.1" "cython==0.29.37" "pyfftw==0.15.1" h5py
  "$VENV/bin/pip" install -q --no-build-isolation --no-binary pylians "pylians==0.12"
  "$VENV/bin/pip" install -q --no-build-isolation "quantimpy==0.2.6"
fi

# Same maps on both sides: the Rust bench writes them as one .npy stack.
OUTDIR=target/stats_bench; mkdir -p "$OUTDIR"
MAPS=$OUTDIR/maps_${N_MAPS}_${SIDE}.npy
export RAYON_NUM_THREADS=2 OMP_NUM_THREADS=2
echo "== load before measuring: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
cargo run -q --release -p stats --example stats_bench -- --maps "$N_MAPS" --side "$SIDE" --threads 2 --write-npy "$MAPS" --json target/stats_bench/rust.json
"$VENV/bin/python" bench/stats_reference.py "$MAPS" --rust-json target/stats_bench/rust.json --threads 2 --json target/stats_bench/python.json
"$VENV/bin/python" - <<'PY'
import json
r = json.load(open("target/stats_bench/rust.json"))
p = json.load(open("target/stats_bench/python.json"))
print(f"\nper {r['side']}^2 map, {r['n_maps']} maps, 2 threads; {len(r['thresholds'])} MF thresholds, {len(r['edges'])-1} histogram bins")
print(f"{'statistic':<28}{'astrodiff [ms]':>16}{'Python [ms]':>14}{'ratio':>9}")
for key, name in [("pk_ms", "P(k) (Pk_plane)"), ("pdf_ms", "pixel PDF (np.histogram)"), ("mf_ms", "MFs (quantimpy)"), ("total_ms", "total per map")]:
    a, b = r[key], p[key]
    print(f"{name:<28}{a:>16.3f}{b:>14.3f}{b / a:>8.1f}x")
print(f"(astrodiff periodic-convention MFs, the default: {r['mf_periodic_ms']:.3f} ms/map)")
print("same numbers on map 0:", p["check"])
print("load average during Rust run:", r["loadavg"], "| during Python run:", p["loadavg"])
PY
