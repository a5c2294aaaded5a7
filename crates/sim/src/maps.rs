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
//! Deposition: a separable tent ("cloud-in-cell") kernel of half-width `cloud` pixels, normalised
//! so that every particle deposits exactly its mass. `cloud = 1` is standard CIC. With fewer
//! particles than pixels, standard CIC leaves empty pixels (log10 Σ = −∞); the simulator uses a
//! cloud of one mean inter-particle spacing (see [`default_cloud`]), which is the resolution the
//! particles actually carry.

use ndarray::Array2;
use rayon::prelude::*;

/// Cloud half-width (in pixels) equal to the mean inter-particle spacing L/N_p, at least 1 (CIC).
pub fn default_cloud(n_particles_side: usize, map_res: usize) -> f64 {
    (map_res as f64 / n_particles_side as f64).max(1.0)
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

/// Deposits 2D points (u, v in pixel units) with equal `weight` onto an n×n periodic grid.
fn deposit(points: &[[f64; 2]], n: usize, cloud: f64, weight: f64) -> Array2<f64> {
    let mut g = Array2::<f64>::zeros((n, n));
    let (mut wx, mut wy) = (Vec::new(), Vec::new());
    let ni = n as i64;
    for p in points {
        let i0 = tent(p[0], cloud, &mut wx);
        let j0 = tent(p[1], cloud, &mut wy);
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
/// of mass `particle_mass` (M_sun/h), on `res`² pixels with tent half-width `cloud` pixels.
pub fn projected_maps(
    pos: &[[f64; 3]],
    box_size: f64,
    particle_mass: f64,
    res: usize,
    slabs: usize,
    cloud: f64,
) -> Vec<Array2<f32>> {
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
            let pts: Vec<[f64; 2]> = pos
                .iter()
                .filter(|x| x[ax] >= lo && x[ax] < hi)
                .map(|x| [x[u] / pix, x[v] / pix])
                .collect();
            deposit(&pts, res, cloud, weight).mapv(|x| x as f32)
        })
        .collect()
}
