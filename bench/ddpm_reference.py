"""The PyTorch reference of the training benchmark (bench/run_train_bench.sh, variant `pytorch`).

What a cosmologist would otherwise pick from PyPI: denoising-diffusion-pytorch 2.3.4 (lucidrains),
with its own defaults adapted to one channel -- `Unet(dim=32, dim_mults=(1, 2, 2), channels=1)`
(its smallest documented width; 1.4 M parameters against cpu-small's), `GaussianDiffusion` as it
comes (v-prediction, sigmoid schedule, T = 1000, data scaled to [0, 1] and auto-normalised to
[-1, 1]), and its `Trainer`'s optimisation (Adam lr 1e-4, betas (0.9, 0.99), batch 16, gradient
norm clipped at 1, random horizontal flips, EMA 0.995 updated every 10 steps). The loop is the
Trainer's, written out because the Trainer wants a folder of PNG images and computes FID.

It trains on the same prepared dataset as the demo's variants (the log10 maps of its training
split, min-max scaled to [0, 1] by the training split), for a cumulative wall-clock budget, resuming
from its state file between budgets exactly as the demo's runs do, on the threads the caller gives
(OMP_NUM_THREADS). It then samples with its DDIM sampler (eta = 0) at the same number of network
evaluations as the demo's fast sampler and writes the fields in physical units (10^log10), which
`astrodiff evaluate` judges by the demo's rule. The training maps in physical units are written too,
so that the Gaussian null is fitted to the same maps as the demo's.

usage: ddpm_reference.py --data DATASET_DIR --state STATE.pt --minutes M --out DIR
       [--n 240] [--steps 100] [--seed 0]
"""

import argparse
import json
import os
import time

import numpy as np
import torch
from denoising_diffusion_pytorch import GaussianDiffusion, Unet
from ema_pytorch import EMA


def log10_maps(data_dir, split):
    """A split of the prepared dataset, un-normalised back to log10 of the density."""
    meta = json.load(open(os.path.join(data_dir, "dataset.json")))
    x = np.load(os.path.join(data_dir, f"{split}.npy")).astype(np.float64)
    norm, tr = meta["normalization"], meta["transform"]
    # fields::Normalization and PointTransform, serde-tagged by "kind".
    if norm["kind"] == "standard":
        x = x * norm["std"] + norm["mean"]
    elif norm["kind"] == "min_max":
        x = (x + 1.0) / 2.0 * (norm["max"] - norm["min"]) + norm["min"]
    else:
        raise SystemExit(f"{data_dir}/dataset.json: unknown normalization {norm}")
    if tr["kind"] != "log10":
        raise SystemExit(f"{data_dir}/dataset.json: transform {tr} is not log10")
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--minutes", type=float, required=True, help="cumulative training wall time")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=240)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    os.makedirs(a.out, exist_ok=True)

    train = log10_maps(a.data, "train")
    lo, hi = train.min(), train.max()
    side = train.shape[-1]
    np.save(os.path.join(a.out, "train_phys.npy"), (10.0 ** train).astype(np.float32))
    data = torch.from_numpy(((train - lo) / (hi - lo)).astype(np.float32)).unsqueeze(1)

    torch.manual_seed(a.seed)
    model = Unet(dim=32, dim_mults=(1, 2, 2), channels=1)
    diffusion = GaussianDiffusion(model, image_size=side, sampling_timesteps=a.steps)
    opt = torch.optim.Adam(diffusion.parameters(), lr=1e-4, betas=(0.9, 0.99))
    ema = EMA(diffusion, beta=0.995, update_every=10)
    rng = np.random.default_rng(a.seed)
    step, trained = 0, 0.0
    if os.path.exists(a.state):
        s = torch.load(a.state, weights_only=False)
        diffusion.load_state_dict(s["model"])
        opt.load_state_dict(s["opt"])
        ema.load_state_dict(s["ema"])
        step, trained = s["step"], s["trained_s"]
        rng.bit_generator.state = s["numpy_rng"]
        torch.set_rng_state(s["torch_rng"])

    budget = a.minutes * 60.0
    t0 = time.perf_counter()
    diffusion.train()
    while trained + (time.perf_counter() - t0) < budget:
        idx = rng.integers(0, len(data), 16)
        x = data[idx]
        flip = torch.from_numpy(rng.random(16) < 0.5)
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        loss = diffusion(x)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(diffusion.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        ema.update()
        step += 1
    trained += time.perf_counter() - t0
    tmp = a.state + ".tmp"
    torch.save({"model": diffusion.state_dict(), "opt": opt.state_dict(), "ema": ema.state_dict(),
                "step": step, "trained_s": trained, "numpy_rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state()}, tmp)
    os.replace(tmp, a.state)

    # Sampling has its own seed, so every budget draws its fields from the same noise.
    torch.manual_seed(a.seed + 1)
    t1 = time.perf_counter()
    ema.ema_model.eval()
    fields = []
    with torch.inference_mode():
        for b in range(0, a.n, 60):
            fields.append(ema.ema_model.sample(batch_size=min(60, a.n - b))[:, 0].double().numpy())
    sampled = time.perf_counter() - t1
    x = np.concatenate(fields) * (hi - lo) + lo
    tmp = os.path.join(a.out, "samples.tmp.npy")
    np.save(tmp, (10.0 ** x).astype(np.float32))
    os.replace(tmp, os.path.join(a.out, "samples.npy"))
    n_params = sum(p.numel() for p in model.parameters())
    rec = {"reference": "denoising-diffusion-pytorch 2.3.4", "torch": torch.__version__,
           "threads": torch.get_num_threads(), "parameters": n_params, "steps": step,
           "train_minutes": trained / 60.0, "steps_per_s": step / trained,
           "sampler": f"ddim eta=0, {a.steps} steps", "fields": a.n, "sampling_s": sampled,
           "seed": a.seed, "train_maps": len(train)}
    json.dump(rec, open(os.path.join(a.out, "reference.json"), "w"), indent=1)
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
