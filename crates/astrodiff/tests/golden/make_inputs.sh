#!/usr/bin/env bash
# Makes the golden test's fixed inputs (run once, committed; see ../golden.rs). Needs a built
# `target/release/astrodiff`. The outputs the test compares against are written by the test itself:
#   ASTRODIFF_GOLDEN_BLESS=1 cargo test -p astrodiff --test golden
# which is to be done only with the code whose outputs are the reference (recorded in README.md
# beside the files).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${ASTRODIFF_BIN:-$here/../../../../target/release/astrodiff}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sim() { "$bin" simulate --n-sims "$1" --particles 32 --mesh 64 --map-res 32 --slabs 2 --steps 10 \
    --seed "$2" --out "$tmp/sim$2" --name Golden >/dev/null; }
sim 4 1
sim 3 2
py="${ASTRODIFF_TORCH_VENV:-$HOME/.cache/astrodiff/torch-2.11.0}/bin/python"
"$py" - "$tmp" "$here/inputs" <<'PY'
import sys, numpy as np, os
tmp, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
a = np.load(f"{tmp}/sim1/Maps_Mcdm_Golden_LH_z=0.00.npy").astype(np.float32)
b = np.load(f"{tmp}/sim2/Maps_Mcdm_Golden_LH_z=0.00.npy").astype(np.float32)
np.save(f"{out}/real.npy", a)        # 4 simulations x 6 maps of 32^2 (>= 2 per baseline half)
np.save(f"{out}/generated.npy", b)   # 3 other simulations x 6 maps (>= 16 fields: a verdict)
np.save(f"{out}/noisy.npy", (a[:2, :16, :16] * (1 + 0.05 * np.random.default_rng(0).standard_normal((2, 16, 16)))).astype(np.float32))
PY
# A tiny network trained for 3 steps on 16^2 patches of the real maps: the checkpoint the
# sample and denoise references are drawn from (written with the code of the recorded commit).
"$bin" data prepare --input "$here/inputs/real.npy" --resolution 16 --patch 16 --periodic true \
    --split 0-15,16-19,20-23 --split-by unit --transform log10 --out "$tmp/prep" >/dev/null
cat > "$tmp/tiny.toml" <<'TOML'
[unet]
base_channels = 8
channel_mults = [1, 2]
attention = ["none", "none"]
mid_attention = "none"
heads = 1
head_dim = 8
groups = 4
circular = false
[diffusion.schedule]
kind = "linear"
timesteps = 100
beta_start = 1e-4
beta_end = 2e-2
[train]
batch_size = 4
warmup_steps = 0
ema_start = 0
TOML
"$bin" train --preset cpu-small --config "$tmp/tiny.toml" --data "$tmp/prep" --out "$tmp/run" \
    --steps 3 --seed 0 --threads 1 >/dev/null
rm -rf "$here/inputs/run"
mkdir -p "$here/inputs/run"
ls "$tmp/run"
for f in "$tmp/run"/*; do
    case "$(basename "$f")" in
        *.safetensors|*.json|*.toml) cp "$f" "$here/inputs/run/" ;;
    esac
done
ls -la "$here/inputs" "$here/inputs/run"
