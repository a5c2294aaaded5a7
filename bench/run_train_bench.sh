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
#   with optional demo flags in <name>.args; `pytorch` is the PyPI reference
#   (bench/ddpm_reference.py) on the data of the variant listed before it
# output: bench/out/train/<variant>_<budget>/ (copies of each summary.json) and
#         bench/out/train/table.md; record `uptime` beside the numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
budgets="${1:-2 4 8}"; variants="${2:-baseline prior}"; threads="${3:-2}"
cargo build --release -q -p astrodiff
out=bench/out/train; mkdir -p "$out" runs

# The reference a user would otherwise pick (variant `pytorch`, bench/ddpm_reference.py):
# denoising-diffusion-pytorch from PyPI on the first variant's prepared data, the same training
# budgets and threads, judged by `astrodiff evaluate` with the demo's options (maps per
# simulation, training-set term, baseline seed = --seed 0, null fitted to the training maps with
# seed + 3, as crates/astrodiff/src/cmd/demo.rs sets them).
pytorch_reference() {
    [ -n "$first" ] || { echo "the pytorch reference reuses a variant's data: list it after one" >&2; exit 2; }
    local site=bench/.ref-site py data run
    py="$(command -v python)"   # the torch==2.11.0 environment of scripts/env.sh
    if [ ! -f "$site/.complete" ]; then
        # --no-deps into a folder of its own: its dependencies would otherwise replace the pinned torch.
        rm -rf "$site"
        "$py" -m pip install --quiet --target "$site" --no-deps denoising-diffusion-pytorch==2.3.4 \
            torchvision==0.26.0 einops==0.8.2 ema-pytorch==0.8.3 accelerate==1.15.0 pytorch-fid==0.3.0 \
            scipy==1.17.1 tqdm==4.70.1 huggingface_hub==2.4.0 psutil==7.2.2 pyyaml==6.0.4 \
            safetensors==0.8.0 typing_extensions==4.16.0
        touch "$site/.complete"
    fi
    data="runs/bench_$first"; run=runs/bench_pytorch
    rm -rf "$run"; mkdir -p "$run"
    for b in $budgets; do
        echo "== pytorch, training budget $b min" >&2
        OMP_NUM_THREADS="$threads" PYTHONPATH="$site" "$py" bench/ddpm_reference.py --data "$data/data" \
            --state "$run/state.pt" --minutes "$b" --steps 100 --seed 0 --out "$run/b$b" > "$out/pytorch_$b.log" 2>&1
        local n_train
        n_train=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["train_maps"])' "$run/b$b/reference.json")
        OMP_NUM_THREADS="$threads" target/release/astrodiff evaluate "$data/heldout.npy" "$run/b$b/samples.npy" \
            --box-size 25 --transform log10 --maps-per-sim 15 --train-maps "$n_train" --baseline-seed 0 \
            --null-from "$run/b$b/train_phys.npy" --null-seed 3 --label-real held-out \
            --label-generated "denoising-diffusion-pytorch" --out "$run/eval_$b" >> "$out/pytorch_$b.log" 2>&1
        mkdir -p "$out/pytorch_$b"
        cp "$run/eval_$b/summary.json" "$out/pytorch_$b/summary.json"
        "$py" -c 'import json, sys; r = json.load(open(sys.argv[1])); json.dump({"reference": r, "training": {"steps": r["steps"], "wall_s": 60 * r["train_minutes"]}}, open(sys.argv[2], "w"), indent=1)' \
            "$run/b$b/reference.json" "$out/pytorch_$b/run.json"
        "$py" -c 'import json, sys; e = json.load(open(sys.argv[1])); json.dump((e.get("gaussian_null") or {}).get("summary"), open(sys.argv[2], "w"))' \
            "$run/eval_$b/evaluation.json" "$out/pytorch_$b/null_summary.json"
    done
}
echo "load before: $(uptime)" | tee "$out/load.txt"
first=""
for v in $variants; do
    if [ "$v" = pytorch ]; then
        pytorch_reference
        continue
    fi
    first="${first:-$v}"
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
