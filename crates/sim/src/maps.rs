//! Projected mass-density maps like the CAMELS Multifield Dataset (CMD).
//!
//! The box is cut into `slabs` equal slabs along each of the 3 axes; the particles of a slab (hard
//! cut on the coordinate along the axis) are deposited on an N×N grid of the other two coordinates
//! (in increasing axis order: projecting along x gives map[y, z], along y map[x, z], along z
//! map[x, y]). Map order: axis-major, `maps[axis · slabs + slab]`, as 3 × 5 = 15 maps per
//! simulation in CMD. Pixel (i, j) is centred at (i, j)·L/N (the stats-crate convention).
//!
//! Units: surface density Σ in (M_sun/h)/(Mpc/h)² = Σ_particles m_p W / Δ², Δ = L/N the pixel side.
//!
//! Deposition: a separable tent ("cloud-in-cell") kernel of half-width w pixels, normalised so
//! that every particle deposits exactly its mass; w = 1 is standard CIC. With fewer particles than
//! pixels, plain CIC leaves empty pixels in voids (log10 Σ = −∞), and a fixed wide cloud erases
//! the halos. The simulator therefore uses an **adaptive** cloud, like the SPH-style smoothing
//! lengths of the CAMELS maps: w_i = d (ρ_i/ρ̄)^{−1/3}, clamped to [1 pixel, 4d], with d the mean
//! inter-particle spacing in pixels and ρ_i/ρ̄ the CIC density of the particles
//! at the particle, from a (N_p/2)³ mesh ([`adaptive_clouds`]). Halos stay sharp (CIC), voids
//! are filled. If a map still has an empty pixel (only with very few particles), the clouds wider
//! than one pixel are widened by 1.5× and the map is redone, until every pixel is covered.

use ndarray::Array2;
use rayon::prelude::*;

/// Adaptive cloud half-widths (map pixels) per particle: d (ρ/ρ̄)^{−1/3} clamped to [1, 4d],
/// d = res / n_particles_side the mean inter-particle spacing in pixels.
pub fn adaptive_clouds(
    pos: &[[f64; 3]],
    box_size: f64,
    n_particles_side: usize,
    res: usize,
) -> Vec<f64> {
    // A mesh of (N_p/2)³ cells holds ~8 particles per cell: a particle's own weight does not
    // dominate its density estimate in voids.
    let mesh = crate::pm::ParticleMesh::new((n_particles_side / 2).max(4) / 2 * 2, box_size);
    let delta = mesh.density_contrast(pos);
    let d = res as f64 / n_particles_side as f64;
    mesh.interpolate_scalar(&delta, pos)
        .into_iter()
        .map(|dl| (d * (1.0 + dl).max(1e-3).powf(-1.0 / 3.0)).clamp(1.0, (4.0 * d).max(1.0)))
        .collect()
}

/// Tent weights along one axis: (first pixel index, weights), pixel indices wrap periodically.
#[inline]
fn tent(u: f64, w: f64, out: &mut Vec<f64>) -> i64 {
    out.clear();
    if w <= 1.0 {
        // Standard CIC: exact and cheapest.
        let f = u.floor();
        let t = u - f;
        out.push(1.0 - t);
        out.push(t);
        return f as i64;
    }
    let lo = (u - w).ceil() as i64;
    let hi = (u + w).floor() as i64;
    let mut s = 0.0;
    for c in lo..=hi {
        let v = (1.0 - (u - c as f64).abs() / w).max(0.0);
        out.push(v);
        s += v;
    }
    out.iter_mut().for_each(|v| *v /= s);
    lo
}

/// Deposits 2D points (u, v in pixel units, cloud half-width in pixels) with equal `weight`
/// onto an n×n periodic grid.
fn deposit(points: &[[f64; 3]], n: usize, weight: f64) -> Array2<f64> {
    let mut g = Array2::<f64>::zeros((n, n));
    let (mut wx, mut wy) = (Vec::new(), Vec::new());
    let ni = n as i64;
    for p in points {
        let i0 = tent(p[0], p[2], &mut wx);
        let j0 = tent(p[1], p[2], &mut wy);
        for (di, a) in wx.iter().enumerate() {
            let i = (i0 + di as i64).rem_euclid(ni) as usize;
            for (dj, b) in wy.iter().enumerate() {
                let j = (j0 + dj as i64).rem_euclid(ni) as usize;
                g[[i, j]] += weight * a * b;
            }
        }
    }
    g
}

/// The 3 × `slabs` projected surface-density maps of particles at `pos` (Mpc/h, in [0, L)), each
/// of mass `particle_mass` (M_sun/h), on `res`² pixels; `clouds[i]` is particle i's tent
/// half-width in pixels (a single value applies to all particles).
pub fn projected_maps(
    pos: &[[f64; 3]],
    box_size: f64,
    particle_mass: f64,
    res: usize,
    slabs: usize,
    clouds: &[f64],
) -> Vec<Array2<f32>> {
    assert!(
        clouds.len() == pos.len() || clouds.len() == 1,
        "one cloud per particle, or one for all"
    );
    let cloud = |i: usize| {
        if clouds.len() == 1 {
            clouds[0]
        } else {
            clouds[i]
        }
    };
    let pix = box_size / res as f64;
    let weight = particle_mass / (pix * pix);
    let jobs: Vec<(usize, usize)> = (0..3)
        .flat_map(|ax| (0..slabs).map(move |s| (ax, s)))
        .collect();
    jobs.par_iter()
        .map(|&(ax, s)| {
            let (lo, hi) = (
                s as f64 * box_size / slabs as f64,
                (s + 1) as f64 * box_size / slabs as f64,
            );
            let (u, v) = match ax {
                0 => (1, 2),
                1 => (0, 2),
                _ => (0, 1),
            };
            let pts: Vec<[f64; 3]> = pos
                .iter()
                .enumerate()
                .filter(|(_, x)| x[ax] >= lo && x[ax] < hi)
                .map(|(i, x)| [x[u] / pix, x[v] / pix, cloud(i)])
                .collect();
            // Void particles may still leave pixels uncovered when particles are very sparse
            // (e.g. 16³ particles): widen every cloud wider than plain CIC by 1.5× until all
            // pixels are covered (mass is conserved; halos, at 1 pixel, are untouched).
            let mut pts = pts;
            let mut map = deposit(&pts, res, weight);
            for _ in 0..8 {
                if map.iter().all(|&x| x > 0.0) {
                    break;
                }
                pts.iter_mut()
                    .filter(|p| p[2] > 1.0)
                    .for_each(|p| p[2] *= 1.5);
                map = deposit(&pts, res, weight);
            }
            map.mapv(|x| x as f32)
        })
        .collect()
}
