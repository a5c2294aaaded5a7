//! The denoising U-Net of Mudur & Finkbeiner (2022) (the "annotated diffusion" /
//! lucidrains `denoising-diffusion-pytorch` U-Net), generalised by a [`Config`].
//!
//! Layout for `channel_mults = (1, 2, 4, 8)`, `res_blocks = 2`, no init conv (the paper's):
//! - down level `i` (resolution N/2^i, channels `c_i = base·mult_i`): `res_blocks` residual
//!   blocks (the first maps `c_{i−1} → c_i`, `c_{−1}` = input channels), attention (linear in the
//!   paper), keep the output as a skip, then a 4×4 stride-2 convolution except at the last level;
//! - bottleneck: residual block, full softmax attention, residual block;
//! - up stage for level `i = L−1 … 1`: concatenate the skip of level `i`, residual blocks
//!   `2c_i → c_{i−1}`, attention, 4×4 stride-2 transposed convolution. (As in the seed code the
//!   skip of level 0 is never used and the full-resolution stage is the final block.)
//! - final: residual block `c_0 → c_0` without time input, 1×1 convolution to the output.
//!
//! Residual block: conv3×3 → GroupNorm → SiLU, add `Linear(SiLU(temb))`, (dropout),
//! conv3×3 → GroupNorm → SiLU, plus a 1×1 convolution of the input when channels change.
//! Time embedding: sinusoidal(t; dim = base) → Linear → GELU → Linear (width `time_dim`); an
//! optional conditioning vector goes through a Linear layer and is added to it.
//!
//! With `circular = true` (default) every 3×3/7×7 convolution, the downsampling and the
//! upsampling wrap around periodically, so the network commutes with rolls by multiples of
//! [`UNet::total_stride`].

use crate::error::{Error, Result};
use crate::nn::{
    add_flops, Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig, GroupNorm, Linear,
};
use serde::{Deserialize, Serialize};
use tch::{nn::Path, Kind, Tensor};

/// Kind of self-attention applied at a level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Attention {
    None,
    /// Linear attention (softmax over features for q, over positions for k); O(N²) cost.
    Linear,
    /// Full softmax attention over all positions; O(N⁴) cost, used in the bottleneck.
    Full,
}

/// Architecture of the U-Net. Serialised (TOML/JSON) as part of a run's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Channels of the field (1 for a scalar map).
    pub in_channels: i64,
    pub out_channels: i64,
    /// Channels at full resolution; the paper uses the image size (64 or 128).
    pub base_channels: i64,
    /// Channel multiplier per level; the number of levels sets the total stride 2^(L−1).
    pub channel_mults: Vec<i64>,
    /// Residual blocks per level (and per up stage).
    pub res_blocks: usize,
    /// A 7×7 input convolution to `2/3·base` channels before the first level (the paper: off).
    pub init_conv: bool,
    /// Attention after the residual blocks of each level (same length as `channel_mults`).
    pub attention: Vec<Attention>,
    /// Attention between the two bottleneck residual blocks.
    pub mid_attention: Attention,
    pub heads: i64,
    pub head_dim: i64,
    /// GroupNorm groups in the residual blocks (must divide every channel count).
    pub groups: i64,
    /// Dropout probability inside residual blocks (training only).
    pub dropout: f64,
    /// Periodic (circular) padding everywhere; the fields are periodic boxes.
    pub circular: bool,
    /// Width of the time embedding; 0 means 4·base (the paper).
    pub time_dim: i64,
    /// Length of an optional conditioning vector added to the time embedding (0 = none).
    pub cond_dim: i64,
}

impl Default for Config {
    /// The paper's 64² network.
    fn default() -> Self {
        Self {
            in_channels: 1,
            out_channels: 1,
            base_channels: 64,
            channel_mults: vec![1, 2, 4, 8],
            res_blocks: 2,
            init_conv: false,
            attention: vec![Attention::Linear; 4],
            mid_attention: Attention::Full,
            heads: 4,
            head_dim: 32,
            groups: 8,
            dropout: 0.0,
            circular: true,
            time_dim: 0,
            cond_dim: 0,
        }
    }
}

impl Config {
    /// Checks the shape constraints, naming the offending field.
    /// The factor input sizes must be divisible by: 2^(levels − 1).
    pub fn total_stride(&self) -> usize {
        1 << (self.channel_mults.len() - 1)
    }

    pub fn validate(&self) -> Result<()> {
        if self.channel_mults.is_empty() {
            return Err(Error::invalid("unet.channel_mults must not be empty"));
        }
        // Bounds that keep the derived sizes (stride 2^(levels−1), channels) far from overflow.
        if self.channel_mults.len() > 12 {
            return Err(Error::invalid(format!(
                "unet.channel_mults has {} levels; at most 12 (total stride 2048)",
                self.channel_mults.len()
            )));
        }
        if self.base_channels > 4096 || self.channel_mults.iter().any(|&m| m > 64) {
            return Err(
                "unet.base_channels must be ≤ 4096 and each channel_mults entry ≤ 64".into(),
            );
        }
        if self.attention.len() != self.channel_mults.len() {
            return Err(Error::invalid(format!(
                "unet.attention has {} entries but channel_mults has {}",
                self.attention.len(),
                self.channel_mults.len()
            )));
        }
        if self.res_blocks == 0 {
            return Err(Error::invalid("unet.res_blocks must be at least 1"));
        }
        if self.base_channels <= 0 || self.heads <= 0 || self.head_dim <= 0 || self.groups <= 0 {
            return Err(Error::invalid(
                "unet.base_channels, heads, head_dim and groups must be positive",
            ));
        }
        for &m in &self.channel_mults {
            let c = m * self.base_channels;
            if m <= 0 || c % self.groups != 0 {
                return Err(Error::invalid(format!(
                    "unet.groups = {} does not divide the channel count {c} (base {} × mult {m})",
                    self.groups, self.base_channels
                )));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::invalid(format!(
                "unet.dropout = {} is not in [0, 1)",
                self.dropout
            )));
        }
        if self.base_channels % 2 != 0 {
            return Err(Error::invalid(
                "unet.base_channels must be even (sinusoidal embedding)",
            ));
        }
        Ok(())
    }

    fn time_width(&self) -> i64 {
        if self.time_dim > 0 {
            self.time_dim
        } else {
            4 * self.base_channels
        }
    }
}

struct ResBlock {
    conv1: Conv2d,
    norm1: GroupNorm,
    conv2: Conv2d,
    norm2: GroupNorm,
    temb: Option<Linear>,
    skip: Option<Conv2d>,
    dropout: f64,
}

impl ResBlock {
    fn new(p: Path, cin: i64, cout: i64, tdim: Option<i64>, cfg: &Config) -> Self {
        let same3 = Conv2dConfig {
            padding: 1,
            circular: cfg.circular,
            ..Default::default()
        };
        let pointwise = Conv2dConfig {
            circular: cfg.circular,
            ..Default::default()
        };
        Self {
            conv1: Conv2d::new(&p / "block1" / "proj", cin, cout, 3, same3),
            norm1: GroupNorm::new(&p / "block1" / "norm", cfg.groups, cout),
            conv2: Conv2d::new(&p / "block2" / "proj", cout, cout, 3, same3),
            norm2: GroupNorm::new(&p / "block2" / "norm", cfg.groups, cout),
            temb: tdim.map(|d| Linear::new(&p / "mlp", d, cout)),
            skip: (cin != cout).then(|| Conv2d::new(&p / "res_conv", cin, cout, 1, pointwise)),
            dropout: cfg.dropout,
        }
    }

    fn forward(&self, x: &Tensor, temb: Option<&Tensor>, train: bool) -> Tensor {
        let mut h = self.norm1.forward(&self.conv1.forward(x)).silu();
        if let (Some(l), Some(t)) = (&self.temb, temb) {
            h += l.forward(&t.silu()).unsqueeze(-1).unsqueeze(-1);
        }
        if self.dropout > 0.0 {
            h = h.dropout(self.dropout, train);
        }
        let h = self.norm2.forward(&self.conv2.forward(&h)).silu();
        match &self.skip {
            Some(s) => h + s.forward(x),
            None => h + x,
        }
    }
}

/// Pre-normalised residual attention: `x + Attn(GroupNorm(1)(x))`.
struct AttnBlock {
    kind: Attention,
    norm: GroupNorm,
    to_qkv: Conv2d,
    to_out: Conv2d,
    out_norm: Option<GroupNorm>,
    heads: i64,
    head_dim: i64,
}

impl AttnBlock {
    fn new(p: Path, kind: Attention, c: i64, cfg: &Config) -> Option<Self> {
        if kind == Attention::None {
            return None;
        }
        let hidden = cfg.heads * cfg.head_dim;
        let f = &p / "fn";
        Some(Self {
            kind,
            norm: GroupNorm::new(&p / "norm", 1, c),
            to_qkv: Conv2d::new(
                &f / "to_qkv",
                c,
                3 * hidden,
                1,
                Conv2dConfig {
                    bias: false,
                    ..Default::default()
                },
            ),
            to_out: Conv2d::new(&f / "to_out", hidden, c, 1, Conv2dConfig::default()),
            out_norm: (kind == Attention::Linear).then(|| GroupNorm::new(&f / "to_out_norm", 1, c)),
            heads: cfg.heads,
            head_dim: cfg.head_dim,
        })
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let (b, _c, h, w) = x.size4().unwrap();
        let n = h * w;
        let (nh, d) = (self.heads, self.head_dim);
        let qkv = self.to_qkv.forward(&self.norm.forward(x)).chunk(3, 1);
        let [q, k, v] = [0, 1, 2].map(|i| qkv[i].reshape([b, nh, d, n]));
        let scale = (d as f64).powf(-0.5);
        let out = match self.kind {
            Attention::Linear => {
                let q = q.softmax(-2, q.kind()) * scale;
                let k = k.softmax(-1, k.kind());
                // context[d,e] = Σ_n k[d,n] v[e,n]; out[e,n] = Σ_d context[d,e] q[d,n]
                let context = k.matmul(&v.transpose(-1, -2));
                add_flops(4.0 * (b * nh * d * d * n) as f64);
                context.transpose(-1, -2).matmul(&q)
            }
            Attention::Full => {
                let q = q * scale;
                // sim[i,j] = Σ_d q[d,i] k[d,j]; out[d,i] = Σ_j attn[i,j] v[d,j]
                let sim = q.transpose(-1, -2).matmul(&k);
                let attn = sim.softmax(-1, sim.kind());
                add_flops(4.0 * (b * nh * d * n * n) as f64);
                v.matmul(&attn.transpose(-1, -2))
            }
            Attention::None => unreachable!("AttnBlock is never built for Attention::None"),
        };
        let out = self.to_out.forward(&out.reshape([b, nh * d, h, w]));
        let out = match &self.out_norm {
            Some(nrm) => nrm.forward(&out),
            None => out,
        };
        out + x
    }
}

struct Level {
    blocks: Vec<ResBlock>,
    attn: Option<AttnBlock>,
}

impl Level {
    fn forward(&self, mut x: Tensor, t: &Tensor, train: bool) -> Tensor {
        for b in &self.blocks {
            x = b.forward(&x, Some(t), train);
        }
        match &self.attn {
            Some(a) => a.forward(&x),
            None => x,
        }
    }
}

/// The U-Net. Build with [`UNet::new`] on a `VarStore` path; parameters are named like the
/// PyTorch reference (`downs.0.blocks.0.block1.proj.weight`, …).
pub struct UNet {
    cfg: Config,
    init: Option<Conv2d>,
    time1: Linear,
    time2: Linear,
    cond: Option<Linear>,
    downs: Vec<(Level, Option<Conv2d>)>,
    mid1: ResBlock,
    mid_attn: Option<AttnBlock>,
    mid2: ResBlock,
    ups: Vec<(Level, ConvTranspose2d)>,
    final_block: ResBlock,
    final_conv: Conv2d,
}

impl UNet {
    /// Creates the network's variables under `vs` (initialised like PyTorch, from torch's
    /// global generator: call `tch::manual_seed` first for a reproducible init).
    pub fn new(vs: &Path, cfg: &Config) -> Result<Self> {
        cfg.validate()?;
        let circ = cfg.circular;
        let base = cfg.base_channels;
        let tdim = cfg.time_width();
        let init_dim = if cfg.init_conv {
            base / 3 * 2
        } else {
            cfg.in_channels
        };
        let init = cfg.init_conv.then(|| {
            Conv2d::new(
                vs / "init_conv",
                cfg.in_channels,
                init_dim,
                7,
                Conv2dConfig {
                    padding: 3,
                    circular: circ,
                    ..Default::default()
                },
            )
        });
        let mut dims = vec![init_dim];
        dims.extend(cfg.channel_mults.iter().map(|m| m * base));
        let nlev = cfg.channel_mults.len();

        let mut downs = Vec::with_capacity(nlev);
        for i in 0..nlev {
            let p = vs / "downs" / i;
            let (cin, cout) = (dims[i], dims[i + 1]);
            let blocks = (0..cfg.res_blocks)
                .map(|j| {
                    let ci = if j == 0 { cin } else { cout };
                    ResBlock::new(&p / "blocks" / j, ci, cout, Some(tdim), cfg)
                })
                .collect();
            let attn = AttnBlock::new(&p / "attn", cfg.attention[i], cout, cfg);
            let halve = Conv2dConfig {
                stride: 2,
                padding: 1,
                circular: circ,
                ..Default::default()
            };
            let down = (i + 1 < nlev).then(|| Conv2d::new(&p / "down", cout, cout, 4, halve));
            downs.push((Level { blocks, attn }, down));
        }
        let mid = dims[nlev];
        let mid1 = ResBlock::new(vs / "mid_block1", mid, mid, Some(tdim), cfg);
        let mid_attn = AttnBlock::new(vs / "mid_attn", cfg.mid_attention, mid, cfg);
        let mid2 = ResBlock::new(vs / "mid_block2", mid, mid, Some(tdim), cfg);

        let mut ups = Vec::with_capacity(nlev.saturating_sub(1));
        for (u, i) in (1..nlev).rev().enumerate() {
            let p = vs / "ups" / u;
            let (cskip, cout) = (dims[i + 1], dims[i]);
            let blocks = (0..cfg.res_blocks)
                .map(|j| {
                    let ci = if j == 0 { 2 * cskip } else { cout };
                    ResBlock::new(&p / "blocks" / j, ci, cout, Some(tdim), cfg)
                })
                .collect();
            let attn = AttnBlock::new(&p / "attn", cfg.attention[i - 1], cout, cfg);
            let double = ConvTranspose2dConfig {
                stride: 2,
                padding: 1,
                circular: circ,
            };
            let up = ConvTranspose2d::new(&p / "up", cout, cout, 4, double);
            ups.push((Level { blocks, attn }, up));
        }
        let final_block = ResBlock::new(vs / "final_block", base, base, None, cfg);
        let final_conv = Conv2d::new(
            vs / "final_conv",
            base,
            cfg.out_channels,
            1,
            Conv2dConfig {
                circular: circ,
                ..Default::default()
            },
        );
        Ok(Self {
            cfg: cfg.clone(),
            init,
            time1: Linear::new(vs / "time_mlp" / "0", base, tdim),
            time2: Linear::new(vs / "time_mlp" / "2", tdim, tdim),
            cond: (cfg.cond_dim > 0).then(|| Linear::new(vs / "cond_emb", cfg.cond_dim, tdim)),
            downs,
            mid1,
            mid_attn,
            mid2,
            ups,
            final_block,
            final_conv,
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The factor input sizes must be divisible by, and the roll step the network commutes with.
    pub fn total_stride(&self) -> i64 {
        self.cfg.total_stride() as i64
    }

    /// Sinusoidal embedding of (integer or real) timesteps `t` (`[B]`) into `dim` features:
    /// `[sin(t·ω_k), cos(t·ω_k)]`, `ω_k = 10000^(−k/(dim/2 − 1))`.
    pub fn sinusoidal(t: &Tensor, dim: i64, kind: Kind) -> Tensor {
        let half = dim / 2;
        let step = (10000f64).ln() / (half - 1).max(1) as f64;
        let freqs = (Tensor::arange(half, (kind, t.device())) * -step).exp();
        let arg = t.to_kind(kind).unsqueeze(1) * freqs.unsqueeze(0);
        Tensor::cat(&[arg.sin(), arg.cos()], -1)
    }

    /// ε̂ (or v̂) for a batch `x` (`[B, C, N, N]`) at timesteps `t` (`[B]`, integer indices, any kind),
    /// with an optional conditioning vector `cond` [B, cond_dim]. `train` enables dropout.
    pub fn forward(&self, x: &Tensor, t: &Tensor, cond: Option<&Tensor>, train: bool) -> Tensor {
        let kind = self.time1.weight.kind();
        let emb = Self::sinusoidal(t, self.cfg.base_channels, kind);
        let mut temb = self.time2.forward(&self.time1.forward(&emb).gelu("none"));
        if let (Some(l), Some(c)) = (&self.cond, cond) {
            temb += l.forward(&c.to_kind(kind));
        }
        let mut h = match &self.init {
            Some(c) => c.forward(x),
            None => x.shallow_clone(),
        };
        let mut skips = Vec::with_capacity(self.downs.len());
        for (level, down) in &self.downs {
            h = level.forward(h, &temb, train);
            skips.push(h.shallow_clone());
            if let Some(d) = down {
                h = d.forward(&h);
            }
        }
        h = self.mid1.forward(&h, Some(&temb), train);
        if let Some(a) = &self.mid_attn {
            h = a.forward(&h);
        }
        h = self.mid2.forward(&h, Some(&temb), train);
        for (level, up) in &self.ups {
            let skip = skips.pop().expect("one skip per level");
            h = level.forward(Tensor::cat(&[h, skip], 1), &temb, train);
            h = up.forward(&h);
        }
        self.final_conv
            .forward(&self.final_block.forward(&h, None, train))
    }
}
