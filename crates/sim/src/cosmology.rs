//! Flat ΛCDM background and linear theory.
//!
//! Units: wavenumbers in h/Mpc, lengths in Mpc/h, P(k) in (Mpc/h)³, time in units of 1/H₀
//! (so E(a) = H(a)/H₀ is dimensionless). Radiation is neglected in the background (it matters
//! only at z ≳ 1000, far before any initial redshift used here).
//!
//! The linear growth factor D(a) is the growing mode normalised to **D(a) → a at early times**
//! (matter domination), so D(1) < 1 in ΛCDM (≈ 0.779 for Ω_m = 0.3). The linear power spectrum
//! is normalised so that σ₈ (top-hat of radius 8 Mpc/h) equals `sigma_8` **at a = 1**:
//! P(k, a) = P₀(k) · [D(a)/D(1)]².

use crate::SimError;

/// Critical density today in (M_sun/h) / (Mpc/h)³: 3H₀²/(8πG) = 2.775 × 10¹¹ h² M_sun/Mpc³.
pub const RHO_CRIT_0: f64 = 2.775_366_27e11;

/// CMB temperature used by the Eisenstein & Hu transfer function (K).
pub const T_CMB: f64 = 2.7255;

/// Flat ΛCDM parameters. Ω_Λ = 1 − Ω_m.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CosmoParams {
    /// Total matter density today (CDM + baryons), in units of the critical density.
    pub omega_m: f64,
    /// Baryon density today, in units of the critical density.
    pub omega_b: f64,
    /// H₀ / (100 km/s/Mpc).
    pub h: f64,
    /// Primordial spectral index.
    pub n_s: f64,
    /// rms linear overdensity in top-hat spheres of 8 Mpc/h at z = 0.
    pub sigma_8: f64,
}

impl Default for CosmoParams {
    /// The fixed parameters of the CAMELS simulations (Ω_b = 0.049, h = 0.6711, n_s = 0.9624)
    /// with Ω_m = 0.3, σ₈ = 0.8.
    fn default() -> Self {
        CosmoParams {
            omega_m: 0.3,
            omega_b: 0.049,
            h: 0.6711,
            n_s: 0.9624,
            sigma_8: 0.8,
        }
    }
}

impl CosmoParams {
    /// Same fixed parameters as [`Default`], with the given Ω_m and σ₈.
    pub fn with(omega_m: f64, sigma_8: f64) -> Self {
        CosmoParams {
            omega_m,
            sigma_8,
            ..Default::default()
        }
    }
}

/// Eisenstein & Hu (1998, ApJ 496, 605) fitting-formula parameters, all scales in Mpc (no h).
#[derive(Debug, Clone, Copy)]
struct EhParams {
    f_baryon: f64,
    k_equality: f64,
    sound_horizon: f64,
    k_silk: f64,
    alpha_c: f64,
    beta_c: f64,
    alpha_b: f64,
    beta_b: f64,
    beta_node: f64,
    omhh: f64,
    theta2: f64,
}

impl EhParams {
    fn new(p: &CosmoParams) -> Self {
        let omhh = p.omega_m * p.h * p.h;
        let obhh = p.omega_b * p.h * p.h;
        let f_baryon = p.omega_b / p.omega_m;
        let theta = T_CMB / 2.7;
        let th4 = theta.powi(4);
        // Eq. 2-3: matter-radiation equality (z_eq is the redshift itself here).
        let z_equality = 2.50e4 * omhh / th4 - 1.0;
        let k_equality = 0.0746 * omhh / (theta * theta);
        // Eq. 4: drag epoch.
        let b1 = 0.313 * omhh.powf(-0.419) * (1.0 + 0.607 * omhh.powf(0.674));
        let b2 = 0.238 * omhh.powf(0.223);
        let z_drag = 1291.0 * omhh.powf(0.251) / (1.0 + 0.659 * omhh.powf(0.828))
            * (1.0 + b1 * obhh.powf(b2));
        // Eq. 5: baryon-to-photon momentum density ratio.
        let r_drag = 31.5 * obhh / th4 * 1000.0 / (1.0 + z_drag);
        let r_equality = 31.5 * obhh / th4 * 1000.0 / (1.0 + z_equality);
        // Eq. 6: sound horizon at the drag epoch.
        let sound_horizon = 2.0 / (3.0 * k_equality)
            * (6.0 / r_equality).sqrt()
            * (((1.0 + r_drag).sqrt() + (r_drag + r_equality).sqrt()) / (1.0 + r_equality.sqrt()))
                .ln();
        // Eq. 7: Silk damping.
        let k_silk = 1.6 * obhh.powf(0.52) * omhh.powf(0.73) * (1.0 + (10.4 * omhh).powf(-0.95));
        // Eq. 11-12: CDM suppression and log shift.
        let a1 = (46.9 * omhh).powf(0.670) * (1.0 + (32.1 * omhh).powf(-0.532));
        let a2 = (12.0 * omhh).powf(0.424) * (1.0 + (45.0 * omhh).powf(-0.582));
        let alpha_c = a1.powf(-f_baryon) * a2.powf(-f_baryon.powi(3));
        let bb1 = 0.944 / (1.0 + (458.0 * omhh).powf(-0.708));
        let bb2 = (0.395 * omhh).powf(-0.0266);
        let beta_c = 1.0 / (1.0 + bb1 * ((1.0 - f_baryon).powf(bb2) - 1.0));
        // Eq. 14-15, 23-24: baryon suppression, envelope shift, node shift.
        let y = (1.0 + z_equality) / (1.0 + z_drag);
        let sy = (1.0 + y).sqrt();
        let g_y = y * (-6.0 * sy + (2.0 + 3.0 * y) * ((sy + 1.0) / (sy - 1.0)).ln());
        let alpha_b = 2.07 * k_equality * sound_horizon * (1.0 + r_drag).powf(-0.75) * g_y;
        let beta_b = 0.5 + f_baryon + (3.0 - 2.0 * f_baryon) * ((17.2 * omhh).powi(2) + 1.0).sqrt();
        let beta_node = 8.41 * omhh.powf(0.435);
        EhParams {
            f_baryon,
            k_equality,
            sound_horizon,
            k_silk,
            alpha_c,
            beta_c,
            alpha_b,
            beta_b,
            beta_node,
            omhh,
            theta2: theta * theta,
        }
    }

    /// Eq. 19-20: the pressureless (CDM-like) transfer shape.
    fn t0(q: f64, alpha: f64, beta: f64) -> f64 {
        let l = (std::f64::consts::E + 1.8 * beta * q).ln();
        let c = 14.2 / alpha + 386.0 / (1.0 + 69.9 * q.powf(1.08));
        l / (l + c * q * q)
    }

    /// Full transfer function (CDM + baryons with acoustic oscillations), k in 1/Mpc.
    fn transfer(&self, k: f64) -> f64 {
        let q = k / (13.41 * self.k_equality);
        let ks = k * self.sound_horizon;
        let f = 1.0 / (1.0 + (ks / 5.4).powi(4));
        let t_c =
            f * Self::t0(q, 1.0, self.beta_c) + (1.0 - f) * Self::t0(q, self.alpha_c, self.beta_c);
        let s_tilde = self.sound_horizon / (1.0 + (self.beta_node / ks).powi(3)).cbrt();
        let kst = k * s_tilde;
        let t_b = (Self::t0(q, 1.0, 1.0) / (1.0 + (ks / 5.2).powi(2))
            + self.alpha_b / (1.0 + (self.beta_b / ks).powi(3))
                * (-(k / self.k_silk).powf(1.4)).exp())
            * (kst.sin() / kst);
        self.f_baryon * t_b + (1.0 - self.f_baryon) * t_c
    }

    /// Eq. 29-31: the "no-wiggle" shape fit, k in 1/Mpc. Used only as a cross-check.
    fn transfer_nowiggle(&self, k: f64) -> f64 {
        let fb = self.f_baryon;
        let obhh = fb * self.omhh;
        let s = 44.5 * (9.83 / self.omhh).ln() / (1.0 + 10.0 * obhh.powf(0.75)).sqrt();
        let ag =
            1.0 - 0.328 * (431.0 * self.omhh).ln() * fb + 0.38 * (22.3 * self.omhh).ln() * fb * fb;
        let gamma_eff = self.omhh * (ag + (1.0 - ag) / (1.0 + (0.43 * k * s).powi(4)));
        let q = k * self.theta2 / gamma_eff;
        let l0 = (2.0 * std::f64::consts::E + 1.8 * q).ln();
        let c0 = 14.2 + 731.0 / (1.0 + 62.5 * q);
        l0 / (l0 + c0 * q * q)
    }
}

/// A flat ΛCDM cosmology with its normalised linear power spectrum and growth history.
#[derive(Debug, Clone)]
pub struct Cosmology {
    pub params: CosmoParams,
    eh: EhParams,
    /// P₀(k) = amplitude · k^n_s · T(k)², fixed by σ₈.
    amplitude: f64,
    /// D(1), cached.
    d1: f64,
}

impl Cosmology {
    /// Builds the cosmology and normalises P(k) to σ₈. Errors on unphysical parameters.
    pub fn new(params: CosmoParams) -> Result<Self, SimError> {
        let p = params;
        let check = |name: &str, v: f64, lo: f64, hi: f64| {
            if !(v.is_finite() && v > lo && v < hi) {
                Err(SimError::Param(format!(
                    "{name} = {v} is outside ({lo}, {hi})"
                )))
            } else {
                Ok(())
            }
        };
        check("omega_m", p.omega_m, 0.0, 1.0)?;
        check("omega_b", p.omega_b, 0.0, p.omega_m)?;
        check("h", p.h, 0.1, 2.0)?;
        check("n_s", p.n_s, 0.5, 1.5)?;
        check("sigma_8", p.sigma_8, 0.0, 5.0)?;
        let mut c = Cosmology {
            params,
            eh: EhParams::new(&params),
            amplitude: 1.0,
            d1: 1.0,
        };
        c.d1 = c.growth(1.0);
        let s8 = c.sigma_r(8.0);
        c.amplitude = (params.sigma_8 / s8).powi(2);
        Ok(c)
    }

    /// E(a) = H(a)/H₀ for flat ΛCDM (no radiation).
    pub fn e_of_a(&self, a: f64) -> f64 {
        let om = self.params.omega_m;
        (om / (a * a * a) + (1.0 - om)).sqrt()
    }

    /// Ω_m(a).
    pub fn omega_m_a(&self, a: f64) -> f64 {
        let e = self.e_of_a(a);
        self.params.omega_m / (a * a * a * e * e)
    }

    /// Heath (1977) integral I(a) = ∫₀ᵃ da' / (a' E(a'))³. Substituting a' = u² makes the integrand
    /// smooth (≈ 2u⁴/Ω_m^{3/2} early on), so composite Simpson converges to ~1e-10 relative.
    fn heath_integral(&self, a: f64) -> f64 {
        let n = 2000; // even
        let umax = a.sqrt();
        let h = umax / n as f64;
        let f = |u: f64| {
            if u == 0.0 {
                return 0.0;
            }
            let ap = u * u;
            let ae = ap * self.e_of_a(ap);
            2.0 * u / (ae * ae * ae)
        };
        let mut s = f(0.0) + f(umax);
        for i in 1..n {
            let w = if i % 2 == 1 { 4.0 } else { 2.0 };
            s += w * f(i as f64 * h);
        }
        s * h / 3.0
    }

    /// Linear growth factor D(a), normalised to D → a at early times:
    /// D(a) = (5Ω_m/2) E(a) ∫₀ᵃ da'/(a'E(a'))³ (Heath 1977; exact for flat ΛCDM).
    pub fn growth(&self, a: f64) -> f64 {
        2.5 * self.params.omega_m * self.e_of_a(a) * self.heath_integral(a)
    }

    /// Growth rate f(a) = d ln D / d ln a (exact derivative of the Heath expression).
    pub fn growth_rate(&self, a: f64) -> f64 {
        let e = self.e_of_a(a);
        let dlne = -1.5 * self.params.omega_m / (a * a * a * e * e);
        dlne + 1.0 / (a * a * e * e * e * self.heath_integral(a))
    }

    /// D(1) (with the D → a normalisation).
    pub fn growth_today(&self) -> f64 {
        self.d1
    }

    /// Eisenstein & Hu (1998) transfer function with baryon oscillations, k in h/Mpc; T → 1 as k → 0.
    pub fn transfer(&self, k: f64) -> f64 {
        if k <= 0.0 {
            return 1.0;
        }
        self.eh.transfer(k * self.params.h)
    }

    /// The EH98 no-wiggle shape fit, k in h/Mpc (for cross-checks).
    pub fn transfer_nowiggle(&self, k: f64) -> f64 {
        if k <= 0.0 {
            return 1.0;
        }
        self.eh.transfer_nowiggle(k * self.params.h)
    }

    /// Sound horizon at the drag epoch from the EH98 fit, in Mpc/h.
    pub fn sound_horizon(&self) -> f64 {
        self.eh.sound_horizon * self.params.h
    }

    /// Linear matter power spectrum at z = 0, P(k) in (Mpc/h)³, k in h/Mpc; P(0) = 0.
    pub fn power_linear(&self, k: f64) -> f64 {
        if k <= 0.0 {
            return 0.0;
        }
        let t = self.transfer(k);
        self.amplitude * k.powf(self.params.n_s) * t * t
    }

    /// Linear power spectrum at scale factor a: P(k) [D(a)/D(1)]².
    pub fn power_linear_at(&self, k: f64, a: f64) -> f64 {
        let g = self.growth(a) / self.d1;
        self.power_linear(k) * g * g
    }

    /// rms linear overdensity at z = 0 in a top-hat sphere of radius r (Mpc/h):
    /// σ²(R) = ∫ dk k² P(k) W²(kR) / (2π²), W(x) = 3(sin x − x cos x)/x³.
    /// Integrated in ln k over [1e-5, 1e3] h/Mpc with Simpson's rule (converged to < 1e-6).
    pub fn sigma_r(&self, r: f64) -> f64 {
        let (lo, hi) = ((1e-5f64).ln(), (1e3f64).ln());
        let n = 8000;
        let h = (hi - lo) / n as f64;
        let f = |lnk: f64| {
            let k = lnk.exp();
            let w = tophat_window(k * r);
            k * k * k * self.power_linear(k) * w * w
        };
        let mut s = f(lo) + f(hi);
        for i in 1..n {
            let w = if i % 2 == 1 { 4.0 } else { 2.0 };
            s += w * f(lo + i as f64 * h);
        }
        (s * h / 3.0 / (2.0 * std::f64::consts::PI * std::f64::consts::PI)).sqrt()
    }
}

/// Fourier transform of the 3D top-hat of unit volume, W(x) = 3(sin x − x cos x)/x³ (series near 0).
pub fn tophat_window(x: f64) -> f64 {
    if x < 1e-3 {
        1.0 - x * x / 10.0
    } else {
        3.0 * (x.sin() - x * x.cos()) / (x * x * x)
    }
}
