#!/usr/bin/env bash
# Calibration of the verdict on real maps: for each seed, the demo's suite (48 simulations at 32²,
# the demo's simulator settings), its 480 training maps (first 32 simulations) judged as if they
# were a model's samples against the 240 held-out maps (last 16), with the Gaussian null fitted to
# the training maps beside them. A perfect model of the training set should pass every line; the
# null must fail. Each seed is judged by the old rule (one contiguous split, no training-set
# term: `--baseline-splits 1 --train-maps 0`) and by the default (mean of 32 splits, deff/480).
#
# With N_GEN < 480 the judged set is N_GEN training maps drawn at random (seeded by the seed), so
# the check has the size of the demo's 240 generated fields: a model as close to its training
# maps as they are to themselves, with the training-set term still deff/480.
#
# usage: bench/run_verdict_check.sh [SEEDS="0 5"] [N_GEN=480]
# output: bench/out/verdict[_<N_GEN>]/<seed>/{old,new}/summary.json and a table on stdout; needs no model.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh >/dev/null
seeds="${1:-0 5}"; n_gen="${2:-480}"
cargo build --release -q -p astrodiff
bin=target/release/astrodiff
out=bench/out/verdict; [ "$n_gen" = 480 ] || out="bench/out/verdict_$n_gen"; mkdir -p "$out"
echo "load before: $(uptime)" >&2
py="${ASTRODIFF_TORCH_VENV:-$HOME/.cache/astrodiff/torch-2.11.0}/bin/python"
for s in $seeds; do
    d="$out/$s"; mkdir -p "$d"
    # The demo's simulate stage (resumable: existing boxes are reused).
    "$bin" simulate --n-sims 48 --particles 32 --mesh 64 --map-res 32 --steps 20 --slabs 5 \
        --seed "$s" --name Demo --out "$d/sim" >/dev/null 2>&1
    # The demo's split and floor: empty pixels clamped to the stack's smallest positive value.
    "$py" - "$d" "$s" "$n_gen" <<'PY'
import sys, numpy as np
d, seed, n_gen = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
m = np.load(f"{d}/sim/Maps_Mcdm_Demo_LH_z=0.00.npy").astype(np.float64)
m[m <= 0] = m[m > 0].min()
np.save(f"{d}/train.npy", m[:480]); np.save(f"{d}/heldout.npy", m[480:720])
pick = np.sort(np.random.default_rng(seed).choice(480, n_gen, replace=False))
np.save(f"{d}/judged.npy", m[:480][pick])
PY
    for rule in old new; do
        if [ "$rule" = old ]; then flags="--baseline-splits 1 --train-maps 0"
        else flags="--train-maps 480 --baseline-seed $s"; fi
        "$bin" evaluate "$d/heldout.npy" "$d/judged.npy" --box-size 25 --transform log10 --maps-per-sim 15 \
            --null-from "$d/train.npy" --null-seed "$s" $flags --out "$d/$rule" >/dev/null 2>&1
    done
done
"$py" - "$out" $seeds <<'PY'
import json, sys
out, seeds = sys.argv[1], sys.argv[2:]
def lines(path):
    e = json.load(open(path))
    res = {}
    for who, s in (("train", e["summary"]), ("null", e["gaussian_null"]["summary"])):
        ms = [(r["statistic"], m) for r in s["rows"] for m in r["metrics"]]
        res[who] = (sum(m["pass"] is True for _, m in ms), len(ms),
                    [f'{st} {m["name"]} {m["value"]:.3g}>{m["threshold"]:.3g}' for st, m in ms if m["pass"] is False])
    return res
print("| seed | rule | training maps: lines passed | failing | Gaussian null: lines passed |")
print("|---|---|---|---|---|")
for s in seeds:
    for rule in ("old", "new"):
        r = lines(f"{out}/{s}/{rule}/evaluation.json")
        t, n = r["train"], r["null"]
        print(f"| {s} | {rule} | {t[0]}/{t[1]} | {'; '.join(t[2]) or '—'} | {n[0]}/{n[1]} |")
PY
echo "load after: $(uptime)" >&2
