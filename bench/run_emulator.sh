#!/usr/bin/env bash
# A conditional emulator trained on the built-in simulator on this machine, judged per cosmology
# (evaluate-emulator, with its response against a 1P set and the HTML report) and as an inference
# engine (infer-eval, beside the Gaussian P(k) likelihood; then the same with the bound truncated to
# its first 20 timesteps, and one slice-sampled posterior); docs/emulator.md ("A trained
# measurement") records what it printed.
#
# usage: bench/run_emulator.sh [N_SIMS=100] [TRAIN_MINUTES=10] [K=5] [GRID=9] [STRIDE=20] [MAX_TEST_SIMS=20] [DRAWS=1]
#   N_SIMS simulations of 25 Mpc/h at 32² (the demo's simulator settings, 15 maps each, seed 21),
#   the last fifth held out; cpu-small on the paper's schedule (as the demo), conditioned on
#   Om,sigma8; K maps per simulation per posterior; DRAWS noise draws of the bound (with 2 or
#   more, infer-eval adds each posterior's Monte Carlo error to its width).
#   EXTRAS=0 skips the truncated bound and the slice sampler.
# output: runs/emulator/emulator/ (report.html, emulator.json), runs/emulator/{emulator,infer_eval,
#   infer_eval_t20,infer_mcmc}.txt with their JSON, and load.txt (load average and seconds per stage).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
n="${1:-100}"; minutes="${2:-10}"; k="${3:-5}"; grid="${4:-9}"; stride="${5:-20}"; max_test="${6:-20}"; draws="${7:-1}"
cargo build --release -q -p astrodiff
bin=target/release/astrodiff; out=runs/emulator
mkdir -p "$out"
echo "load before: $(uptime)" | tee "$out/load.txt"
held=$(( n / 5 )); last_train=$(( n - held - 1 ))
if [ ! -f "$out/sim/params_LH_Sim.txt" ]; then
    "$bin" simulate --n-sims "$n" --seed 21 --particles 32 --mesh 64 --map-res 32 --slabs 5 --steps 20 --out "$out/sim"
fi
if [ ! -f "$out/data/dataset.json" ]; then
    "$bin" data prepare --input "$out/sim" --resolution 32 --norm standard \
        --split "0-$last_train,,$(( last_train + 1 ))-$(( n - 1 ))" --out "$out/data"
fi
printf '[diffusion.schedule]\nkind = "linear"\ntimesteps = 2000\nbeta_start = 1e-4\nbeta_end = 2e-2\n' > "$out/schedule.toml"
t0=$(date +%s)
"$bin" train --data "$out/data" --out "$out/run" --config "$out/schedule.toml" --minutes "$minutes" \
    --condition Om,sigma8 --seed 0 --device cpu
echo "train: $(( $(date +%s) - t0 )) s; load $(uptime)" | tee -a "$out/load.txt"
# The one-parameter-at-a-time set with the same simulator settings, for the response.
if [ ! -f "$out/data1p/dataset.json" ]; then
    "$bin" simulate --set 1P --seed 22 --particles 32 --mesh 64 --map-res 32 --slabs 5 --steps 20 --out "$out/sim1p"
    "$bin" data prepare --input "$out/sim1p" --resolution 32 --norm standard --split "0-21,," --out "$out/data1p"
fi
t0=$(date +%s)
"$bin" evaluate-emulator --checkpoint "$out/run" --data "$out/data" --n-per-sim 15 --max-sims "$max_test" \
    --response-data "$out/data1p" --device cpu --out "$out/emulator" | tee "$out/emulator.txt"
echo "evaluate-emulator: $(( $(date +%s) - t0 )) s; load $(uptime)" | tee -a "$out/load.txt"
t0=$(date +%s)
"$bin" infer-eval --checkpoint "$out/run" --data "$out/data" --fields-per-estimate "$k" --grid "$grid" \
    --stride "$stride" --draws "$draws" --max-sims "$max_test" --device cpu --json "$out/infer_eval.json" | tee "$out/infer_eval.txt"
echo "infer-eval: $(( $(date +%s) - t0 )) s; load $(uptime)" | tee -a "$out/load.txt"
[ "${EXTRAS:-1}" = 0 ] && exit 0
t0=$(date +%s)
"$bin" infer-eval --checkpoint "$out/run" --data "$out/data" --fields-per-estimate "$k" --grid "$grid" \
    --stride 1 --t-max 20 --draws "$draws" --max-sims "$max_test" --device cpu \
    --json "$out/infer_eval_t20.json" | tee "$out/infer_eval_t20.txt"
echo "infer-eval --t-max 20: $(( $(date +%s) - t0 )) s; load $(uptime)" | tee -a "$out/load.txt"
# The first K maps of the first held-out simulation (physical units, as a user would pass them),
# slice-sampled beside the grid.
"$ASTRODIFF_TORCH_VENV/bin/python" -c 'import sys, numpy as np
maps = np.load(sys.argv[1], mmap_mode="r"); s, k = int(sys.argv[2]), int(sys.argv[3])
np.save(sys.argv[4], np.asarray(maps[15 * s:15 * s + k], dtype=np.float32))' \
    "$out/sim/Maps_Mcdm_Sim_LH_z=0.00.npy" "$(( last_train + 1 ))" "$k" "$out/map_test0.npy"
t0=$(date +%s)
"$bin" infer --checkpoint "$out/run" --input "$out/map_test0.npy" --fields-per-estimate "$k" --grid "$grid" \
    --stride "$stride" --draws "$draws" --mcmc 100 --burn-in 20 --device cpu \
    --json "$out/infer_mcmc.json" | tee "$out/infer_mcmc.txt"
echo "infer --mcmc 100: $(( $(date +%s) - t0 )) s; load after: $(uptime)" | tee -a "$out/load.txt"
