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
