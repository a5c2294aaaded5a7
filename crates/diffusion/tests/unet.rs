//! U-Net invariants: output shapes of every preset, a finite-difference gradient check, periodic
//! equivariance and PyTorch-equal initialisation.

use diffusion::config::{RunConfig, PRESETS};
use diffusion::nn::count_flops;
use diffusion::tch::{nn::VarStore, Device, Kind, Tensor};
use diffusion::unet::{Attention, Config, UNet};

fn tiny(circular: bool) -> Config {
    Config {
        base_channels: 8,
        channel_mults: vec![1, 2],
        res_blocks: 1,
        attention: vec![Attention::Linear, Attention::None],
        mid_attention: Attention::Full,
        heads: 2,
        head_dim: 4,
        groups: 2,
        circular,
        cond_dim: 3,
        ..Config::default()
    }
}

#[test]
fn every_preset_gives_the_input_shape() {
    tch::manual_seed(0);
    for name in PRESETS {
        let cfg = RunConfig::preset(name).unwrap();
        let vs = VarStore::new(Device::Cpu);
        let net = UNet::new(&vs.root(), &cfg.unet).unwrap();
        // paper-128 at 128² costs ~750 GFLOP per field; the network is size-agnostic above its
        // total stride, so a 16² input checks the same layers.
        let n = if *name == "paper-128" { 16 } else { 64 };
        let x = Tensor::randn([2, 1, n, n], (Kind::Float, Device::Cpu));
        let t = Tensor::from_slice(&[0i64, 1999]);
        let y = tch::no_grad(|| net.forward(&x, &t, None, false));
        assert_eq!(y.size(), vec![2, 1, n, n], "{name}");
        assert!(bool::try_from(y.isfinite().all()).unwrap(), "{name}");
    }
}

#[test]
fn paper64_flops_match_the_layer_shapes() {
    // Independent hand count of the dominant 3×3 convolutions of the paper-64 network at
    // 64²: they must make up the bulk of the counted FLOPs (attention and 1×1/4×4 convs the rest).
    tch::manual_seed(0);
    let cfg = RunConfig::preset("paper-64").unwrap();
    let vs = VarStore::new(Device::Cpu);
    let net = UNet::new(&vs.root(), &cfg.unet).unwrap();
    let x = Tensor::zeros([1, 1, 64, 64], (Kind::Float, Device::Cpu));
    let t = Tensor::from_slice(&[5i64]);
    let (_, flops) = count_flops(|| tch::no_grad(|| net.forward(&x, &t, None, false)));
    let conv3 = |cin: f64, cout: f64, n: f64| 2.0 * 9.0 * cin * cout * n * n;
    let mut hand = 0.0;
    // down levels: (cin, cout, n)
    for (cin, cout, n) in [
        (1.0, 64.0, 64.0),
        (64.0, 128.0, 32.0),
        (128.0, 256.0, 16.0),
        (256.0, 512.0, 8.0),
    ] {
        hand += conv3(cin, cout, n) + 3.0 * conv3(cout, cout, n);
    }
    hand += 4.0 * conv3(512.0, 512.0, 8.0); // bottleneck
    for (cin, cout, n) in [
        (1024.0, 256.0, 8.0),
        (512.0, 128.0, 16.0),
        (256.0, 64.0, 32.0),
    ] {
        hand += conv3(cin, cout, n) + 3.0 * conv3(cout, cout, n);
    }
    hand += 2.0 * conv3(64.0, 64.0, 64.0); // final block
    assert!(
        flops > hand && flops < 1.3 * hand,
        "counted {flops:.3e}, 3×3 convs alone {hand:.3e}"
    );
}

#[test]
fn gradient_matches_finite_differences_f64() {
    tch::manual_seed(1);
    let mut vs = VarStore::new(Device::Cpu);
    let net = UNet::new(&vs.root(), &tiny(true)).unwrap();
    vs.set_kind(Kind::Double);
    let opts = (Kind::Double, Device::Cpu);
    let x = Tensor::randn([2, 1, 8, 8], opts).set_requires_grad(true);
    let t = Tensor::from_slice(&[3i64, 700]);
    let c = Tensor::randn([2, 3], opts);
    let r = Tensor::randn([2, 1, 8, 8], opts);
    let f = |x: &Tensor| (net.forward(x, &t, Some(&c), false) * &r).sum(Kind::Double);
    let loss = f(&x);
    loss.backward();
    let gx = x.grad().copy();
    let mut params: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    let grads: Vec<Tensor> = params.iter().map(|(_, p)| p.grad().copy()).collect();
    let h = 1e-6;
    let check = |analytic: f64, plus: f64, minus: f64, what: &str| {
        let num = (plus - minus) / (2.0 * h);
        let tol = 1e-6 * (1.0 + num.abs());
        assert!(
            (analytic - num).abs() < tol,
            "{what}: autograd {analytic} vs finite difference {num}"
        );
    };
    tch::no_grad(|| {
        let xf = x.detach();
        for idx in [0i64, 17, 63, 64 + 40, 127] {
            let flat = xf.view([-1]);
            let orig = flat.double_value(&[idx]);
            let _ = flat.get(idx).fill_(orig + h);
            let p = f(&xf).double_value(&[]);
            let _ = flat.get(idx).fill_(orig - h);
            let m = f(&xf).double_value(&[]);
            let _ = flat.get(idx).fill_(orig);
            check(
                gx.view([-1]).double_value(&[idx]),
                p,
                m,
                &format!("input[{idx}]"),
            );
        }
        // A few entries of every parameter tensor (first, middle, last).
        for ((name, p), g) in params.iter().zip(&grads) {
            let flat = p.view([-1]);
            let n = flat.size()[0];
            for idx in [0, n / 2, n - 1] {
                let orig = flat.double_value(&[idx]);
                let _ = flat.get(idx).fill_(orig + h);
                let pv = f(&xf).double_value(&[]);
                let _ = flat.get(idx).fill_(orig - h);
                let mv = f(&xf).double_value(&[]);
                let _ = flat.get(idx).fill_(orig);
                check(
                    g.view([-1]).double_value(&[idx]),
                    pv,
                    mv,
                    &format!("{name}[{idx}]"),
                );
            }
        }
    });
}

#[test]
fn circular_padding_commutes_with_periodic_rolls() {
    tch::manual_seed(2);
    let mut cfg = tiny(true);
    cfg.channel_mults = vec![1, 2, 2];
    cfg.attention = vec![Attention::Linear, Attention::None, Attention::Linear];
    let vs = VarStore::new(Device::Cpu);
    let net = UNet::new(&vs.root(), &cfg).unwrap();
    let s = net.total_stride();
    assert_eq!(s, 4);
    let x = Tensor::randn([1, 1, 16, 16], (Kind::Float, Device::Cpu));
    let t = Tensor::from_slice(&[123i64]);
    let y = tch::no_grad(|| net.forward(&x, &t, None, false));
    for (dy, dx) in [(s, 0), (0, 2 * s), (3 * s, s)] {
        let yr = tch::no_grad(|| net.forward(&x.roll([dy, dx], [2, 3]), &t, None, false));
        let diff = (yr - y.roll([dy, dx], [2, 3]))
            .abs()
            .max()
            .double_value(&[]);
        assert!(diff < 1e-5, "roll ({dy},{dx}): max difference {diff}");
    }
    // Zero padding breaks the symmetry (so the test above can fail).
    let vs0 = VarStore::new(Device::Cpu);
    let net0 = UNet::new(&vs0.root(), &tiny(false)).unwrap();
    let y0 = tch::no_grad(|| net0.forward(&x, &t, None, false));
    let y0r = tch::no_grad(|| net0.forward(&x.roll([2, 0], [2, 3]), &t, None, false));
    let diff = (y0r - y0.roll([2, 0], [2, 3]))
        .abs()
        .max()
        .double_value(&[]);
    assert!(
        diff > 1e-3,
        "zero-padded net unexpectedly equivariant ({diff})"
    );
}

#[test]
fn initialisation_matches_pytorch() {
    // PyTorch: weight, bias ~ U(−1/√fan_in, 1/√fan_in) ⇒ std = 1/√(3·fan_in).
    tch::manual_seed(3);
    let cfg = RunConfig::preset("paper-64").unwrap();
    let vs = VarStore::new(Device::Cpu);
    let _net = UNet::new(&vs.root(), &cfg.unet).unwrap();
    let vars = vs.variables();
    let w = &vars["mid_block1.block1.proj.weight"]; // 512·9 fan-in
    let fan_in = 512.0 * 9.0;
    let bound = 1.0 / f64::sqrt(fan_in);
    // torch draws f32 values up to the f32-rounded bound, up to 6e-8 above the f64 one: over
    // 2.4 M weights a draw lands in that gap in a few percent of seeds (the test was flaky).
    // 1e-6 is far below the 2.45x error of tch's default init that this test guards against.
    let f32_slack = 1.0 + 1e-6;
    assert!(w.abs().max().double_value(&[]) <= bound * f32_slack);
    let std = w.std(true).double_value(&[]);
    let expect = bound / 3f64.sqrt();
    assert!((std / expect - 1.0).abs() < 0.01, "std {std} vs {expect}");
    // Transposed conv: PyTorch takes fan_in from weight.size(1) = cout.
    let wt = &vars["ups.0.up.weight"];
    assert_eq!(wt.size(), vec![256, 256, 4, 4]);
    let bt = 1.0 / f64::sqrt(256.0 * 16.0);
    assert!(
        wt.abs().max().double_value(&[]) <= bt * f32_slack
            && wt.abs().max().double_value(&[]) > 0.99 * bt
    );
    let g = &vars["downs.0.blocks.0.block1.norm.weight"];
    assert_eq!(g.sum(Kind::Float).double_value(&[]), 64.0);
}
