//! Posterior sampling for denoising, checked without training: for a Gaussian random field
//! observed with white noise, the exact posterior is Gaussian with mean = Wiener filter
//! (computed independently by `fields::filters::wiener_filter`, pure Rust FFT) and per-mode
//! variance s²σ²/(s² + σ²).

mod common;
use common::{dev, to_vec};

use diffusion::analytic::GrfDenoiser;
use diffusion::inverse::{
    denoise_posterior, plan_injection, Injection, InverseError, PosteriorConfig,
};
use diffusion::sampler::{NoiseRng, SamplerConfig};
use diffusion::schedule::{NoiseSchedule, ScheduleConfig, ScheduleError};
use fields::filters::wiener_filter;
use ndarray::Array2;
use tch::{Device, Kind, Tensor};

const N: usize = 16;

fn setup() -> (NoiseSchedule, GrfDenoiser) {
    // Tiny maps: one libtorch thread per op avoids contention between test threads.
    tch::set_num_threads(1);
    let s = ScheduleConfig::paper().build().unwrap();
    let m = N / 2 + 1;
    let mut mv = vec![0.0; N * m];
    for a in 0..N {
        let kx = if a <= N / 2 {
            a as f64
        } else {
            a as f64 - N as f64
        };
        for c in 0..m {
            let q2 = kx * kx + (c * c) as f64;
            // DC variance 0.5 too, so the mean is inferred like every other mode.
            mv[a * m + c] = 1.0 / (1.0 + q2 / 16.0) + if q2 == 0.0 { -0.5 } else { 0.0 };
        }
    }
    let den = GrfDenoiser::from_mode_variance(&s, N, 0.2, mv);
    (s, den)
}

/// Per-mode posterior variances (pixel units) and the implied per-pixel posterior variance.
fn posterior_mode_var(den: &GrfDenoiser, sigma: f64) -> (Vec<f64>, f64) {
    let s2 = sigma * sigma;
    let m = N / 2 + 1;
    let v: Vec<f64> = den.mode_var.iter().map(|&s| s * s2 / (s + s2)).collect();
    // Pixel variance = (1/N²) Σ over the full plane of mode variances.
    let w = |c: usize| if c == 0 || c == N / 2 { 1.0 } else { 2.0 };
    let pix = (0..N * m).map(|i| w(i % m) * v[i]).sum::<f64>() / (N * N) as f64;
    (v, pix)
}

/// Expectation and standard deviation of Σ_pixels (MC mean − exact posterior mean)² for
/// `n_in` maps and K exact posterior draws: a sum over independent modes, each contributing
/// |ΔF|²/N² with mean (posterior mode variance)/K.
fn mc_distance_stats(den: &GrfDenoiser, sigma: f64, n_in: usize, k: usize) -> (f64, f64) {
    let (pmv, _) = posterior_mode_var(den, sigma);
    let w = |i: usize| {
        let c = i % (N / 2 + 1);
        if c == 0 || c == N / 2 {
            1.0
        } else {
            2.0
        }
    };
    let e = n_in as f64 * (0..pmv.len()).map(|i| w(i) * pmv[i]).sum::<f64>() / k as f64;
    let var = n_in as f64 * 2.0 * (0..pmv.len()).map(|i| w(i) * pmv[i].powi(2)).sum::<f64>();
    (e, var.sqrt() / k as f64)
}

#[test]
fn exact_injection_posterior_is_the_wiener_filter_and_calibrated() {
    let (s, den) = setup();
    let n_in = 16i64;
    let k = 64usize;
    let t_grid = 200;
    let sigma = s.sigmas[t_grid]; // on the grid: no top-up noise, t* = 200
    let plan = plan_injection(&s, sigma, Injection::Exact).unwrap();
    assert_eq!(plan.t_star, t_grid);
    assert!(plan.top_up_std < 1e-6);

    let mut rng = NoiseRng::new(11);
    let truth = den.sample_prior(n_in, &mut rng, dev());
    let y = &truth + rng.randn(&[n_in, 1, N as i64, N as i64], dev(), Kind::Float) * sigma;
    let post = denoise_posterior(
        &den,
        &s,
        &y,
        sigma,
        &PosteriorConfig {
            injection: Injection::Exact,
            samples: k,
            sampler: SamplerConfig::ddpm(),
            seed: 5,
        },
        None,
    )
    .unwrap();
    assert_eq!(post.samples.size(), [n_in, k as i64, 1, N as i64, N as i64]);
    assert_eq!(post.nfe, n_in as usize * (t_grid + 1));

    // Posterior mean vs the Wiener filter from the pure-Rust implementation.
    let mv = Array2::from_shape_vec((N, N / 2 + 1), den.mode_var.clone()).unwrap();
    let mean = post.mean();
    let (_, pix_var) = posterior_mode_var(&den, sigma);
    let mut sq = 0.0;
    for i in 0..n_in {
        let yi = Array2::from_shape_vec((N, N), to_vec(&y.get(i))).unwrap();
        let w = wiener_filter(yi.view(), mv.view(), sigma, den.mean).unwrap();
        let mi = to_vec(&mean.get(i));
        sq += mi
            .iter()
            .zip(w.iter())
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>();
    }
    let (e_sq, sd_sq) = mc_distance_stats(&den, sigma, n_in as usize, k);
    eprintln!("Σ(mean − Wiener)² = {sq:.3}, expected {e_sq:.3} ± {sd_sq:.3}");
    assert!(
        (sq - e_sq).abs() < 4.0 * sd_sq,
        "posterior mean is not the Wiener filter"
    );

    // Posterior std: pixel variance of the samples around their mean.
    // The DDPM chain from a fixed x_{t*} has a known per-mode output variance slightly below the
    // exact posterior's (β̃ is the lower-bound variance choice): propagate it in f64.
    let chain_var = |s2: f64| {
        let mut v = 0.0;
        for t in (0..=t_grid).rev() {
            let (a, ap) = (s.alphas_cumprod[t], s.alpha_bar(t as i64 - 1));
            let k0 = a.sqrt() * s2 / (a * s2 + 1.0 - a);
            let lin = s.posterior_mean_coef1[t] * k0 + s.posterior_mean_coef2[t];
            v = lin * lin * v + s.betas[t] * (1.0 - ap) / (1.0 - a);
        }
        v
    };
    let m = N / 2 + 1;
    let w = |i: usize| {
        let c = i % m;
        if c == 0 || c == N / 2 {
            1.0
        } else {
            2.0
        }
    };
    let cv: Vec<f64> = den.mode_var.iter().map(|&s2| chain_var(s2)).collect();
    let npix = (N * N) as f64;
    let v_chain = (0..cv.len()).map(|i| w(i) * cv[i]).sum::<f64>() / npix;
    let v_sd = ((0..cv.len())
        .map(|i| w(i) * 2.0 * cv[i].powi(2))
        .sum::<f64>()
        / (k as f64 - 1.0)
        / n_in as f64)
        .sqrt()
        / npix;
    let v_obs = post.std().square().mean(Kind::Double).double_value(&[]);
    eprintln!(
        "posterior pixel variance {v_obs:.4}: DDPM chain {v_chain:.4} ± {v_sd:.4}, exact posterior {pix_var:.4}"
    );
    assert!((v_obs - v_chain).abs() < 4.0 * v_sd);
    assert!(
        (v_chain / pix_var - 1.0).abs() < 0.03,
        "discretisation bias above 3%"
    );

    // Calibration: expected coverage of a K-sample empirical interval is level·(K−1)/(K+1);
    // tolerance from the scatter of per-map coverages (maps are independent).
    for level in [0.68, 0.95] {
        let expected = level * (k as f64 - 1.0) / (k as f64 + 1.0);
        let per_map: Vec<f64> = (0..n_in)
            .map(|i| {
                let p = diffusion::inverse::Posterior {
                    samples: post.samples.narrow(0, i, 1),
                    plan: post.plan,
                    nfe: 0,
                };
                p.coverage(&truth.narrow(0, i, 1), level).unwrap()
            })
            .collect();
        let c = post.coverage(&truth, level).unwrap();
        let mu = per_map.iter().sum::<f64>() / n_in as f64;
        assert!((mu - c).abs() < 1e-12);
        let se = (per_map.iter().map(|x| (x - mu).powi(2)).sum::<f64>()
            / (n_in as f64 - 1.0)
            / n_in as f64)
            .sqrt();
        eprintln!("coverage {level}: {c:.4} (expected {expected:.4}, s.e. {se:.4})");
        assert!(
            (c - expected).abs() < 4.0 * se.max(1e-3),
            "coverage {level}: {c}"
        );
    }
}

#[test]
fn paper_injection_is_biased_and_off_grid_sigma_tops_up() {
    let (s, den) = setup();
    // SNR ~ 1: ᾱ_{t*} ≈ 0.5, so the paper's unscaled start is off by a factor ≈ sqrt(2).
    let sigma = 1.0;
    let exact = plan_injection(&s, sigma, Injection::Exact).unwrap();
    assert!(exact.sigma_t_star >= sigma && s.sigmas[exact.t_star - 1] < sigma);
    let a = s.alphas_cumprod[exact.t_star];
    // Scaled observation + top-up has exactly the forward marginal's noise variance 1 − ᾱ.
    assert!((a * sigma * sigma + exact.top_up_std.powi(2) - (1.0 - a)).abs() < 1e-12);
    let paper = plan_injection(&s, sigma, Injection::Paper).unwrap();
    assert_eq!(paper.scale, 1.0);
    assert!((paper.t_star as i64 - exact.t_star as i64).abs() <= 1);

    // The paper's unscaled injection misses the Wiener filter by far more than MC error.
    let mut rng = NoiseRng::new(3);
    let truth = den.sample_prior(4, &mut rng, Device::Cpu);
    let y = &truth + rng.randn(&[4, 1, N as i64, N as i64], Device::Cpu, Kind::Float) * sigma;
    let mv = Array2::from_shape_vec((N, N / 2 + 1), den.mode_var.clone()).unwrap();
    let run = |inj| {
        let p = denoise_posterior(
            &den,
            &s,
            &y,
            sigma,
            &PosteriorConfig {
                injection: inj,
                samples: 32,
                sampler: SamplerConfig::ddpm(),
                seed: 1,
            },
            None,
        )
        .unwrap();
        let m = p.mean();
        let mut sq = 0.0;
        for i in 0..4 {
            let yi = Array2::from_shape_vec((N, N), to_vec(&y.get(i))).unwrap();
            let w = wiener_filter(yi.view(), mv.view(), sigma, den.mean).unwrap();
            sq += to_vec(&m.get(i))
                .iter()
                .zip(w.iter())
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>();
        }
        sq
    };
    let (e, p) = (run(Injection::Exact), run(Injection::Paper));
    let (mc, sd) = mc_distance_stats(&den, sigma, 4, 32);
    eprintln!("Σ(mean − Wiener)²: exact {e:.3}, paper {p:.3}, Monte-Carlo only {mc:.3} ± {sd:.3}");
    // Exact: only Monte-Carlo scatter; paper: a bias far beyond it.
    assert!((e - mc).abs() < 4.0 * sd);
    assert!(p > mc + 20.0 * sd);
}

#[test]
fn bad_inputs_are_clear_errors() {
    let (s, den) = setup();
    let y = Tensor::zeros([1, 1, N as i64, N as i64], (Kind::Float, Device::Cpu));
    let cfg = SamplerConfig::ddpm();
    let run = |y: &Tensor, sigma: f64, k: usize| {
        let pc = PosteriorConfig {
            injection: Injection::Exact,
            samples: k,
            sampler: cfg,
            seed: 0,
        };
        denoise_posterior(&den, &s, y, sigma, &pc, None).unwrap_err()
    };
    assert!(matches!(
        run(&y, 0.0, 4),
        InverseError::Schedule(ScheduleError::BadSigma(_))
    ));
    assert!(matches!(
        run(&y, -1.0, 4),
        InverseError::Schedule(ScheduleError::BadSigma(_))
    ));
    let e = run(&y, 1e9, 4);
    assert!(matches!(
        e,
        InverseError::Schedule(ScheduleError::SigmaTooLarge { .. })
    ));
    assert!(e.to_string().contains("exceeds"), "{e}");
    assert!(matches!(run(&y, 0.5, 0), InverseError::ZeroSamples));
    let bad = y.copy();
    let _ = bad.get(0).get(0).get(3).get(3).fill_(f64::NAN);
    assert!(matches!(run(&bad, 0.5, 2), InverseError::NonFinite));
    let flat = Tensor::zeros([N as i64, N as i64], (Kind::Float, Device::Cpu));
    assert!(matches!(run(&flat, 0.5, 2), InverseError::BadShape { .. }));
    assert!("nope".parse::<Injection>().is_err());
}
