//! Linear theory: growth factor against closed forms, σ₈ normalisation, EH98 transfer sanity.

use sim::{CosmoParams, Cosmology};

/// Exact flat-ΛCDM growing mode normalised to D → a: D(a) = a ₂F₁(1/3, 1; 11/6; −x), x = a³Ω_Λ/Ω_m,
/// evaluated through the Pfaff transformation ₂F₁(1, 1/3; 11/6; z) = (1−z)⁻¹ ₂F₁(1, 3/2; 11/6; z/(z−1)),
/// whose series converges for every x ≥ 0. Independent of the Heath integral used by the crate.
fn growth_hypergeometric(a: f64, om: f64) -> f64 {
    let x = a.powi(3) * (1.0 - om) / om;
    let w = x / (1.0 + x);
    let (mut term, mut sum) = (1.0, 1.0);
    for n in 0..5000 {
        let nf = n as f64;
        term *= (1.0 + nf) * (1.5 + nf) / ((11.0 / 6.0 + nf) * (1.0 + nf)) * w;
        sum += term;
        if term.abs() < 1e-16 * sum {
            break;
        }
    }
    a * sum / (1.0 + x)
}

/// Carroll, Press & Turner (1992) fit: D(a)/a = (5/2) Ω_m(a) / [Ω_m(a)^{4/7} − Ω_Λ(a) + (1 + Ω_m(a)/2)(1 + Ω_Λ(a)/70)].
fn growth_cpt(a: f64, om: f64) -> f64 {
    let e2 = om / a.powi(3) + 1.0 - om;
    let oma = om / a.powi(3) / e2;
    let ola = (1.0 - om) / e2;
    a * 2.5 * oma / (oma.powf(4.0 / 7.0) - ola + (1.0 + oma / 2.0) * (1.0 + ola / 70.0))
}

#[test]
fn growth_matches_closed_form_and_cpt() {
    for &om in &[0.1, 0.2, 0.3, 0.5, 0.9] {
        let c = Cosmology::new(CosmoParams::with(om, 0.8)).unwrap();
        for &a in &[0.02, 0.1, 0.3, 0.5, 0.8, 1.0] {
            let d = c.growth(a);
            let exact = growth_hypergeometric(a, om);
            assert!(
                (d / exact - 1.0).abs() < 1e-6,
                "Ω_m={om} a={a}: D={d} vs exact {exact}"
            );
            // CPT is a fit: within 0.5% for Ω_m ≥ 0.3; it drifts to 2% at Ω_m = 0.1 (a = 1).
            let cpt = growth_cpt(a, om);
            let tol = if om >= 0.3 { 5e-3 } else { 2.5e-2 };
            assert!(
                (d / cpt - 1.0).abs() < tol,
                "Ω_m={om} a={a}: D={d} vs CPT {cpt}"
            );
        }
        // Early-time normalisation D → a.
        assert!((c.growth(1e-3) / 1e-3 - 1.0).abs() < 1e-4);
    }
    // A tabulated value: D(1) = 0.7789 for Ω_m = 0.3 (e.g. Hamilton 2001 / CAMB ratio), to 0.1%.
    let c = Cosmology::new(CosmoParams::with(0.3, 0.8)).unwrap();
    assert!(
        (c.growth(1.0) / 0.7789 - 1.0).abs() < 1e-3,
        "D(1) = {}",
        c.growth(1.0)
    );
}

#[test]
fn growth_rate_is_log_derivative() {
    let c = Cosmology::new(CosmoParams::with(0.27, 0.8)).unwrap();
    for &a in &[0.05, 0.2, 0.6, 1.0] {
        let h = 1e-4;
        let num = ((c.growth(a * (1.0 + h))).ln() - (c.growth(a * (1.0 - h))).ln())
            / ((1.0 + h).ln() - (1.0 - h).ln());
        assert!(
            (c.growth_rate(a) - num).abs() < 1e-6,
            "a={a}: f={} numeric {num}",
            c.growth_rate(a)
        );
    }
    // f ≈ Ω_m(a)^0.55 (Linder 2005) to 1%.
    let f = c.growth_rate(1.0);
    assert!((f / 0.27f64.powf(0.55) - 1.0).abs() < 0.01, "f(1) = {f}");
}

/// σ₈ recomputed from P(k) with an independent quadrature (trapezoid in k on a fine log grid).
#[test]
fn sigma8_normalisation() {
    for &(om, s8) in &[(0.1, 0.6), (0.3, 0.8), (0.5, 1.0)] {
        let c = Cosmology::new(CosmoParams::with(om, s8)).unwrap();
        let n = 200_000;
        let (lo, hi) = (1e-4f64.ln(), 1e2f64.ln());
        let mut s = 0.0;
        let mut prev: Option<(f64, f64)> = None;
        for i in 0..=n {
            let k = (lo + (hi - lo) * i as f64 / n as f64).exp();
            let w = sim::cosmology::tophat_window(8.0 * k);
            let f = k * k * c.power_linear(k) * w * w;
            if let Some((k0, f0)) = prev {
                s += 0.5 * (f + f0) * (k - k0);
            }
            prev = Some((k, f));
        }
        let sigma8 = (s / (2.0 * std::f64::consts::PI.powi(2))).sqrt();
        assert!(
            (sigma8 / s8 - 1.0).abs() < 1e-3,
            "Ω_m={om}: σ8 back = {sigma8}, want {s8}"
        );
    }
}

#[test]
fn eisenstein_hu_transfer_sane() {
    let c = Cosmology::new(CosmoParams::default()).unwrap();
    // T → 1 on large scales, decreasing, and the wiggle fit within 10% of the no-wiggle shape.
    assert!((c.transfer(1e-5) - 1.0).abs() < 1e-3);
    let mut prev = 1.0;
    for i in 0..300 {
        let k = 10f64.powf(-3.0 + 4.0 * i as f64 / 300.0);
        let (t, tnw) = (c.transfer(k), c.transfer_nowiggle(k));
        assert!(t > 0.0 && t <= prev * 1.02, "T not decreasing at k={k}");
        assert!((t / tnw - 1.0).abs() < 0.1, "k={k}: T={t} no-wiggle {tnw}");
        prev = t;
    }
    // Sound horizon within 2% of the EH98 eq. 26 approximation 44.5 ln(9.83/ω_m)/sqrt(1+10 ω_b^{3/4}) Mpc.
    let p = c.params;
    let (omhh, obhh) = (p.omega_m * p.h * p.h, p.omega_b * p.h * p.h);
    let s_fit = 44.5 * (9.83 / omhh).ln() / (1.0 + 10.0 * obhh.powf(0.75)).sqrt() * p.h;
    assert!(
        (c.sound_horizon() / s_fit - 1.0).abs() < 0.02,
        "s = {} vs {s_fit}",
        c.sound_horizon()
    );
    // The wiggles are there: T/T_nw oscillates around 1 between 0.05 and 0.3 h/Mpc.
    let dev: Vec<f64> = (0..100)
        .map(|i| 0.05 + 0.0025 * i as f64)
        .map(|k| c.transfer(k) / c.transfer_nowiggle(k) - 1.0)
        .collect();
    assert!(dev.iter().any(|&d| d > 0.01) && dev.iter().any(|&d| d < -0.01));
}

#[test]
fn bad_parameters_are_rejected() {
    let e = Cosmology::new(CosmoParams::with(1.5, 0.8))
        .unwrap_err()
        .to_string();
    assert!(e.contains("omega_m"), "{e}");
    assert!(Cosmology::new(CosmoParams::with(0.3, f64::NAN)).is_err());
}
