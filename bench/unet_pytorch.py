"""PyTorch twin of crates/diffusion/src/unet.rs, for the side-by-side benchmark.

Same layers, shapes, circular padding, init and training step (Huber/MSE on eps, AdamW,
gradient clipping, EMA) as the tch implementation, so the timings compare frameworks, not
networks. Prints a JSON object {torch, threads, sgemm_gflops, <net>: {params, train_s,
sample_s, update_s}} on stdout; update_s is the step's parameter update alone (gradient clipping,
AdamW, EMA), to show where the time of a training step goes.

usage: python bench/unet_pytorch.py [--threads 2] [--reps 3] [--batch 16] [--size 64]
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    # base, mults, res_blocks, attention per level, mid attention, heads, head_dim, groups, loss, T, clip
    "paper-64": dict(base=64, mults=(1, 2, 4, 8), res=2, attn=("linear",) * 4, mid="full", heads=4,
                     head_dim=32, groups=8, loss="huber", T=2000, clip=0.0, lr=5e-4),
    "paper-128": dict(base=128, mults=(1, 2, 4, 8), res=2, attn=("linear",) * 4, mid="full", heads=4,
                      head_dim=32, groups=8, loss="huber", T=2000, clip=0.0, lr=2e-4),
    "cpu-small": dict(base=32, mults=(1, 2, 2), res=1, attn=("none", "none", "linear"), mid="full", heads=2,
                      head_dim=32, groups=8, loss="mse", T=1000, clip=1.0, lr=1e-3),
}


class Conv(nn.Module):
    """Conv2d; with circular=True the input is wrapped by `pad` and convolved unpadded."""

    def __init__(self, cin, cout, k, stride=1, pad=0, bias=True, circular=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, 0 if circular else pad, bias=bias)
        self.pad, self.circular = pad, circular

    def forward(self, x):
        if self.circular and self.pad > 0:
            x = F.pad(x, (self.pad,) * 4, mode="circular")
        return self.conv(x)


class Up(nn.Module):
    """ConvTranspose2d(4, 2, 1); circular: wrap 1 pixel, transpose-convolve unpadded, crop."""

    def __init__(self, c, circular=True):
        super().__init__()
        self.conv = nn.ConvTranspose2d(c, c, 4, 2, 0 if circular else 1)
        self.circular = circular

    def forward(self, x):
        if not self.circular:
            return self.conv(x)
        h, w = x.shape[-2:]
        y = self.conv(F.pad(x, (1, 1, 1, 1), mode="circular"))
        return y[..., 3:3 + 2 * h, 3:3 + 2 * w]


class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim, groups, circular=True):
        super().__init__()
        self.conv1, self.norm1 = Conv(cin, cout, 3, 1, 1, circular=circular), nn.GroupNorm(groups, cout)
        self.conv2, self.norm2 = Conv(cout, cout, 3, 1, 1, circular=circular), nn.GroupNorm(groups, cout)
        self.mlp = nn.Linear(tdim, cout) if tdim else None
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, t=None):
        h = F.silu(self.norm1(self.conv1(x)))
        if self.mlp is not None and t is not None:
            h = h + self.mlp(F.silu(t))[:, :, None, None]
        h = F.silu(self.norm2(self.conv2(h)))
        return h + self.skip(x)


class Attn(nn.Module):
    def __init__(self, kind, c, heads, dh):
        super().__init__()
        hidden = heads * dh
        self.kind, self.heads, self.dh = kind, heads, dh
        self.norm = nn.GroupNorm(1, c)
        self.to_qkv = nn.Conv2d(c, 3 * hidden, 1, bias=False)
        self.to_out = nn.Conv2d(hidden, c, 1)
        self.out_norm = nn.GroupNorm(1, c) if kind == "linear" else nn.Identity()

    def forward(self, x):
        b, _, h, w = x.shape
        q, k, v = self.to_qkv(self.norm(x)).chunk(3, dim=1)
        q, k, v = (z.reshape(b, self.heads, self.dh, h * w) for z in (q, k, v))
        scale = self.dh ** -0.5
        if self.kind == "linear":
            q, k = q.softmax(-2) * scale, k.softmax(-1)
            out = (k @ v.transpose(-1, -2)).transpose(-1, -2) @ q
        else:
            attn = ((q * scale).transpose(-1, -2) @ k).softmax(-1)
            out = v @ attn.transpose(-1, -2)
        return self.out_norm(self.to_out(out.reshape(b, -1, h, w))) + x


class UNet(nn.Module):
    def __init__(self, p, circular=True):
        super().__init__()
        base, mults, L = p["base"], p["mults"], len(p["mults"])
        tdim, g = 4 * base, p["groups"]
        self.base = base
        dims = [1] + [base * m for m in mults]
        self.time1, self.time2 = nn.Linear(base, tdim), nn.Linear(tdim, tdim)
        mk_attn = lambda kind, c: Attn(kind, c, p["heads"], p["head_dim"]) if kind != "none" else None
        self.downs = nn.ModuleList()
        for i in range(L):
            blocks = nn.ModuleList([ResBlock(dims[i] if j == 0 else dims[i + 1], dims[i + 1], tdim, g, circular)
                                    for j in range(p["res"])])
            down = Conv(dims[i + 1], dims[i + 1], 4, 2, 1, circular=circular) if i + 1 < L else None
            self.downs.append(nn.ModuleList([blocks, mk_attn(p["attn"][i], dims[i + 1]) or nn.Identity(),
                                             down or nn.Identity()]))
        mid = dims[L]
        self.mid1, self.mid2 = ResBlock(mid, mid, tdim, g, circular), ResBlock(mid, mid, tdim, g, circular)
        self.mid_attn = mk_attn(p["mid"], mid) or nn.Identity()
        self.ups = nn.ModuleList()
        for i in range(L - 1, 0, -1):
            blocks = nn.ModuleList([ResBlock(2 * dims[i + 1] if j == 0 else dims[i], dims[i], tdim, g, circular)
                                    for j in range(p["res"])])
            self.ups.append(nn.ModuleList([blocks, mk_attn(p["attn"][i - 1], dims[i]) or nn.Identity(),
                                           Up(dims[i], circular)]))
        self.final_block = ResBlock(base, base, None, g, circular)
        self.final_conv = nn.Conv2d(base, 1, 1)

    def temb(self, t):
        half = self.base // 2
        freqs = torch.exp(torch.arange(half, device=t.device) * -(math.log(10000) / (half - 1)))
        a = t.float()[:, None] * freqs[None]
        return self.time2(F.gelu(self.time1(torch.cat([a.sin(), a.cos()], -1))))

    def forward(self, x, t):
        te = self.temb(t)
        skips = []
        for blocks, attn, down in self.downs:
            for blk in blocks:
                x = blk(x, te)
            x = attn(x)
            skips.append(x)
            x = down(x)
        x = self.mid2(self.mid_attn(self.mid1(x, te)), te)
        for blocks, attn, up in self.ups:
            x = torch.cat([x, skips.pop()], 1)
            for blk in blocks:
                x = blk(x, te)
            x = up(attn(x))
        return self.final_conv(self.final_block(x))


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def best_time(reps, f):
    f()
    sync()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        f()
        sync()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--nets", default="paper-64,cpu-small")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    n = 2048 if a.device == "cpu" else 8192
    A, B = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(),
           "sgemm_gflops": 2 * n ** 3 / min(best_time(1, lambda: A @ B) for _ in range(5)) / 1e9}
    for name in a.nets.split(","):
        p = PRESETS[name]
        net = UNet(p).to(dev)
        ema = UNet(p).to(dev)
        ema.load_state_dict(net.state_dict())
        params = sum(q.numel() for q in net.parameters())
        opt = torch.optim.AdamW(net.parameters(), lr=p["lr"], weight_decay=0.0)
        x = torch.randn(a.batch, 1, a.size, a.size, device=dev)
        t = torch.randint(0, p["T"], (a.batch,), device=dev)
        abar = torch.cumprod(1 - torch.linspace(1e-4, 2e-2, p["T"], dtype=torch.float64), 0).float().to(dev)

        def sample_step():
            with torch.no_grad():
                net(x, t)

        def train_step():
            eps = torch.randn_like(x)
            tt = torch.randint(0, p["T"], (a.batch,), device=dev)
            ab = abar[tt][:, None, None, None]
            xt = ab.sqrt() * x + (1 - ab).sqrt() * eps
            out_ = net(xt, tt)
            loss = F.smooth_l1_loss(out_, eps) if p["loss"] == "huber" else F.mse_loss(out_, eps)
            opt.zero_grad(set_to_none=False)
            loss.backward()
            return update()

        def update():
            gn = torch.nn.utils.clip_grad_norm_(net.parameters(), p["clip"] if p["clip"] > 0 else float("inf"))
            opt.step()
            with torch.no_grad():
                for e, w in zip(ema.parameters(), net.parameters()):
                    e.mul_(0.999).add_(w, alpha=0.001)
            return gn

        out[name] = {"params": params, "sample_s": best_time(a.reps, sample_step),
                     "train_s": best_time(a.reps, train_step), "update_s": best_time(a.reps, update)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
