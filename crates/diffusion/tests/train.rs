//! Training drives the loss of a handful of fields near zero, and the v-prediction and MSE
//! objectives train too.

mod common;

use common::{tiny_config, Toy};
use diffusion::config::{Loss, Prediction, RunConfig};
use diffusion::model::NetDenoiser;
use diffusion::sampler::Denoiser;
use diffusion::tch::{Device, Kind, Tensor};
use diffusion::train::{batch_tensors, BatchSource, Trainer};

/// Mean squared ε error of the EMA network over every timestep, on fixed noise.
fn eps_mse(tr: &Trainer, data: &Toy) -> f64 {
    let (x0, cond) = batch_tensors(&data.batch_at(0, 8).unwrap());
    let den = NetDenoiser {
        unet: &tr.ema.net.unet,
        schedule: &tr.schedule,
        prediction: tr.cfg.diffusion.prediction,
        cond,
        prior: tr.prior.as_ref(),
    };
    tch::manual_seed(0);
    let tn = tr.schedule.timesteps() as i64;
    let mut total = 0.0;
    for t in (0..tn).step_by(5) {
        let tt = Tensor::full([8], t, (Kind::Int64, Device::Cpu));
        let eps = Tensor::randn(x0.size(), (Kind::Float, Device::Cpu));
        let xt = tr.schedule.q_sample(&x0, &eps, &tt);
        let e = den.predict_eps(&xt, &tt);
        total += (e - eps).square().mean(Kind::Float).double_value(&[]);
    }
    total / (tn as f64 / 5.0).ceil()
}

fn overfit(cfg: RunConfig, steps: usize) -> (f64, f64, f64) {
    // Tests run in parallel; one intra-op thread each avoids OpenMP oversubscription.
    tch::set_num_threads(1);
    let mut data = Toy::new(2, 8, 5);
    data.augment = false;
    let mut tr = Trainer::new(cfg, 1, Device::Cpu).unwrap();
    let before = eps_mse(&tr, &data);
    let mut last = 0.0;
    for i in 0..steps {
        let s = tr.train_step_from(&data).unwrap();
        if i + 20 >= steps {
            last += s.loss / 20.0;
        }
    }
    (before, eps_mse(&tr, &data), last)
}

fn cfg() -> RunConfig {
    let mut c = tiny_config();
    c.unet.dropout = 0.0;
    c.unet.base_channels = 8;
    c.unet.groups = 4;
    c.train.batch_size = 8;
    c.train.weight_decay = 0.0;
    c.train.grad_clip = 1.0;
    c.train.lr = 5e-3;
    c.train.ema_decay = 0.95;
    c
}

#[test]
fn overfitting_two_fields_drives_the_loss_near_zero() {
    let (before, after, last) = overfit(cfg(), 800);
    eprintln!("eps mse before {before:.4} after {after:.4}, last train loss {last:.4}");
    // ε̂ = 0 (or an untrained net) scores ≈ 1.
    assert!(after < 0.06, "ε MSE {before:.4} → {after:.4}");
}

#[test]
fn v_prediction_with_mse_trains_too() {
    let mut c = cfg();
    c.diffusion.prediction = Prediction::V;
    c.diffusion.loss = Loss::Mse;
    let (before, after, last) = overfit(c, 800);
    eprintln!("v: eps mse before {before:.4} after {after:.4}, last train loss {last:.4}");
    assert!(after < 0.06, "ε MSE {before:.4} → {after:.4}");
}

/// AdamW and the EMA against their closed-form updates, computed here in f64 for three steps
/// with weight decay, on two parameters of different sizes (so the shared scratch buffer is
/// used at two sizes) and gradients that change sign.
#[test]
fn adamw_and_ema_follow_their_formulas() {
    use diffusion::ema::Ema;
    use diffusion::model::Net;
    use diffusion::train::AdamW;
    tch::set_num_threads(1);
    let p0 = [0.5f64, -1.0, 2.0];
    let q0 = [0.25f64];
    let a = Tensor::from_slice(&p0.map(|x| x as f32)).set_requires_grad(true);
    let b = Tensor::from_slice(&q0.map(|x| x as f32)).set_requires_grad(true);
    let (b1, b2, eps, wd) = (0.9, 0.99, 1e-8, 0.1);
    let mut opt = AdamW::new(
        vec![
            ("a".into(), a.shallow_clone()),
            ("b".into(), b.shallow_clone()),
        ],
        b1,
        b2,
        eps,
        wd,
    );
    // Reference: every element updated independently by the formula.
    let mut x: Vec<f64> = p0.iter().chain(&q0).copied().collect();
    let (mut m, mut v) = (vec![0.0; 4], vec![0.0; 4]);
    let lrs = [1e-2, 5e-3, 2e-2];
    for (k, &lr) in lrs.iter().enumerate() {
        // loss = Σ c_i x_i³, gradient 3 c_i x_i², with c changing sign between steps.
        let c: Vec<f64> = (0..4)
            .map(|i| if (i + k) % 2 == 0 { 1.0 } else { -2.0 })
            .collect();
        let ct = Tensor::from_slice(&c.iter().map(|&z| z as f32).collect::<Vec<_>>());
        opt.zero_grad();
        let loss = (Tensor::cat(&[&a, &b], 0).pow_tensor_scalar(3) * &ct).sum(Kind::Float);
        loss.backward();
        opt.step(lr);
        let t = (k + 1) as i32;
        for i in 0..4 {
            let g = 3.0 * c[i] * x[i] * x[i];
            x[i] *= 1.0 - lr * wd;
            m[i] = b1 * m[i] + (1.0 - b1) * g;
            v[i] = b2 * v[i] + (1.0 - b2) * g * g;
            let denom = v[i].sqrt() / (1.0 - b2.powi(t)).sqrt() + eps;
            x[i] -= lr / (1.0 - b1.powi(t)) * m[i] / denom;
        }
    }
    let got: Vec<f64> = Vec::<f32>::try_from(Tensor::cat(&[&a, &b], 0).detach())
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect();
    for (i, (g, w)) in got.iter().zip(&x).enumerate() {
        assert!(
            (g - w).abs() < 1e-6,
            "element {i}: AdamW gave {g}, the formula {w}"
        );
        // The update must have moved the parameter (a no-op optimiser would pass otherwise).
        assert!(
            (g - [p0[0], p0[1], p0[2], q0[0]][i]).abs() > 1e-3,
            "element {i} did not move"
        );
    }

    // EMA: after `start`, ema ← d·ema + (1 − d)·w.
    let cfg = tiny_config();
    let src = Net::new(&cfg, Device::Cpu, 1).unwrap();
    let ema = Ema::new(Net::new(&cfg, Device::Cpu, 2).unwrap(), &src, 0.75, 0);
    let before: Vec<Tensor> = src
        .named_params()
        .into_iter()
        .map(|(_, t)| t.copy())
        .collect();
    tch::no_grad(|| {
        for (_, w) in src.named_params() {
            let _ = w.shallow_clone().g_add_scalar_(1.0);
        }
    });
    ema.update(&src, 5);
    for ((n, e), w0) in ema.net.named_params().into_iter().zip(&before) {
        let want = w0 + 0.25;
        let err = (e - &want).abs().max().double_value(&[]);
        assert!(err < 1e-6, "EMA of {n} off its formula by {err}");
    }
}

/// Condition dropout: about `train.cond_dropout` of the rows become the all-zero "no condition"
/// input, the others pass unchanged, the draws are a function of (seed, step), and an
/// unconditional model's rows are never touched.
#[test]
fn condition_dropout_zeroes_the_configured_fraction_of_rows() {
    use fields::condition::Condition;
    tch::set_num_threads(1);
    let columns: Vec<String> = fields::camels::PARAM_NAMES
        .iter()
        .map(|s| s.to_string())
        .collect();
    let c = Condition::select(&["Om".into(), "sigma8".into()], &columns, None).unwrap();
    let mut cfg = tiny_config();
    cfg.unet.cond_dim = c.input_dim() as i64;
    cfg.condition = Some(c.clone());
    cfg.train.cond_dropout = 0.1;
    let tr = Trainer::new(cfg.clone(), 3, Device::Cpu).unwrap();
    let row = c.input_row(&[0.3, 0.9]).unwrap();
    let rows = 16i64;
    let cond = Tensor::from_slice(&row.repeat(rows as usize)).view([rows, 3]);
    let (mut dropped, mut total) = (0usize, 0usize);
    for step in 0..200 {
        let out = tr.drop_condition(step, &cond);
        assert_eq!(
            Vec::<f32>::try_from(out.flatten(0, -1)).unwrap(),
            Vec::<f32>::try_from(tr.drop_condition(step, &cond).flatten(0, -1)).unwrap(),
            "step {step}: the draw must depend on (seed, step) only"
        );
        for r in 0..rows {
            let v = Vec::<f32>::try_from(out.get(r)).unwrap();
            if v.iter().all(|&x| x == 0.0) {
                dropped += 1;
            } else {
                assert_eq!(v, row, "a kept row must pass unchanged");
            }
            total += 1;
        }
    }
    let frac = dropped as f64 / total as f64;
    let sd = (0.1f64 * 0.9 / total as f64).sqrt();
    assert!(
        (frac - 0.1).abs() < 4.0 * sd,
        "dropped {frac:.4} of rows, expected 0.1 ± {:.4}",
        4.0 * sd
    );

    let mut plain = cfg;
    plain.condition = None;
    plain.unet.cond_dim = 0;
    let tr = Trainer::new(plain, 3, Device::Cpu).unwrap();
    let out = tr.drop_condition(5, &cond);
    assert_eq!(
        out.abs().sum(Kind::Float).double_value(&[]),
        cond.abs().sum(Kind::Float).double_value(&[])
    );
}
