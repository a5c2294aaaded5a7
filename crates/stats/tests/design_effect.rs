//! `design_effect` against the analytic one-way random-effects model: x = a_group + e_map with
//! Var(a) = ρσ², Var(e) = (1 − ρ)σ² has deff = 1 + (m − 1)ρ exactly (Kish 1965).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use stats::ensemble::design_effect;

/// `groups` groups of `m` maps, `bins` bins each, intra-group correlation `rho`.
fn rows(groups: usize, m: usize, bins: usize, rho: f64, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut z = || -> f64 { StandardNormal.sample(&mut rng) };
    let mut out = Vec::new();
    for _ in 0..groups {
        let a: Vec<f64> = (0..bins).map(|_| rho.sqrt() * z()).collect();
        for _ in 0..m {
            // Bin b has its own scale: the estimator is per bin, so scales must not matter.
            out.push(
                (0..bins)
                    .map(|b| (1.0 + b as f64) * (a[b] + (1.0 - rho).sqrt() * z()))
                    .collect(),
            );
        }
    }
    out
}

fn deff(r: &[Vec<f64>], m: usize) -> f64 {
    let v: Vec<&[f64]> = r.iter().map(|x| x.as_slice()).collect();
    design_effect(&v, m)
}

#[test]
fn matches_one_plus_m_minus_one_rho() {
    for (rho, m) in [(0.0, 15), (0.3, 15), (0.5, 15), (0.5, 4), (0.9, 15)] {
        let r = rows(400, m, 20, rho, 7);
        let d = deff(&r, m);
        let want = (1.0 + (m as f64 - 1.0) * rho).max(1.0);
        // 400 groups × 20 bins: the relative error of a variance ratio is ≈ √(2/400)/√20 ≈ 1.6%.
        assert!(
            (d / want - 1.0).abs() < 0.08,
            "ρ = {rho}, m = {m}: {d} vs {want}"
        );
    }
}

#[test]
fn limits_and_edge_cases() {
    // Identical maps within a group: deff = m.
    let mut r = rows(20, 5, 3, 0.0, 1);
    for g in 0..20 {
        for j in 1..5 {
            r[g * 5 + j] = r[g * 5].clone();
        }
    }
    assert!((deff(&r, 5) - 5.0).abs() < 1e-9);
    // m = 1: independent by definition.
    assert_eq!(deff(&r, 1), 1.0);
    // One complete group: nothing to compare, the conservative end.
    assert_eq!(deff(&r[..7], 5), 5.0);
    // Constant bins are skipped; all-constant gives m.
    let c = vec![vec![2.0; 3]; 30];
    assert_eq!(deff(&c, 5), 5.0);
    // Negative intra-group correlation is clamped at 1.
    let mut alt = Vec::new();
    for g in 0..50 {
        for j in 0..2 {
            let s = if j == 0 { 1.0 } else { -1.0 };
            alt.push(vec![s * (1.0 + g as f64 % 3.0)]);
        }
    }
    assert_eq!(deff(&alt, 2), 1.0);
}
