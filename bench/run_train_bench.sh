#!/usr/bin/env bash
# Training-efficiency benchmark: quality of the demo's model per minute of CPU training, per
# variant, judged by the demo's verdict (240 fields of its fast sampler against 240 held-out maps of
# 16 simulations, Gaussian null beside them).
#
# Every variant trains on the same prepared data (the demo's: 48 simulations, 32 for training,
# 32², seed 0) in one run folder, resumed from budget to budget (resuming is exact and the
# learning rate is constant after warm-up, so the state at budget B is the state a B-minute
# run reaches); at each budget it samples and evaluates. The table compares variants at equal
# training wall time on this machine, as ratios to the baseline.
#
# usage: bench/run_train_bench.sh [BUDGETS="2 4 8"] [VARIANTS="baseline prior"] [THREADS=2]
#   variants are bench/train_variants/<name>.toml (merged over the demo's schedule override),
#   with optional demo flags in <name>.args
# output: bench/out/train/<variant>_<budget>/ (copies of each summary.json) and
#         bench/out/train/table.md; record `uptime` beside the numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
budgets="${1:-2 4 8}"; variants="${2:-baseline prior}"; threads="${3:-2}"
cargo build --release -q -p astrodiff
out=bench/out/train; mkdir -p "$out" runs
echo "load before: $(uptime)" | tee "$out/load.txt"
for v in $variants; do
    cfg="bench/train_variants/$v.toml"
    [ -f "$cfg" ] || { echo "no variant file $cfg" >&2; exit 2; }
    # Optional demo flags of a variant (e.g. --norm standard), one line in <name>.args.
    extra=""; [ -f "bench/train_variants/$v.args" ] && extra=$(cat "bench/train_variants/$v.args")
    # A fresh folder: a checkpoint left by an earlier bench would be resumed past the budgets.
    rm -rf "runs/bench_$v"
    for b in $budgets; do
        # The demo's --minutes is the total; its training budget is that minus the measured
        # reserve for sampling and evaluation (≈ 2 minutes at 32² with the 100-step fast sampler:
        # 2.7 + 1.0 gave 1.55 training minutes on 2026-12-02; "train min" in the table is what it got).
        total=$(awk -v b="$b" 'BEGIN { printf "%.2f", b + 2.0 }')
        echo "== $v, training budget ~$b min (demo --minutes $total)" >&2
        OMP_NUM_THREADS="$threads" target/release/astrodiff demo --name "bench_$v" $extra \
            --minutes "$total" --max-ddpm 0 --config "$cfg" --seed 0 > "$out/${v}_${b}.log" 2>&1
        mkdir -p "$out/${v}_${b}"
        # The fast sampler's evaluation folder, as run.json records it.
        ev=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["samples"][0]["evaluation"])' "runs/bench_$v/run.json")
        cp "runs/bench_$v/$ev/summary.json" "$out/${v}_${b}/summary.json"
        cp "runs/bench_$v/run.json" "$out/${v}_${b}/run.json"
        python3 -c 'import json, sys; e = json.load(open(sys.argv[1])); json.dump((e.get("gaussian_null") or {}).get("summary"), open(sys.argv[2], "w"))' \
            "runs/bench_$v/$ev/evaluation.json" "$out/${v}_${b}/null_summary.json"
    done
done
echo "load after: $(uptime)" | tee -a "$out/load.txt"
python3 bench/train_table.py "$out" $variants -- $budgets | tee "$out/table.md"
