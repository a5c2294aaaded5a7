#!/usr/bin/env bash
# Side-by-side U-Net benchmark: the PyTorch twin (bench/unet_pytorch.py, run with the pinned
# torch 2.11.0 of scripts/env.sh) and the tch implementation, same networks, same threads.
# The frameworks alternate, PASSES times each (PyTorch, tch, PyTorch, tch, ...), and the table
# takes each framework's best over its passes: on this 2-core machine a process's timings drift
# by ±10 % from the next one's, more than the difference being measured.
# usage: bench/run_unet_bench.sh [THREADS=2] [REPS=3] [PASSES=2]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
threads="${1:-2}"; reps="${2:-3}"; passes="${3:-2}"
mkdir -p bench/out
cargo build --release -q -p diffusion --example unet_bench
py_list=""; tch_list=""
for pass in $(seq 1 "$passes"); do
    echo "pass $pass/$passes: PyTorch twin (threads $threads) ..." >&2
    OMP_NUM_THREADS="$threads" "$ASTRODIFF_TORCH_VENV/bin/python" bench/unet_pytorch.py \
        --threads "$threads" --reps "$reps" > "bench/out/unet_pytorch_$pass.json"
    cat "bench/out/unet_pytorch_$pass.json" >&2
    py_list="${py_list:+$py_list,}bench/out/unet_pytorch_$pass.json"
    echo "pass $pass/$passes: tch ..." >&2
    if [ "$pass" -lt "$passes" ]; then
        OMP_NUM_THREADS="$threads" target/release/examples/unet_bench --threads "$threads" \
            --reps "$reps" --json-out "bench/out/unet_tch_$pass.json" > /dev/null
        tch_list="${tch_list:+$tch_list,}bench/out/unet_tch_$pass.json"
    else
        OMP_NUM_THREADS="$threads" target/release/examples/unet_bench --threads "$threads" \
            --reps "$reps" --pytorch "$py_list" --previous "$tch_list" \
            --json-out "bench/out/unet_tch_$pass.json" | tee bench/out/unet_bench.md
    fi
done
