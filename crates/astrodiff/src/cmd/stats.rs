//! `astrodiff stats FIELD`: power spectrum, pixel histogram and Minkowski functionals of one map
//! or of every map of a stack, written as JSON (and optionally CSV and PNG plots).
//!
//! Conventions are those of the `stats` crate (Pylians `Pk_plane`, numpy histogram rule,
//! strict-`>` excursion sets; see docs/stats.md): k in h/Mpc, P in (field units)²·(Mpc/h)²,
//! V1/V2 in pixel units. The same `--transform` is applied before all three statistics.

use anyhow::{bail, Context, Result};
use evaluation::measure::{self, MeasureOptions};
use evaluation::plot::{self as plots, Series};
use serde::Serialize;
use stats::ensemble::{Band, Ensemble, MapStats};
use stats::{MfConvention, StatsConfig, Transform};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Options shared by `stats` and `compare`: what to measure and how.
#[derive(clap::Args, Debug, Clone)]
pub struct MeasureArgs {
    /// Box side L in Mpc/h (25 for CAMELS); sets the k axis, k_F = 2π/L.
    #[arg(long, allow_hyphen_values = true)]
    pub box_size: f64,
    /// Applied to every map before all statistics: identity, log10 or overdensity (ρ/ρ̄ − 1).
    #[arg(long, default_value = "identity")]
    pub transform: Transform,
    /// Histogram edges e0,e1,… (transformed units, strictly increasing; last bin closed).
    #[arg(
        long,
        value_delimiter = ',',
        allow_hyphen_values = true,
        conflicts_with = "bins"
    )]
    pub edges: Option<Vec<f64>>,
    /// Without --edges: this many uniform bins over the data range.
    #[arg(long, default_value_t = 40)]
    pub bins: usize,
    /// MF thresholds u0,u1,… (transformed units, strictly increasing; excursion set x > u).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub thresholds: Option<Vec<f64>>,
    /// Without --thresholds: this many thresholds uniform between the 1st and 99th percentile.
    #[arg(long, default_value_t = 25)]
    pub n_thresholds: usize,
    /// Minkowski-functional convention: periodic (torus, reference), open, or quantimpy (0.2.6).
    #[arg(long, default_value = "periodic")]
    pub mf_convention: MfConvention,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Map or stack: .npy (2D (N, N) or 3D (n, N, N), float32/float64, memory-mapped), .npz, FITS.
    pub field: PathBuf,
    #[command(flatten)]
    pub measure: MeasureArgs,
    /// Write the JSON result here (default: standard output).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Also write CSV tables PREFIX_pk.csv, PREFIX_pdf.csv, PREFIX_mf.csv (and PREFIX_ensemble.csv).
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<PathBuf>,
    /// Write PNG plots (pk.png, pdf.png, minkowski.png) into this folder.
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
    /// For stacks, write only the ensemble summary, not the per-map `maps` array.
    #[arg(long)]
    pub ensemble_only: bool,
}

impl MeasureArgs {
    /// The library's measuring options (defaults resolved from the data by
    /// `evaluation::measure::resolve_config`, the rule `compare` and `evaluate` share).
    pub fn options(&self) -> MeasureOptions {
        MeasureOptions {
            box_size: self.box_size,
            transform: self.transform,
            edges: self.edges.clone(),
            n_bins: self.bins,
            thresholds: self.thresholds.clone(),
            n_thresholds: self.n_thresholds,
            convention: self.mf_convention,
        }
    }
}

/// Opens a map file that must hold at least one map (fields' errors name the file).
pub(crate) fn open(path: &Path) -> Result<fields::MapStack> {
    let stack = fields::MapStack::open(path)?;
    if stack.is_empty() {
        bail!("{}: the stack holds no maps", path.display());
    }
    Ok(stack)
}

/// Measures every map of a stack in parallel, with a progress bar.
pub(crate) fn measure_input(stack: &fields::MapStack, cfg: &StatsConfig) -> Result<Vec<MapStats>> {
    let pb = crate::progress::bar(
        stack.len(),
        "maps",
        &stack.source_path().display().to_string(),
    );
    let out = measure::measure_set(stack, cfg, &|| pb.inc(1));
    pb.finish_and_clear();
    Ok(out?)
}

/// Histogram as written: the counts plus both normalisations.
#[derive(Serialize)]
struct HistogramOut<'a> {
    edges: &'a [f64],
    counts: &'a [u64],
    n_below: u64,
    n_above: u64,
    n_total: u64,
    /// counts / (n_total · width)
    pdf: Vec<f64>,
    /// counts / (n_in_range · width), as np.histogram(density=True)
    numpy_density: Vec<f64>,
}

#[derive(Serialize)]
struct MapOut<'a> {
    index: usize,
    power_spectrum: &'a stats::PowerSpectrum,
    histogram: HistogramOut<'a>,
    minkowski: &'a stats::Minkowski,
}

#[derive(Serialize)]
struct StatsOut<'a> {
    file: String,
    n_maps: usize,
    side: usize,
    box_size: f64,
    transform: Transform,
    mf_convention: MfConvention,
    units: measure::Units,
    #[serde(skip_serializing_if = "Option::is_none")]
    maps: Option<Vec<MapOut<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ensemble: Option<Ensemble>,
}

/// Writes `bytes` atomically (temporary name in the same folder, then rename); the error
/// already names the file.
pub(crate) fn write_out(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(plots::write_atomic(path, bytes)?)
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut s = serde_json::to_vec_pretty(v).context("serialising JSON")?;
    s.push(b'\n');
    Ok(s)
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Bin centres of a histogram.
pub(crate) fn centres(edges: &[f64]) -> Vec<f64> {
    edges.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect()
}

pub(crate) fn band_series(label: &str, x: &[f64], b: &Band, with_bands: bool) -> Series {
    Series {
        label: label.to_string(),
        x: x.to_vec(),
        mean: b.mean.clone(),
        std: with_bands.then(|| b.std.clone()),
        p05: with_bands.then(|| b.p05.clone()),
        p95: with_bands.then(|| b.p95.clone()),
    }
}

pub(crate) fn x_label(t: Transform) -> &'static str {
    match t {
        Transform::Identity => "field value",
        Transform::Log10 => "log10 field",
        Transform::Overdensity => "overdensity δ",
    }
}

/// P(k) (with ratio panel to the first series when `ratio`), PDF and MF figures.
pub(crate) fn write_plots(
    dir: &Path,
    sets: &[(String, Ensemble)],
    cfg: &StatsConfig,
    ratio: bool,
) -> Result<()> {
    let bands = sets.iter().all(|(_, e)| e.n_maps > 1);
    let pk: Vec<Series> = sets
        .iter()
        .map(|(l, e)| band_series(l, &e.power_spectrum.k, &e.power_spectrum.pk, bands))
        .collect();
    plots::plot_power_spectrum(
        &dir.join("pk.png"),
        &pk,
        ratio.then_some(0),
        None,
        "power spectrum",
    )?;
    let pdf: Vec<Series> = sets
        .iter()
        .map(|(l, e)| band_series(l, &centres(&e.histogram.edges), &e.histogram.pdf, bands))
        .collect();
    plots::plot_pdf(
        &dir.join("pdf.png"),
        &pdf,
        x_label(cfg.transform),
        true,
        "pixel PDF",
    )?;
    let mf = |f: fn(&Ensemble) -> &Band| -> Vec<Series> {
        sets.iter()
            .map(|(l, e)| band_series(l, &e.minkowski.thresholds, f(e), bands))
            .collect()
    };
    let (v0, v1, v2) = (
        mf(|e| &e.minkowski.v0),
        mf(|e| &e.minkowski.v1),
        mf(|e| &e.minkowski.v2),
    );
    Ok(plots::plot_minkowski(
        &dir.join("minkowski.png"),
        [&v0, &v1, &v2],
        &format!("threshold ({})", x_label(cfg.transform)),
        &format!("Minkowski functionals ({} convention)", cfg.convention),
    )?)
}

fn csv_tables(maps: &[MapStats]) -> [(&'static str, String); 3] {
    let mut pk = String::from("map,bin,k_h_per_mpc,pk,nmodes\n");
    let mut pdf = String::from("map,bin,lo,hi,count,pdf\n");
    let mut mf = String::from("map,threshold,v0,v1,v2,chi,length_pix,n_above\n");
    for (m, s) in maps.iter().enumerate() {
        let p = &s.power_spectrum;
        for b in 0..p.k.len() {
            let _ = writeln!(pk, "{m},{},{},{},{}", b + 1, p.k[b], p.pk[b], p.nmodes[b]);
        }
        let h = &s.histogram;
        let d = h.pdf_over_total();
        #[allow(clippy::needless_range_loop)] // b is written and indexes edges[b], edges[b + 1]
        for b in 0..h.counts.len() {
            let _ = writeln!(
                pdf,
                "{m},{b},{},{},{},{}",
                h.edges[b],
                h.edges[b + 1],
                h.counts[b],
                d[b]
            );
        }
        let k = &s.minkowski;
        for t in 0..k.thresholds.len() {
            let _ = writeln!(
                mf,
                "{m},{},{},{},{},{},{},{}",
                k.thresholds[t], k.v0[t], k.v1[t], k.v2[t], k.chi[t], k.length_pix[t], k.n_above[t]
            );
        }
    }
    [("_pk.csv", pk), ("_pdf.csv", pdf), ("_mf.csv", mf)]
}

pub(crate) fn ensemble_csv(e: &Ensemble) -> String {
    let mut s = String::from("statistic,bin,x,mean,std,p05,p95\n");
    let mut rows = |name: &str, x: &[f64], b: &Band| {
        #[allow(clippy::needless_range_loop)] // i is written and indexes six arrays
        for i in 0..x.len() {
            let _ = writeln!(
                s,
                "{name},{i},{},{},{},{},{}",
                x[i], b.mean[i], b.std[i], b.p05[i], b.p95[i]
            );
        }
    };
    rows("pk", &e.power_spectrum.k, &e.power_spectrum.pk);
    rows("pdf", &centres(&e.histogram.edges), &e.histogram.pdf);
    rows("v0", &e.minkowski.thresholds, &e.minkowski.v0);
    rows("v1", &e.minkowski.thresholds, &e.minkowski.v1);
    rows("v2", &e.minkowski.thresholds, &e.minkowski.v2);
    s
}

pub fn run(args: Args) -> Result<()> {
    let inp = open(&args.field)?;
    let cfg = measure::resolve_config(&args.measure.options(), &[&inp], &inp)?;
    let maps = measure_input(&inp, &cfg)?;
    let ensemble = Ensemble::from_maps(&maps)
        .with_context(|| format!("{}: ensemble", args.field.display()))?;
    let per_map = !(args.ensemble_only && maps.len() > 1);
    let out = StatsOut {
        file: args.field.display().to_string(),
        n_maps: maps.len(),
        side: inp.side(),
        box_size: cfg.box_size,
        transform: cfg.transform,
        mf_convention: cfg.convention,
        units: measure::UNITS,
        maps: per_map.then(|| {
            maps.iter()
                .enumerate()
                .map(|(index, s)| MapOut {
                    index,
                    power_spectrum: &s.power_spectrum,
                    histogram: HistogramOut {
                        edges: &s.histogram.edges,
                        counts: &s.histogram.counts,
                        n_below: s.histogram.n_below,
                        n_above: s.histogram.n_above,
                        n_total: s.histogram.n_total,
                        pdf: s.histogram.pdf_over_total(),
                        numpy_density: s.histogram.numpy_density(),
                    },
                    minkowski: &s.minkowski,
                })
                .collect()
        }),
        ensemble: (maps.len() > 1).then(|| ensemble.clone()),
    };
    let json = to_json(&out)?;
    match &args.json {
        Some(p) => write_out(p, &json)?,
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&json)
                .context("writing JSON to standard output")?;
        }
    }
    if let Some(prefix) = &args.csv {
        if per_map {
            for (suffix, table) in csv_tables(&maps) {
                write_out(&with_suffix(prefix, suffix), table.as_bytes())?;
            }
        }
        if maps.len() > 1 {
            write_out(
                &with_suffix(prefix, "_ensemble.csv"),
                ensemble_csv(&ensemble).as_bytes(),
            )?;
        }
    }
    if let Some(dir) = &args.plots {
        let label = args
            .field
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let label = if maps.len() > 1 {
            format!("{label} (n={})", maps.len())
        } else {
            label
        };
        write_plots(dir, &[(label, ensemble)], &cfg, false)?;
    }
    Ok(())
}
