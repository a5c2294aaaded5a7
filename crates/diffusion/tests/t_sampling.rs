//! `diffusion.t_sampling`: the training timesteps follow the configured distribution, stay a
//! pure function of (seed, step), and bad settings are refused by name.

mod common;

use common::tiny_config;
use diffusion::config::{RunConfig, TimestepSampling};
use diffusion::schedule::ScheduleConfig;
use diffusion::tch::Device;
use diffusion::train::Trainer;

fn trainer(ts: TimestepSampling) -> Trainer {
    let mut c = tiny_config();
    // Many steps, so that the quantiles of σ are resolved.
    c.diffusion.schedule = ScheduleConfig::linear(2000, 1e-4, 2e-2);
    c.diffusion.t_sampling = ts;
    Trainer::new(c, 7, Device::Cpu).unwrap()
}

/// The noise-to-signal ratio σ_t of each drawn step, over `steps` batches of 64.
fn drawn_sigmas(tr: &Trainer, steps: u64) -> Vec<f64> {
    let sched = tr.cfg.diffusion.schedule.build().unwrap();
    let mut out = Vec::new();
    for s in 0..steps {
        let (t, _, _) = tr.step_randomness(s, 64, 2);
        let t: Vec<i64> = Vec::try_from(&t).unwrap();
        out.extend(t.iter().map(|&t| {
            let a = sched.alpha_bar(t);
            ((1.0 - a) / a).sqrt()
        }));
    }
    out
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

#[test]
fn lognormal_draws_follow_the_requested_noise_levels() {
    let (p_mean, p_std) = (-2.0, 1.0);
    let tr = trainer(TimestepSampling::Lognormal {
        p_mean,
        p_std,
        uniform_frac: 0.0,
    });
    let s = drawn_sigmas(&tr, 100);
    // ln σ quantiles of N(-2, 1): 16% at -3, 50% at -2, 84% at -1. The steps are discrete
    // (neighbouring σ differ by < 3 % here), so allow 0.1 in ln σ.
    for (q, z) in [(0.1587, -1.0), (0.5, 0.0), (0.8413, 1.0)] {
        let got = quantile(&s, q).ln();
        assert!(
            (got - (p_mean + p_std * z)).abs() < 0.1,
            "quantile {q}: ln σ = {got}, expected {}",
            p_mean + p_std * z
        );
    }
}

#[test]
fn uniform_fraction_one_is_uniform_and_the_mixture_keeps_high_noise_trained() {
    let t_of = |ts| {
        let tr = trainer(ts);
        let mut all = Vec::new();
        for s in 0..100 {
            let (t, _, _) = tr.step_randomness(s, 64, 2);
            all.extend(Vec::<i64>::try_from(&t).unwrap());
        }
        all
    };
    let uni = t_of(TimestepSampling::Lognormal {
        p_mean: -2.0,
        p_std: 1.0,
        uniform_frac: 1.0,
    });
    let above = |v: &[i64]| v.iter().filter(|&&t| t >= 1000).count() as f64 / v.len() as f64;
    assert!((above(&uni) - 0.5).abs() < 0.03, "{}", above(&uni));
    let mix = t_of(TimestepSampling::Lognormal {
        p_mean: -2.0,
        p_std: 1.0,
        uniform_frac: 0.2,
    });
    // σ > 10 never comes from N(-2, 1) in 6400 draws (z > 4.3); the uniform part gives 20 % × 1/2.
    assert!((above(&mix) - 0.1).abs() < 0.02, "{}", above(&mix));
}

#[test]
fn draws_are_a_pure_function_of_seed_and_step() {
    let ts = TimestepSampling::Lognormal {
        p_mean: -2.0,
        p_std: 1.2,
        uniform_frac: 0.2,
    };
    let (a, b) = (trainer(ts), trainer(ts));
    for s in [0u64, 5, 123] {
        let (ta, na, sa) = a.step_randomness(s, 8, 4);
        let (tb, nb, sb) = b.step_randomness(s, 8, 4);
        assert_eq!(
            Vec::<i64>::try_from(&ta).unwrap(),
            Vec::<i64>::try_from(&tb).unwrap()
        );
        assert!(na.equal(&nb));
        assert_eq!(sa, sb);
    }
    let (t0, _, _) = a.step_randomness(0, 8, 4);
    let (t1, _, _) = a.step_randomness(1, 8, 4);
    assert_ne!(
        Vec::<i64>::try_from(&t0).unwrap(),
        Vec::<i64>::try_from(&t1).unwrap()
    );
}

#[test]
fn bad_settings_are_refused_by_name_and_old_configs_read_as_uniform() {
    let toml = |body: &str| {
        RunConfig::from_preset_and_toml("cpu-small", Some(body)).map_err(|e| e.to_string())
    };
    let e = toml("[diffusion.t_sampling]\nkind = \"lognormal\"\np_mean = -2.0\np_std = 0.0\nuniform_frac = 0.1\n")
        .unwrap_err();
    assert!(e.contains("p_std"), "{e}");
    let e = toml("[diffusion.t_sampling]\nkind = \"lognormal\"\np_mean = -2.0\np_std = 1.0\nuniform_frac = 1.5\n")
        .unwrap_err();
    assert!(e.contains("uniform_frac"), "{e}");
    let e = toml("[diffusion.t_sampling]\nkind = \"bimodal\"\n").unwrap_err();
    assert!(e.contains("bimodal"), "{e}");
    // A config written before the field existed (no t_sampling key) reads as uniform.
    let mut v = serde_json::to_value(RunConfig::preset("paper-64").unwrap()).unwrap();
    v["diffusion"].as_object_mut().unwrap().remove("t_sampling");
    let old: RunConfig = serde_json::from_value(v).unwrap();
    assert_eq!(old.diffusion.t_sampling, TimestepSampling::Uniform);
}

#[test]
fn the_dust_config_keeps_what_docs_dust_md_measured() {
    // configs/dust-64.toml merges over cpu-small, whose defaults moved on since the dust
    // measurement; the file pins the measured settings.
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/dust-64.toml");
    let c = RunConfig::load("cpu-small", Some(p.as_path())).unwrap();
    assert!(!c.unet.circular);
    assert!(!c.diffusion.gaussian_prior);
    assert_eq!(c.diffusion.t_sampling, TimestepSampling::Uniform);
    // ... while cpu-small itself has moved on.
    let base = RunConfig::preset("cpu-small").unwrap();
    assert!(base.diffusion.gaussian_prior);
    assert!(matches!(
        base.diffusion.t_sampling,
        TimestepSampling::Lognormal { .. }
    ));
}
