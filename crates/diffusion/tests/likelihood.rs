//! The diffusion likelihood (VLB) and guidance against analytic oracles: no training.
//!
//! Oracles:
//! * For unit-variance white noise the forward process is stationary, so the reverse kernels
//!   N(√α_t x_t, β_t) of the `Large` bound with the exact denoiser are the true ones and the
//!   expected bound equals log p(x_0) exactly, for every x_0.
//! * For a Gaussian random field with P(k) = A q^n the exact log-likelihood is closed form
//!   (`GrfDenoiser::log_density`), so the posterior over (ln A, n) from the bound can be set
//!   against the exact posterior on the same grid, field by field, and both can be checked for
//!   coverage over many draws.
//!
//! Tolerances and where they come from are stated beside each assertion.

mod common;
use common::{dev, to_vec};

use diffusion::analytic::{GaussianDenoiser, GrfDenoiser};
use diffusion::guidance::Guided;
use diffusion::likelihood::{ReverseVariance, VlbConfig, VlbEstimator};
use diffusion::sampler::{sample, Denoiser, NoiseRng, SamplerConfig};
use diffusion::schedule::{NoiseSchedule, ScheduleConfig};
use stats::posterior::{grid_points, monte_carlo_std, GridPosterior};
use stats::power_spectrum::wavenumber;
use tch::{Kind, Tensor};

fn paper() -> NoiseSchedule {
    NoiseSchedule::new(&ScheduleConfig::paper()).unwrap()
}

/// The power law λ(q) = A q^n per Fourier mode (pixel units, q the integer wavenumber
/// magnitude), with the DC mode at a fixed variance 1 (θ-independent).
fn power_law(s: &NoiseSchedule, n: usize, ln_a: f64, slope: f64) -> GrfDenoiser {
    let m = n / 2 + 1;
    // The project's FFT index convention (one home: stats::power_spectrum::wavenumber).
    let wn = |i: usize| wavenumber(i, n) as f64;
    let v = (0..n * m)
        .map(|i| {
            let q = (wn(i / m).powi(2) + wn(i % m).powi(2)).sqrt();
            if q == 0.0 {
                1.0
            } else {
                ln_a.exp() * q.powf(slope)
            }
        })
        .collect();
    GrfDenoiser::from_mode_variance(s, n, 0.0, v)
}

/// Fisher-matrix standard deviations of (ln A, n) for one N² field: F = ½ Σ_k ∇ln λ ∇ln λᵀ
/// over all non-DC modes, ∇ln λ = (1, ln q).
fn fisher_sigmas(n: usize) -> (f64, f64) {
    // The project's FFT index convention (one home: stats::power_spectrum::wavenumber).
    let wn = |i: usize| wavenumber(i, n) as f64;
    let (mut f00, mut f01, mut f11) = (0.0, 0.0, 0.0);
    for a in 0..n {
        for b in 0..n {
            let q = (wn(a).powi(2) + wn(b).powi(2)).sqrt();
            if q > 0.0 {
                let l = q.ln();
                f00 += 0.5;
                f01 += 0.5 * l;
                f11 += 0.5 * l * l;
            }
        }
    }
    let det = f00 * f11 - f01 * f01;
    ((f11 / det).sqrt(), (f00 / det).sqrt())
}

fn linspace(a: f64, b: f64, k: usize) -> Vec<f64> {
    (0..k)
        .map(|i| a + (b - a) * i as f64 / (k - 1) as f64)
        .collect()
}

/// The power-law case of the posterior tests: 4 fields of 16², truth ln A = ln 2, n = −1.5, and a
/// 19 × 19 grid over ±6 Fisher σ: (schedule, side, fields, axes).
fn power_law_case() -> (NoiseSchedule, usize, Tensor, Vec<Vec<f64>>) {
    let s = paper();
    let n = 16;
    let (ln_a, slope) = (2f64.ln(), -1.5);
    let (sa, sn) = fisher_sigmas(n);
    let x0 = power_law(&s, n, ln_a, slope).sample_prior(4, &mut NoiseRng::new(2024), dev());
    let axes = vec![
        linspace(ln_a - 6.0 * sa, ln_a + 6.0 * sa, 19),
        linspace(slope - 6.0 * sn, slope + 6.0 * sn, 19),
    ];
    (s, n, x0, axes)
}

/// Log-likelihood tables [field][grid node] from the bound and from the exact density.
fn tables(
    s: &NoiseSchedule,
    n: usize,
    x0: &Tensor,
    axes: &[Vec<f64>],
    cfg: &VlbConfig,
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let est = VlbEstimator::new(s, x0, cfg).unwrap();
    let b = est.n_fields();
    let (mut vlb, mut exact) = (vec![vec![]; b], vec![vec![]; b]);
    for p in grid_points(axes) {
        let g = power_law(s, n, p[0], p[1]);
        for (i, v) in est.log_likelihood(&g).unwrap().into_iter().enumerate() {
            vlb[i].push(v);
        }
        for (i, v) in g.log_density(x0).unwrap().into_iter().enumerate() {
            exact[i].push(v);
        }
    }
    (vlb, exact)
}

/// The expected −bound of one Fourier mode of variance λ given its value x_0, E_ε[−VLB] =
/// k₂ x_0² + k₀, with the exact denoiser: an independent scalar transcription of the bound
/// (E[x_0 | x_t] = g_t x_t, g_t = √ᾱ_t λ/(ᾱ_t λ + 1 − ᾱ_t)). Returns (k₂, k₀).
#[allow(clippy::needless_range_loop)] // t indexes four schedule tables at once
fn expected_neg_bound(s: &NoiseSchedule, lam: f64, variance: ReverseVariance) -> (f64, f64) {
    let t_n = s.timesteps();
    let ab = &s.alphas_cumprod;
    let var = |t: usize| match (variance, t) {
        (ReverseVariance::Large, _) => s.betas[t],
        (ReverseVariance::Small, 0) => s.posterior_variance[1],
        (ReverseVariance::Small, _) => s.posterior_variance[t],
    };
    let g = |t: usize| ab[t].sqrt() * lam / (ab[t] * lam + 1.0 - ab[t]);
    let (mut k2, mut k0) = (0.0, 0.0);
    for t in 0..t_n {
        // The x_0 error of the reverse mean, times the factor that maps it to the mean error.
        let c = if t == 0 {
            1.0
        } else {
            s.posterior_mean_coef1[t]
        };
        let e2 = (1.0 - g(t) * ab[t].sqrt()).powi(2);
        let e0 = g(t).powi(2) * (1.0 - ab[t]);
        k2 += c * c * e2 / (2.0 * var(t));
        k0 += c * c * e0 / (2.0 * var(t));
        if t == 0 {
            k0 += 0.5 * (2.0 * std::f64::consts::PI * var(0)).ln();
        } else {
            let r = s.posterior_variance[t] / var(t);
            k0 += 0.5 * (r - 1.0 - r.ln());
        }
    }
    let a = ab[t_n - 1];
    (k2 + 0.5 * a, k0 + 0.5 * ((1.0 - a) - 1.0 - (1.0 - a).ln()))
}

/// White noise of variance λ per pixel, the exact denoiser: the mean of 64 independent
/// estimates of the bound for one field misses log p by the scalar expectation above, within 4
/// standard errors. At λ = 1 with `Large` that expectation is exactly 0 (stationary process).
#[test]
fn the_bound_misses_log_p_by_its_expected_gap_for_white_noise() {
    let s = paper();
    let copies = 64;
    for lam in [1.0f64, 0.01, 10.0] {
        let mut rng = NoiseRng::new(7);
        let one = rng.randn(&[1, 1, 8, 8], dev(), Kind::Double) * lam.sqrt();
        let x0 = one.repeat([copies, 1, 1, 1]);
        let den = GaussianDenoiser::new(&s, 0.0, lam.sqrt());
        let xs = to_vec(&one);
        let log_p: f64 = xs
            .iter()
            .map(|v| -0.5 * v * v / lam - 0.5 * (2.0 * std::f64::consts::PI * lam).ln())
            .sum();
        for variance in [ReverseVariance::Large, ReverseVariance::Small] {
            let (k2, k0) = expected_neg_bound(&s, lam, variance);
            let expected_gap: f64 = xs
                .iter()
                .map(|v| {
                    (k0 - 0.5 * (2.0 * std::f64::consts::PI * lam).ln()) + (k2 - 0.5 / lam) * v * v
                })
                .sum();
            if lam == 1.0 && variance == ReverseVariance::Large {
                assert!(
                    expected_gap.abs() < 1e-6,
                    "stationary case: gap {expected_gap}"
                );
            }
            let cfg = VlbConfig {
                variance,
                seed: 3,
                ..Default::default()
            };
            let v = VlbEstimator::new(&s, &x0, &cfg)
                .unwrap()
                .log_likelihood(&den)
                .unwrap();
            let mean = v.iter().sum::<f64>() / copies as f64;
            let sd =
                (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (copies - 1) as f64).sqrt();
            let se = sd / (copies as f64).sqrt();
            println!(
                "λ = {lam}, {variance:?}: log p − bound = {:.3} ± {se:.3}, expected {expected_gap:.3}",
                log_p - mean
            );
            assert!(
                (log_p - mean - expected_gap).abs() < 4.0 * se,
                "λ = {lam}, {variance:?}: gap {} against {expected_gap} ± {se}",
                log_p - mean
            );
        }
    }
}

#[test]
fn the_bound_is_reproducible_independent_of_chunking_and_checks_its_input() {
    let s = paper();
    let g = power_law(&s, 8, 0.5, -1.5);
    let x0 = g.sample_prior(3, &mut NoiseRng::new(1), dev());
    let cfg = VlbConfig {
        seed: 11,
        t_max: Some(200),
        ..Default::default()
    };
    let a = VlbEstimator::new(&s, &x0, &cfg)
        .unwrap()
        .log_likelihood(&g)
        .unwrap();
    let b = VlbEstimator::new(&s, &x0, &VlbConfig { chunk: 37, ..cfg })
        .unwrap()
        .log_likelihood(&g)
        .unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{x} vs {y}");
    }
    // A different seed gives different noise, hence a different value.
    let c = VlbEstimator::new(&s, &x0, &VlbConfig { seed: 12, ..cfg })
        .unwrap()
        .log_likelihood(&g)
        .unwrap();
    assert_ne!(a, c);
    // The first field's noise does not depend on how many fields come after it.
    let d = VlbEstimator::new(&s, &x0.narrow(0, 0, 1), &cfg)
        .unwrap()
        .log_likelihood(&g)
        .unwrap();
    assert!((d[0] - a[0]).abs() <= 1e-9 * a[0].abs());

    let err =
        |cfg: VlbConfig, x: &Tensor| VlbEstimator::new(&s, x, &cfg).err().unwrap().to_string();
    assert!(err(
        VlbConfig {
            t_max: Some(0),
            ..cfg
        },
        &x0
    )
    .contains("t_max = 0 is outside 1..=2000"));
    assert!(err(
        VlbConfig {
            t_max: Some(2001),
            ..cfg
        },
        &x0
    )
    .contains("t_max = 2001"));
    assert!(err(VlbConfig { draws: 0, ..cfg }, &x0).contains("draws = 0"));
    assert!(err(cfg, &x0.view([3, 8, 8])).contains("must be [B, C, H, W]"));
    let bad = x0.copy();
    let _ = bad.get(0).get(0).get(0).get(0).fill_(f64::NAN);
    assert!(err(cfg, &bad).contains("NaN or infinite"));
    assert!("medium"
        .parse::<ReverseVariance>()
        .unwrap_err()
        .to_string()
        .contains("expected small or large"));
}

/// The must-show of issue 13 (analytic part): for GRFs with P ∝ A q^n and the exact conditional
/// denoiser, the bound's posterior over (ln A, n) agrees with the exact one.
///
/// Tolerances, from the bound's known gap (docs/emulator.md): with `Large` the expected bound
/// misses log p by ≤ 0.014 nats per mode and its coefficient of |x̂_k|² by ≤ 1.8 % over the
/// λ ∈ [0.04, 2] these fields span, so the exact surface is tilted and bent by ≲ 2 %: a shift
/// of the mean of ≲ 0.02/σ(ln A) ≈ 0.15σ and a change of width of ~1 %. On top of that comes the
/// Monte Carlo noise of one ε per timestep (common to every θ, so it shifts rather than roughens
/// the surface). We allow means within 0.35σ and widths within 12 % per field.
#[test]
fn bound_posterior_over_a_power_law_matches_the_exact_gaussian_posterior() {
    let (s, n, x0, axes) = power_law_case();
    let cfg = VlbConfig {
        seed: 5,
        ..Default::default()
    };
    let (vlb, exact) = tables(&s, n, &x0, &axes, &cfg);
    for f in 0..vlb.len() {
        let pv = GridPosterior::new(axes.clone(), &vlb[f]).unwrap();
        let pe = GridPosterior::new(axes.clone(), &exact[f]).unwrap();
        for p in 0..2 {
            let (mv, me) = (pv.marginal(p), pe.marginal(p));
            println!(
                "field {f} param {p}: bound {:.4} ± {:.4}, exact {:.4} ± {:.4}, shift {:+.3}σ, width {:+.1}%",
                mv.mean, mv.std, me.mean, me.std,
                (mv.mean - me.mean) / me.std, 100.0 * (mv.std / me.std - 1.0)
            );
            assert!(
                (mv.mean - me.mean).abs() < 0.35 * me.std,
                "field {f} param {p}: means"
            );
            assert!(
                (mv.std / me.std - 1.0).abs() < 0.06,
                "field {f} param {p}: widths"
            );
            assert!(
                pv.edge_mass(p) < 1e-3 && pe.edge_mass(p) < 1e-3,
                "grid too narrow"
            );
        }
    }
    // Truncation to the first 20 timesteps (Diffusion-HMC's choice), measured on the same
    // fields: what is lost is the information of the noise levels above σ ≈ 0.05, where these
    // fields (λ ∈ [0.04, 2]) keep most of theirs.
    let est = VlbEstimator::new(
        &s,
        &x0,
        &VlbConfig {
            t_max: Some(20),
            ..cfg
        },
    )
    .unwrap();
    let mut trunc = vec![vec![]; est.n_fields()];
    for p in grid_points(&axes) {
        for (i, v) in est
            .log_likelihood(&power_law(&s, n, p[0], p[1]))
            .unwrap()
            .into_iter()
            .enumerate()
        {
            trunc[i].push(v);
        }
    }
    for f in 0..trunc.len() {
        let pt = GridPosterior::new(axes.clone(), &trunc[f]).unwrap();
        let pe = GridPosterior::new(axes.clone(), &exact[f]).unwrap();
        for p in 0..2 {
            let (mt, me) = (pt.marginal(p), pe.marginal(p));
            println!(
                "t_max = 20, field {f} param {p}: {:.4} ± {:.4}, shift {:+.3}σ, width ×{:.2}, edge mass {:.3}",
                mt.mean, mt.std, (mt.mean - me.mean) / me.std, mt.std / me.std, pt.edge_mass(p)
            );
            // Measured ×2.6–3.3 (a lower bound: the ±6σ box cuts the truncated posterior).
            assert!(
                mt.std / me.std > 2.0,
                "field {f} param {p}: truncation should cost information"
            );
        }
    }
}

/// The stride of the bound (one network call per block of s timesteps, counted s times) on the
/// fields of the test above: the cost falls s-fold, the posterior stays near the exact one.
/// Measured (2026-12-04): stride 5 and 20 shift the means by at most 0.43σ at stride 20 (the full
/// bound: 0.19σ) and change the widths by ≤ 3.5 %; at stride 100 the shifts reach 2.1σ and the
/// widths 17 %, which is why the CLI's default is 20. The shifts come from the Monte Carlo noise
/// of one ε per evaluated step, which the stride multiplies.
#[test]
fn strided_bound_posterior_stays_near_the_exact_posterior() {
    let (s, n, x0, axes) = power_law_case();
    for (stride, mean_tol, width_tol) in [(5, 0.4, 0.06), (20, 0.6, 0.06)] {
        let cfg = VlbConfig {
            seed: 5,
            stride,
            ..Default::default()
        };
        assert_eq!(
            cfg.evaluated_steps(&s).unwrap().len(),
            1 + 1999usize.div_ceil(stride),
            "t = 0 and one per block"
        );
        let counted: f64 = cfg.evaluated_steps(&s).unwrap().iter().map(|e| e.1).sum();
        assert_eq!(counted, 2000.0, "every timestep counted once");
        let (vlb, exact) = tables(&s, n, &x0, &axes, &cfg);
        let (mut worst_mean, mut worst_width) = (0f64, 0f64);
        for f in 0..vlb.len() {
            let pv = GridPosterior::new(axes.clone(), &vlb[f]).unwrap();
            let pe = GridPosterior::new(axes.clone(), &exact[f]).unwrap();
            for p in 0..2 {
                let (mv, me) = (pv.marginal(p), pe.marginal(p));
                let (shift, width) = ((mv.mean - me.mean) / me.std, mv.std / me.std - 1.0);
                println!(
                    "stride {stride}, field {f} param {p}: shift {shift:+.3}σ, width {:+.1}%",
                    100.0 * width
                );
                worst_mean = worst_mean.max(shift.abs());
                worst_width = worst_width.max(width.abs());
            }
        }
        println!(
            "stride {stride}: worst shift {worst_mean:.3}σ, worst width {:.1}%",
            100.0 * worst_width
        );
        assert!(worst_mean < mean_tol, "stride {stride}: means {worst_mean}");
        assert!(
            worst_width < width_tol,
            "stride {stride}: widths {worst_width}"
        );
    }
}

/// The Monte Carlo error that `pipeline::infer` adds to a posterior: with D noise draws per
/// timestep, each draw's own bound (`log_likelihood_draws`) averages to the bound, and the
/// jackknife over draws (`stats::posterior::monte_carlo_std`) predicts how far the averaged
/// posterior's mean moves when the noise is drawn afresh. Checked on one field over 40 seeds of
/// the common random numbers, on an 11² grid over ±4 Fisher σ: the observed standard deviation
/// of the averaged posterior's mean over seeds against the root-mean-square predicted error.
/// With 40 seeds the observed one carries ≈ 11 % relative error and the prediction (120 degrees
/// of freedom) ≈ 6.5 %, so the two agree within a factor 1.4 (2.6 σ) when the estimate is right.
/// (10 seeds were too few: one parameter came out 0.60× by chance, 1.09× at 40.)
#[test]
fn draw_spread_predicts_the_monte_carlo_error_of_the_posterior_mean() {
    let (s, n, x0, _) = power_law_case();
    let x0 = x0.narrow(0, 0, 1);
    let (sa, sn) = fisher_sigmas(n);
    let axes = vec![
        linspace(2f64.ln() - 4.0 * sa, 2f64.ln() + 4.0 * sa, 11),
        linspace(-1.5 - 4.0 * sn, -1.5 + 4.0 * sn, 11),
    ];
    let draws = 4;
    let mut means: Vec<Vec<f64>> = vec![vec![]; 2];
    let mut predicted_sq = [0.0f64; 2];
    let seeds = 40;
    for seed in 0..seeds {
        let cfg = VlbConfig {
            seed,
            stride: 40,
            draws,
            ..Default::default()
        };
        let est = VlbEstimator::new(&s, &x0, &cfg).unwrap();
        let mut per_draw = vec![vec![]; draws];
        let mut averaged = vec![];
        for p in grid_points(&axes) {
            let g = power_law(&s, n, p[0], p[1]);
            let each = est.log_likelihood_draws(&g).unwrap().remove(0);
            let mean = est.log_likelihood(&g).unwrap()[0];
            let avg = each.iter().sum::<f64>() / draws as f64;
            assert!(
                (avg - mean).abs() <= 1e-9 * mean.abs(),
                "draws average to the bound: {avg} vs {mean}"
            );
            for (d, v) in each.into_iter().enumerate() {
                per_draw[d].push(v);
            }
            averaged.push(mean);
        }
        let post = GridPosterior::new(axes.clone(), &averaged).unwrap();
        let mc = monte_carlo_std(&axes, &per_draw).unwrap();
        for p in 0..2 {
            means[p].push(post.marginal(p).mean);
            predicted_sq[p] += mc[p] * mc[p] / seeds as f64;
        }
    }
    for p in 0..2 {
        let m = means[p].iter().sum::<f64>() / seeds as f64;
        let observed =
            (means[p].iter().map(|v| (v - m).powi(2)).sum::<f64>() / (seeds - 1) as f64).sqrt();
        let predicted = predicted_sq[p].sqrt();
        println!("param {p}: observed {observed:.4}, predicted {predicted:.4}");
        assert!(
            observed > 0.0 && (observed / predicted).ln().abs() < 1.4f64.ln(),
            "param {p}: seed-to-seed std {observed} against predicted {predicted}"
        );
    }
    // One draw has no spread to read.
    assert!(monte_carlo_std(&axes, &[vec![0.0; 121]]).is_err());
}

/// Over 100 independent fields with the same truth, the bound's central 68 % and 95 % intervals
/// contain the truth at their nominal rates within Monte Carlo error: 3 binomial standard
/// deviations over 100 draws, ±14 % and ±6.5 %. The exact posterior is held to the same.
#[test]
fn bound_posterior_intervals_cover_at_their_nominal_rates() {
    let s = paper();
    let n = 8;
    let draws = 100;
    let (ln_a, slope) = (2f64.ln(), -1.5);
    let (sa, sn) = fisher_sigmas(n);
    let truth = power_law(&s, n, ln_a, slope);
    let x0 = truth.sample_prior(draws, &mut NoiseRng::new(99), dev());
    let axes = vec![
        linspace(ln_a - 5.0 * sa, ln_a + 5.0 * sa, 15),
        linspace(slope - 5.0 * sn, slope + 5.0 * sn, 15),
    ];
    let cfg = VlbConfig {
        seed: 8,
        chunk: 16384,
        ..Default::default()
    };
    let (vlb, exact) = tables(&s, n, &x0, &axes, &cfg);
    let truth_v = [ln_a, slope];
    for (name, table) in [("bound", &vlb), ("exact", &exact)] {
        let mut hits = [[0usize; 2]; 2];
        for t in table.iter() {
            let post = GridPosterior::new(axes.clone(), t).unwrap();
            for p in 0..2 {
                let m = post.marginal(p);
                hits[p][0] += (m.q16 <= truth_v[p] && truth_v[p] <= m.q84) as usize;
                hits[p][1] += (m.q025 <= truth_v[p] && truth_v[p] <= m.q975) as usize;
            }
        }
        println!(
            "{name}: 68% coverage (ln A, n) = {:?}, 95% = {:?} of {draws}",
            [hits[0][0], hits[1][0]],
            [hits[0][1], hits[1][1]]
        );
        for (p, h) in hits.iter().enumerate() {
            let (c68, c95) = (h[0] as f64 / draws as f64, h[1] as f64 / draws as f64);
            assert!(
                (c68 - 0.68).abs() <= 0.14,
                "{name} param {p}: 68% coverage {c68}"
            );
            assert!(
                (c95 - 0.95).abs() <= 0.065,
                "{name} param {p}: 95% coverage {c95}"
            );
        }
    }
}

#[test]
fn guidance_weight_zero_is_the_conditional_sampler_and_others_extrapolate_the_mean() {
    let s = NoiseSchedule::new(&ScheduleConfig::linear(100, 1e-3, 0.2)).unwrap();
    let cond = GaussianDenoiser::new(&s, 1.0, 0.5);
    let uncond = GaussianDenoiser::new(&s, 0.0, 0.5);
    let sc = SamplerConfig::ddpm();
    let plain = sample(&cond, &s, &sc, &[4, 1, 8, 8], dev(), 3, None)
        .unwrap()
        .x0;
    let g0 = Guided {
        conditional: &cond,
        unconditional: &uncond,
        weight: 0.0,
    };
    let guided = sample(&g0, &s, &sc, &[4, 1, 8, 8], dev(), 3, None)
        .unwrap()
        .x0;
    assert!(
        plain.equal(&guided),
        "w = 0 must be the plain conditional sampler, bit for bit"
    );
    // The exact ε̂ of a Gaussian is affine in its mean, so guidance with weight w is the exact
    // denoiser of mean (1 + w) μ_c − w μ_u.
    let w = 1.5;
    let g = Guided {
        conditional: &cond,
        unconditional: &uncond,
        weight: w,
    };
    let target = GaussianDenoiser::new(&s, (1.0 + w) * 1.0 - w * 0.0, 0.5);
    let x = NoiseRng::new(4).randn(&[5, 1, 8, 8], dev(), Kind::Double);
    let t = Tensor::from_slice(&[0i64, 10, 50, 90, 99]).to_device(dev());
    let diff = (g.predict_eps(&x, &t) - target.predict_eps(&x, &t))
        .abs()
        .max()
        .double_value(&[]);
    assert!(diff < 1e-12, "guided ε̂ differs by {diff}");
    // w = −1 is the unconditional model.
    let gm = Guided {
        conditional: &cond,
        unconditional: &uncond,
        weight: -1.0,
    };
    let diff = (gm.predict_eps(&x, &t) - uncond.predict_eps(&x, &t))
        .abs()
        .max()
        .double_value(&[]);
    assert!(diff < 1e-12);
}
