#!/usr/bin/env bash
# Side-by-side U-Net benchmark: the PyTorch twin (bench/unet_pytorch.py, run with the pinned
# torch 2.11.0 of scripts/env.sh) and the tch implementation, same networks, same threads.
# usage: bench/run_unet_bench.sh [THREADS=2] [REPS=3]   
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
threads="${1:-2}"; reps="${2:-3}"
mkdir -p bench/out
echo "PyTorch twin (threads $threads) ..." >&2
OMP_NUM_THREADS="$threads" "$ASTRODIFF_TORCH_VENV/bin/python" bench/unet_pytorch.py \
    --threads "$threads" --reps "$reps" > bench/out/unet_pytorch.json
cat bench/out/unet_pytorch.json >&2
cargo build --release -q -p diffusion --example unet_bench
OMP_NUM_THREADS="$threads" target/release/examples/unet_bench \
    --threads "$threads" --reps "$reps" --pytorch bench/out/unet_pytorch.json | tee bench/out/unet_bench.md
