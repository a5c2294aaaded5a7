//! `diffusion.gaussian_prior`: the network predicts on top of the exact Gaussian-field
//! predictor. Untrained, the model *is* that predictor; the prior travels in the checkpoint;
//! a run without a fitted prior, or with one of the wrong size, is refused.

mod common;

use common::{tiny_config, Toy};
use diffusion::analytic::GrfDenoiser;
use diffusion::checkpoint;
use diffusion::config::{Prediction, RunConfig};
use diffusion::model::NetDenoiser;
use diffusion::sampler::Denoiser;
use diffusion::tch::{self, Device, Kind, Tensor};
use diffusion::train::{self, LoopOptions, Trainer};

const N: usize = 8;

fn cfg(prediction: Prediction) -> RunConfig {
    let mut c = tiny_config();
    c.unet.cond_dim = 0;
    c.unet.dropout = 0.0;
    c.diffusion.gaussian_prior = true;
    c.diffusion.prediction = prediction;
    c
}

/// A red spectrum in pixel units, [N, N/2+1], with a DC variance.
fn mode_var() -> Vec<f64> {
    let m = N / 2 + 1;
    let f = |a: usize| {
        if a <= N / 2 {
            a as f64
        } else {
            a as f64 - N as f64
        }
    };
    (0..N * m)
        .map(|i| {
            let (a, b) = (i / m, i % m);
            let q2 = f(a).powi(2) + (b as f64).powi(2);
            if q2 == 0.0 {
                0.3
            } else {
                4.0 / (1.0 + q2)
            }
        })
        .collect()
}

fn trainer(prediction: Prediction) -> Trainer {
    tch::set_num_threads(1);
    let mut tr = Trainer::new(cfg(prediction), 3, Device::Cpu).unwrap();
    tr.set_prior(N, 0.2, mode_var()).unwrap();
    tr
}

fn max_abs(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn an_untrained_model_is_the_gaussian_predictor_exactly() {
    for prediction in [Prediction::Eps, Prediction::V] {
        let tr = trainer(prediction);
        let exact = GrfDenoiser::from_mode_variance(&tr.schedule, N, 0.2, mode_var());
        for net in [&tr.net, &tr.ema.net] {
            let den = NetDenoiser {
                unet: &net.unet,
                schedule: &tr.schedule,
                prediction,
                cond: None,
                prior: tr.prior.as_ref(),
            };
            tch::manual_seed(1);
            let x = Tensor::randn([4, 1, N as i64, N as i64], (Kind::Float, Device::Cpu));
            let t = Tensor::from_slice(&[0i64, 7, 25, 49]);
            let d = max_abs(&den.predict_eps(&x, &t), &exact.predict_eps(&x, &t));
            // ε only (v adds a round trip through v and back in float32).
            assert!(d < 1e-4, "{prediction:?}: |ε̂ − ε_G| = {d}");
        }
    }
}

#[test]
fn after_training_the_network_adds_a_residual_and_the_prior_survives_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = Toy::new(3, N, 5);
    let mut tr = trainer(Prediction::Eps);
    let opts = LoopOptions {
        run_dir: dir.path().to_path_buf(),
        total_steps: Some(6),
        minutes: None,
        normalisation: None,
    };
    train::run(&mut tr, &data, &opts).unwrap();
    let ck = checkpoint::read(dir.path()).unwrap();
    let prior = ck
        .prior(&tr.schedule)
        .unwrap()
        .expect("the prior is stored");
    assert_eq!((prior.n, prior.mean), (N, 0.2));
    assert_eq!(prior.mode_var, mode_var());
    // Resuming restores it, and the resumed model predicts what the trained one did.
    let back = Trainer::from_checkpoint(&ck, Device::Cpu).unwrap();
    assert_eq!(back.prior.as_ref().unwrap().mode_var, mode_var());
    let den = |t: &Trainer| {
        let x = Tensor::ones([2, 1, N as i64, N as i64], (Kind::Float, Device::Cpu));
        let tt = Tensor::from_slice(&[3i64, 30]);
        NetDenoiser {
            unet: &t.ema.net.unet,
            schedule: &t.schedule,
            prediction: Prediction::Eps,
            cond: None,
            prior: t.prior.as_ref(),
        }
        .predict_eps(&x, &tt)
    };
    assert_eq!(max_abs(&den(&tr), &den(&back)), 0.0);
    // Six steps moved the residual away from zero.
    let exact = GrfDenoiser::from_mode_variance(&tr.schedule, N, 0.2, mode_var());
    let x = Tensor::ones([2, 1, N as i64, N as i64], (Kind::Float, Device::Cpu));
    let tt = Tensor::from_slice(&[3i64, 30]);
    assert!(max_abs(&den(&tr), &exact.predict_eps(&x, &tt)) > 1e-6);
}

#[test]
fn a_prior_run_without_its_prior_is_refused() {
    tch::set_num_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let data = Toy::new(3, N, 5);
    let mut tr = Trainer::new(cfg(Prediction::Eps), 3, Device::Cpu).unwrap();
    let opts = LoopOptions {
        run_dir: dir.path().to_path_buf(),
        total_steps: Some(2),
        minutes: None,
        normalisation: None,
    };
    let e = train::run(&mut tr, &data, &opts).unwrap_err().to_string();
    assert!(e.contains("no prior was fitted"), "{e}");
    // A library caller stepping by hand gets the error too, not a panic, and no step is taken.
    let x0 = Tensor::zeros([2, 1, N as i64, N as i64], (Kind::Float, Device::Cpu));
    let e = tr.train_step(&x0, None).unwrap_err().to_string();
    assert!(e.contains("no prior is set"), "{e}");
    assert_eq!(tr.step, 0);
    // Wrong size for the data.
    tr.set_prior(16, 0.0, vec![1.0; 16 * 9]).unwrap();
    let e = train::run(&mut tr, &data, &opts).unwrap_err().to_string();
    assert!(e.contains("16² fields but the data are 8²"), "{e}");
    // Malformed priors.
    assert!(tr.set_prior(N, 0.0, vec![1.0; 3]).is_err());
    assert!(tr.set_prior(N, 0.0, vec![-1.0; N * 5]).is_err());
    let mut plain = Trainer::new(tiny_config(), 3, Device::Cpu).unwrap();
    assert!(plain.set_prior(N, 0.0, mode_var()).is_err());
    // A checkpoint whose config asks for a prior it does not hold.
    let mut tr = trainer(Prediction::Eps);
    tr.prior = None;
    let path = dir.path().join("no_prior.safetensors");
    tr.save(&path, None).unwrap();
    let ck = checkpoint::read(&path).unwrap();
    let e = ck.prior(&tr.schedule).unwrap_err().to_string();
    assert!(e.contains("prior/mean is missing"), "{e}");
}
