//! Layers with PyTorch's default initialisation and optional circular (periodic) padding.
//!
//! Why not `tch::nn::conv2d`: tch's default init is ~2.45× wider than PyTorch's
//! (`kaiming_uniform(a = √5)` ⇒ U(−1/√fan_in, 1/√fan_in) for weight and bias), and a base-64
//! U-Net initialised the tch way stalls near loss 1.0. Periodic fields also need circular
//! padding for the strided and transposed convolutions, which tch's layers do not offer.
//!
//! Every layer adds its multiply-add count to a thread-local FLOP counter while
//! [`count_flops`] runs, so the benchmark can report FLOPs from the real layer shapes.

use std::cell::Cell;
use tch::{nn::Init, nn::Path, Tensor};

thread_local! {
    static FLOPS: Cell<Option<f64>> = const { Cell::new(None) };
}

/// Adds `n` floating-point operations to the active counter (if any).
pub(crate) fn add_flops(n: f64) {
    FLOPS.with(|c| {
        if let Some(v) = c.get() {
            c.set(Some(v + n));
        }
    });
}

/// Runs `f` and returns its result together with the FLOPs (2 per multiply-add) of the
/// convolutions, linear layers and attention matrix products it executed on this thread.
/// Normalisations and element-wise operations are not counted (they are memory-bound and
/// a few percent of the total).
pub fn count_flops<R>(f: impl FnOnce() -> R) -> (R, f64) {
    FLOPS.with(|c| c.set(Some(0.0)));
    let r = f();
    let n = FLOPS.with(|c| c.replace(None)).unwrap_or(0.0);
    (r, n)
}

fn uniform_bound(fan_in: i64) -> Init {
    let b = 1.0 / (fan_in as f64).sqrt();
    Init::Uniform { lo: -b, up: b }
}

/// Settings of a [`Conv2d`] beyond its channels and kernel size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dConfig {
    pub stride: i64,
    /// Pixels added on each side (zeros, or wrapped around with `circular`).
    pub padding: i64,
    pub bias: bool,
    /// Periodic padding: the layer commutes with rolls by multiples of its stride.
    pub circular: bool,
}

impl Default for Conv2dConfig {
    fn default() -> Self {
        Conv2dConfig {
            stride: 1,
            padding: 0,
            bias: true,
            circular: false,
        }
    }
}

/// Settings of a [`ConvTranspose2d`] beyond its channels and kernel size (always with bias).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose2dConfig {
    pub stride: i64,
    /// PyTorch's `padding` of `ConvTranspose2d`.
    pub padding: i64,
    pub circular: bool,
}

impl Default for ConvTranspose2dConfig {
    fn default() -> Self {
        ConvTranspose2dConfig {
            stride: 1,
            padding: 0,
            circular: false,
        }
    }
}

/// Wraps `x` [B, C, H, W] around by `p` ≤ min(H, W) pixels on each side: the same values as
/// `x.pad([p; 4], "circular")`, built by two concatenations. Its backward is two narrows and
/// adds, where torch's circular pad backward goes through slice copies into zero-filled
/// tensors, a measurable share of a training step on CPU (docs/model.md, benchmark section).
pub fn pad_periodic(x: &Tensor, p: i64) -> Tensor {
    if p == 0 {
        return x.shallow_clone();
    }
    let (h, w) = (x.size()[2], x.size()[3]);
    let x = Tensor::cat(
        &[x.narrow(3, w - p, p), x.shallow_clone(), x.narrow(3, 0, p)],
        3,
    );
    Tensor::cat(
        &[x.narrow(2, h - p, p), x.shallow_clone(), x.narrow(2, 0, p)],
        2,
    )
}

/// 2-D convolution. With `circular`, the input is wrapped around by `pad` pixels on each side
/// and convolved without zero padding, so the layer commutes with periodic rolls (by multiples
/// of its stride).
#[derive(Debug)]
pub struct Conv2d {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    stride: i64,
    pad: i64,
    circular: bool,
}

impl Conv2d {
    /// A `k`×`k` convolution from `cin` to `cout` channels.
    pub fn new(p: Path, cin: i64, cout: i64, k: i64, cfg: Conv2dConfig) -> Self {
        let fan_in = cin * k * k;
        let weight = p.var("weight", &[cout, cin, k, k], uniform_bound(fan_in));
        let bias = cfg
            .bias
            .then(|| p.var("bias", &[cout], uniform_bound(fan_in)));
        Self {
            weight,
            bias,
            stride: cfg.stride,
            pad: cfg.padding,
            circular: cfg.circular,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        let y = if self.circular && self.pad > 0 {
            let p = self.pad;
            pad_periodic(x, p).conv2d(
                &self.weight,
                self.bias.as_ref(),
                [self.stride, self.stride],
                [0, 0],
                [1, 1],
                1,
            )
        } else {
            x.conv2d(
                &self.weight,
                self.bias.as_ref(),
                [self.stride, self.stride],
                [self.pad, self.pad],
                [1, 1],
                1,
            )
        };
        let ws = self.weight.size();
        let ys = y.size();
        add_flops(2.0 * (ws[1] * ws[2] * ws[3]) as f64 * ys.iter().product::<i64>() as f64);
        y
    }
}

/// 2-D transposed convolution (PyTorch weight layout `[cin, cout, k, k]`). With `circular`,
/// the input is wrapped by one pixel on each side, transposed-convolved without padding and
/// cropped, which is the periodic version of PyTorch's `ConvTranspose2d(padding = pad)`:
/// output pixels away from the border are identical to the zero-padded layer.
#[derive(Debug)]
pub struct ConvTranspose2d {
    pub weight: Tensor,
    pub bias: Tensor,
    k: i64,
    stride: i64,
    pad: i64,
    circular: bool,
}

impl ConvTranspose2d {
    /// A `k`×`k` transposed convolution from `cin` to `cout` channels.
    pub fn new(p: Path, cin: i64, cout: i64, k: i64, cfg: ConvTranspose2dConfig) -> Self {
        let ConvTranspose2dConfig {
            stride,
            padding: pad,
            circular,
        } = cfg;
        // PyTorch computes fan_in from weight.size(1) = cout for transposed convolutions.
        let fan_in = cout * k * k;
        let weight = p.var("weight", &[cin, cout, k, k], uniform_bound(fan_in));
        let bias = p.var("bias", &[cout], uniform_bound(fan_in));
        Self {
            weight,
            bias,
            k,
            stride,
            pad,
            circular,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        let (s, p, k) = (self.stride, self.pad, self.k);
        let y = if self.circular {
            let n = x.size();
            let (h, w) = (n[2], n[3]);
            // Output size of the zero-padded layer; wrapping by `e` input pixels shifts the
            // full output by `s·e`, so the crop starts at `p + s·e`.
            let (oh, ow) = ((h - 1) * s - 2 * p + k, (w - 1) * s - 2 * p + k);
            let e = ((k - 1 - p).max(0) + s - 1) / s;
            let full = pad_periodic(x, e).conv_transpose2d(
                &self.weight,
                Some(&self.bias),
                [s, s],
                [0, 0],
                [0, 0],
                1,
                [1, 1],
            );
            let off = p + s * e;
            full.narrow(2, off, oh).narrow(3, off, ow)
        } else {
            x.conv_transpose2d(
                &self.weight,
                Some(&self.bias),
                [s, s],
                [p, p],
                [0, 0],
                1,
                [1, 1],
            )
        };
        let ws = self.weight.size();
        let xs = x.size();
        add_flops(2.0 * (ws[1] * k * k) as f64 * xs.iter().product::<i64>() as f64);
        y
    }
}

/// Fully connected layer, PyTorch init.
#[derive(Debug)]
pub struct Linear {
    pub weight: Tensor,
    pub bias: Tensor,
}

impl Linear {
    pub fn new(p: Path, din: i64, dout: i64) -> Self {
        let weight = p.var("weight", &[dout, din], uniform_bound(din));
        let bias = p.var("bias", &[dout], uniform_bound(din));
        Self { weight, bias }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        let ws = self.weight.size();
        add_flops(2.0 * (ws[0] * ws[1]) as f64 * (x.numel() as i64 / ws[1]) as f64);
        x.linear(&self.weight, Some(&self.bias))
    }
}

/// Group normalisation with affine weight 1 and bias 0 at init (PyTorch).
#[derive(Debug)]
pub struct GroupNorm {
    pub weight: Tensor,
    pub bias: Tensor,
    groups: i64,
}

impl GroupNorm {
    pub fn new(p: Path, groups: i64, channels: i64) -> Self {
        let weight = p.var("weight", &[channels], Init::Const(1.0));
        let bias = p.var("bias", &[channels], Init::Const(0.0));
        Self {
            weight,
            bias,
            groups,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.group_norm(
            self.groups,
            Some(&self.weight),
            Some(&self.bias),
            1e-5,
            true,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn::VarStore, Device, Kind};

    /// The periodic layers must equal PyTorch's zero-padded ones wherever the padding is not
    /// reached, and commute with rolls by their stride.
    #[test]
    fn pad_periodic_equals_torch_circular_pad_in_value_and_gradient() {
        tch::manual_seed(1);
        for (h, w, p) in [(5, 7, 1), (6, 4, 2), (3, 3, 3)] {
            let x =
                Tensor::randn([2, 3, h, w], (Kind::Double, Device::Cpu)).set_requires_grad(true);
            let weights = Tensor::randn([2, 3, h + 2 * p, w + 2 * p], (Kind::Double, Device::Cpu));
            let ours = pad_periodic(&x, p);
            let torch = x.pad([p, p, p, p], "circular", None);
            assert_eq!(
                (&ours - &torch).abs().max().double_value(&[]),
                0.0,
                "{h}×{w}, p = {p}"
            );
            let g = |y: Tensor| {
                let loss = (y * &weights).sum(Kind::Double);
                Tensor::run_backward(&[loss], &[&x], false, false).remove(0)
            };
            let (ga, gb) = (g(ours), g(torch));
            let err = (&ga - &gb).abs().max().double_value(&[]);
            assert!(err < 1e-12, "{h}×{w}, p = {p}: gradients differ by {err}");
            assert!(ga.abs().sum(Kind::Double).double_value(&[]) > 0.0);
        }
    }

    #[test]
    fn circular_layers_match_zero_padded_interior_and_roll() {
        tch::manual_seed(0);
        let vs = VarStore::new(Device::Cpu);
        let x = Tensor::randn([2, 3, 12, 12], (Kind::Float, Device::Cpu));
        let down = Conv2d::new(
            vs.root() / "d",
            3,
            5,
            4,
            Conv2dConfig {
                stride: 2,
                padding: 1,
                circular: true,
                ..Default::default()
            },
        );
        let down0 = Conv2d {
            weight: down.weight.shallow_clone(),
            bias: down.bias.as_ref().map(|b| b.shallow_clone()),
            stride: 2,
            pad: 1,
            circular: false,
        };
        let up = ConvTranspose2d::new(
            vs.root() / "u",
            3,
            5,
            4,
            ConvTranspose2dConfig {
                stride: 2,
                padding: 1,
                circular: true,
            },
        );
        let up0 = ConvTranspose2d {
            weight: up.weight.shallow_clone(),
            bias: up.bias.shallow_clone(),
            k: 4,
            stride: 2,
            pad: 1,
            circular: false,
        };
        let (yd, yd0) = (down.forward(&x), down0.forward(&x));
        assert_eq!(yd.size(), vec![2, 5, 6, 6]);
        let inner = |t: &Tensor, a: i64, n: i64| t.narrow(2, a, n).narrow(3, a, n);
        let d = (inner(&yd, 1, 4) - inner(&yd0, 1, 4))
            .abs()
            .max()
            .double_value(&[]);
        assert!(d < 1e-6, "strided conv interior differs by {d}");
        let (yu, yu0) = (up.forward(&x), up0.forward(&x));
        assert_eq!(yu.size(), vec![2, 5, 24, 24]);
        let d = (inner(&yu, 2, 20) - inner(&yu0, 2, 20))
            .abs()
            .max()
            .double_value(&[]);
        assert!(d < 1e-6, "transposed conv interior differs by {d}");
        let rolled_down = down.forward(&x.roll([2, -4], [2, 3]));
        let d = (rolled_down - yd.roll([1, -2], [2, 3]))
            .abs()
            .max()
            .double_value(&[]);
        assert!(d < 1e-6, "strided conv not roll-equivariant ({d})");
        let rolled_up = up.forward(&x.roll([1, 3], [2, 3]));
        let d = (rolled_up - yu.roll([2, 6], [2, 3]))
            .abs()
            .max()
            .double_value(&[]);
        assert!(d < 1e-6, "transposed conv not roll-equivariant ({d})");
        // The border does differ from zero padding (the wrap is really used).
        let edge = (yu.narrow(2, 0, 1) - yu0.narrow(2, 0, 1))
            .abs()
            .max()
            .double_value(&[]);
        assert!(edge > 1e-3);
    }
}
