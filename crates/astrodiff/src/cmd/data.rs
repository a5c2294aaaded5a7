//! `astrodiff data prepare` and `astrodiff data info`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use fields::camels::{CmdName, CmdStack, ParamsTable};
use fields::dataset::{NormKind, PrepareConfig, PreparedDataset, SplitBy, Step, SPLITS};
use fields::patches::Placement;
use fields::split::SplitSpec;
use fields::transform::{PointTransform, Resample};
use fields::MapStack;

#[derive(clap::Subcommand)]
pub enum DataCommand {
    /// Turn raw files into a prepared dataset folder (train/val/test .npy + dataset.json).
    Prepare(PrepareArgs),
    /// Print what a map file, parameter table or prepared dataset holds.
    Info(InfoArgs),
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum TransformArg {
    /// log10 of the field (CAMELS densities, dust intensity); values must be > 0 unless --log-floor.
    Log10,
    /// Values as they are.
    Identity,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ResampleArg {
    /// Block averages (integer factors; conserves the mean).
    Area,
    /// Antialiased bicubic, as torchvision's Resize (the seed paper).
    Bicubic,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum NormArg {
    /// Training min/max to [-1, 1] (the paper).
    Minmax,
    /// Training mean 0, std 1.
    Standard,
}

impl From<NormArg> for NormKind {
    fn from(a: NormArg) -> Self {
        match a {
            NormArg::Minmax => NormKind::MinMax,
            NormArg::Standard => NormKind::Standard,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum SplitByArg {
    /// Whole simulations (CAMELS) or whole source maps.
    Unit,
    /// Row bands inside every map (patches only).
    Region,
}

#[derive(clap::Args)]
pub struct PrepareArgs {
    /// A CAMELS CMD-layout stack (`Maps_<field>_<suite>_<set>_z=<z>.npy`), simulator output folder,
    /// folder of maps (.npy/.npz/.fits) or a map file; repeat --input for several map files
    /// (source maps are numbered in the order given, for --split ranges).
    #[arg(long, required = true)]
    pub input: Vec<PathBuf>,
    /// Parameter table (one row per simulation); found next to a CMD-layout stack when omitted.
    #[arg(long)]
    pub params: Option<PathBuf>,
    /// Side of the prepared maps in pixels.
    #[arg(long)]
    pub resolution: usize,
    /// Cut patches of this side from the source maps (then resized to --resolution).
    #[arg(long)]
    pub patch: Option<usize>,
    /// Patch grid stride in pixels (default: the patch size, i.e. non-overlapping tiles).
    #[arg(long, requires = "patch")]
    pub stride: Option<usize>,
    /// Draw this many random patch positions per source map (and split band) instead of a grid.
    #[arg(long, requires = "patch", conflicts_with = "stride")]
    pub patches_per_map: Option<usize>,
    /// Pixel transform applied before normalisation.
    #[arg(long, value_enum, default_value = "log10")]
    pub transform: TransformArg,
    /// With --transform log10: clamp values below this floor instead of failing on them.
    #[arg(long)]
    pub log_floor: Option<f64>,
    /// Resampling to --resolution.
    #[arg(long, value_enum, default_value = "area")]
    pub resample: ResampleArg,
    /// Normalisation fitted on the training split.
    #[arg(long, value_enum, default_value = "minmax")]
    pub norm: NormArg,
    /// train,val,test as fractions (0.7,0.15,0.15; units shuffled with --seed) or index ranges
    /// of simulations / source maps (0-699,700-849,850-999; empty for none: 0-1,,2).
    #[arg(long, default_value = "0.7,0.15,0.15")]
    pub split: String,
    /// Split over whole units or over row bands in every map (default: units, or regions when
    /// there are fewer than 3 source maps and patches are cut).
    #[arg(long, value_enum)]
    pub split_by: Option<SplitByArg>,
    /// Whether the source maps are periodic (patches may wrap; default true for CAMELS layout).
    #[arg(long)]
    pub periodic: Option<bool>,
    /// Side of a source map in Mpc/h (default 25 for CAMELS layout, the simulator's manifest when present).
    #[arg(long)]
    pub box_size: Option<f64>,
    /// Seed for the split shuffle and random patch positions (recorded in dataset.json).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(clap::Args)]
pub struct InfoArgs {
    /// A map file (.npy/.npz/.fits), a parameter table (.txt) or a prepared dataset folder.
    pub path: PathBuf,
    /// Maps sampled (evenly spaced) for value statistics of large stacks.
    #[arg(long, default_value_t = 64)]
    pub sample: usize,
}

pub fn run(cmd: DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Prepare(a) => run_prepare(a),
        DataCommand::Info(a) => run_info(a),
    }
}

fn run_prepare(a: PrepareArgs) -> anyhow::Result<()> {
    let mut cfg = PrepareConfig::new(&a.input[0], a.resolution, &a.out);
    cfg.inputs = a.input.clone();
    cfg.params = a.params;
    cfg.patch = a.patch;
    cfg.placement = match (a.stride, a.patches_per_map) {
        (Some(stride), _) => Some(Placement::Grid { stride }),
        (None, Some(count)) => Some(Placement::Random { count }),
        (None, None) => None,
    };
    cfg.transform = match a.transform {
        TransformArg::Log10 => PointTransform::Log10 { floor: a.log_floor },
        TransformArg::Identity => {
            anyhow::ensure!(
                a.log_floor.is_none(),
                "--log-floor only applies to --transform log10"
            );
            PointTransform::Identity
        }
    };
    cfg.resample = match a.resample {
        ResampleArg::Area => Resample::Area,
        ResampleArg::Bicubic => Resample::Bicubic,
    };
    cfg.norm = a.norm.into();
    cfg.split = SplitSpec::parse(&a.split, a.seed)?;
    cfg.split_by = a.split_by.map(|s| match s {
        SplitByArg::Unit => SplitBy::Unit,
        SplitByArg::Region => SplitBy::Region,
    });
    cfg.periodic = a.periodic;
    cfg.box_size = a.box_size;
    cfg.seed = a.seed;
    let names: Vec<String> = a.input.iter().map(|p| p.display().to_string()).collect();
    let ds = prepare_with_bar(&cfg).with_context(|| format!("preparing {}", names.join(", ")))?;
    print_dataset(&ds);
    Ok(())
}

fn print_dataset(ds: &PreparedDataset) {
    let m = &ds.meta;
    println!("prepared dataset {}", ds.dir.display());
    println!(
        "  maps: {}×{} float32, periodic: {}, box: {}",
        m.resolution,
        m.resolution,
        m.periodic,
        m.box_size_mpc_h
            .map(|b| format!(
                "{b} Mpc/h ({})",
                m.box_size_source.clone().unwrap_or_default()
            ))
            .unwrap_or_else(|| "unknown".into())
    );
    for name in SPLITS {
        let units = match (&m.split.units, &m.split.bands) {
            (Some(u), _) => {
                let list = match name {
                    "train" => &u.train,
                    "val" => &u.val,
                    _ => &u.test,
                };
                if list.is_empty() {
                    "none".to_string()
                } else {
                    format!(
                        "{} {}{} {}",
                        list.len(),
                        m.split.unit,
                        if list.len() == 1 { "" } else { "s" },
                        ranges(list)
                    )
                }
            }
            (None, Some(b)) => {
                let k = SPLITS.iter().position(|s| *s == name).unwrap();
                format!("rows {}..{} of every map", b[k][0], b[k][1])
            }
            _ => String::new(),
        };
        println!("  {name:5}: {:6} maps  ({units})", ds.count(name));
    }
    let chain: Vec<String> = m.chain.iter().map(step_text).collect();
    println!("  chain: {}", chain.join(" → "));
    if !m.param_names.is_empty() {
        println!("  params: {}", m.param_names.join(", "));
    }
    for i in &m.inputs {
        println!("  input: {} {:?} {}", i.path, i.shape, i.dtype);
    }
    if let Some(p) = &m.params_file {
        println!("  params file: {}", p.path);
    }
}

fn step_text(s: &Step) -> String {
    match s {
        Step::Patch {
            size,
            placement,
            periodic_source,
        } => {
            let how = match placement {
                Placement::Grid { stride } => format!("grid stride {stride}"),
                Placement::Random { count } => format!("{count} random/map"),
            };
            format!(
                "patch {size} ({how}{})",
                if *periodic_source { ", wrapping" } else { "" }
            )
        }
        Step::Resize { from, to, method } => {
            format!("resize {from}→{to} ({method:?})").to_lowercase()
        }
        Step::Point { transform } => match transform {
            PointTransform::Identity => "identity".into(),
            PointTransform::Log10 { floor: None } => "log10".into(),
            PointTransform::Log10 { floor: Some(f) } => format!("log10(max(x, {f}))"),
        },
        Step::Normalize { normalization } => match normalization {
            fields::transform::Normalization::MinMax { min, max } => {
                format!("minmax [{min:.6}, {max:.6}] → [-1, 1]")
            }
            fields::transform::Normalization::Standard { mean, std } => {
                format!("standardise (mean {mean:.6}, std {std:.6})")
            }
        },
    }
}

/// `0-699,850-999` style text for a sorted index list.
fn ranges(v: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut k = 0;
    while k < v.len() {
        let start = v[k];
        while k + 1 < v.len() && v[k + 1] == v[k] + 1 {
            k += 1;
        }
        parts.push(if v[k] == start {
            start.to_string()
        } else {
            format!("{start}-{}", v[k])
        });
        k += 1;
    }
    if parts.len() > 6 {
        let n = parts.len();
        parts.truncate(6);
        parts.push(format!("… ({} runs)", n));
    }
    parts.join(",")
}

fn run_info(a: InfoArgs) -> anyhow::Result<()> {
    let p = &a.path;
    if p.is_dir() {
        if p.join("dataset.json").is_file() || p.join("train.npy").is_file() {
            // Also names a folder left by an interrupted `prepare` (data but no manifest).
            let ds = PreparedDataset::open(p)?;
            print_dataset(&ds);
            return Ok(());
        }
        anyhow::bail!(
            "{}: folder has no dataset.json (not a prepared dataset)",
            p.display()
        );
    }
    if p.extension().and_then(|e| e.to_str()) == Some("txt") {
        let t = ParamsTable::read(p)?;
        println!(
            "parameter table {}: {} rows × {} columns",
            p.display(),
            t.rows.nrows(),
            t.rows.ncols()
        );
        for (c, name) in t.names.iter().enumerate() {
            let col = t.rows.column(c);
            let lo = col.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = col.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            println!("  {name:10} {lo:.5} … {hi:.5}");
        }
        return Ok(());
    }
    let s = MapStack::open(p)?;
    let (n, side, _) = s.shape();
    println!(
        "{}: {n} map(s) of {side}×{side}, {}",
        p.display(),
        s.dtype_name()
    );
    if let Some(name) = CmdName::parse(p) {
        println!(
            "  CAMELS layout: field {}, suite {}, set {}, z = {}",
            name.field, name.suite, name.set, name.redshift
        );
        match CmdStack::open(p, None) {
            Ok(c) => match &c.params {
                Some(t) => println!(
                    "  params: {} ({} simulations, {} maps per simulation)",
                    t.path.display(),
                    t.len(),
                    c.maps_per_sim
                ),
                None => println!(
                    "  params: none found next to it ({})",
                    name.params_candidates().join(" or ")
                ),
            },
            Err(e) => println!("  params: {e}"),
        }
    }
    print_values(&s, a.sample.max(1), p);
    Ok(())
}

fn print_values(s: &MapStack, sample: usize, p: &Path) {
    let n = s.len();
    let picks: Vec<usize> = if n <= sample {
        (0..n).collect()
    } else {
        (0..sample).map(|k| k * n / sample).collect()
    };
    let (mut lo, mut hi, mut sum, mut sum2, mut count, mut bad, mut nonpos) =
        (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0.0, 0u64, 0u64, 0u64);
    for &m in &picks {
        for &v in s.map(m).iter() {
            if !v.is_finite() {
                bad += 1;
                continue;
            }
            lo = lo.min(v);
            hi = hi.max(v);
            sum += v;
            sum2 += v * v;
            count += 1;
            if v <= 0.0 {
                nonpos += 1;
            }
        }
    }
    let mean = sum / count.max(1) as f64;
    let std = (sum2 / count.max(1) as f64 - mean * mean).max(0.0).sqrt();
    let what = if picks.len() == n {
        "all maps".to_string()
    } else {
        format!("{} of {n} maps", picks.len())
    };
    println!("  values ({what}): min {lo:.6e}, max {hi:.6e}, mean {mean:.6e}, std {std:.6e}");
    if bad > 0 {
        println!(
            "  warning: {bad} non-finite values (NaN/Inf) in {}",
            p.display()
        );
    }
    if nonpos > 0 {
        println!("  note: {nonpos} values ≤ 0: --transform log10 needs --log-floor or --transform identity");
    }
}

/// [`fields::dataset::prepare_with`] with the CLI's progress bar over source maps.
pub fn prepare_with_bar(cfg: &PrepareConfig) -> fields::Result<fields::dataset::PreparedDataset> {
    let bar = crate::progress::bar(0, "maps", "preparing");
    let ds = fields::dataset::prepare_with(cfg, &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    ds
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use ndarray::Array3;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: DataCommand,
    }

    #[test]
    fn ranges_text() {
        assert_eq!(ranges(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(ranges(&[]), "");
    }

    #[test]
    fn prepare_and_info_from_the_command_line() {
        let d = tempfile::tempdir().unwrap();
        let maps = d.path().join("Maps_Mcdm_Cli_LH_z=0.00.npy");
        let a = Array3::from_shape_fn((12, 32, 32), |(m, i, j)| {
            1.0 + (m + i * 3 + j * 7) as f32 % 5.0
        });
        fields::io::write_npy_f32(&maps, a.view()).unwrap();
        std::fs::write(
            d.path().join("params_LH_Cli.txt"),
            "0.3 0.8 1 1 1 1\n".repeat(6),
        )
        .unwrap();
        let out = d.path().join("ds");
        let args = [
            "x",
            "prepare",
            "--input",
            maps.to_str().unwrap(),
            "--resolution",
            "16",
            "--split",
            "0-3,4,5",
            "--out",
            out.to_str().unwrap(),
        ];
        run(Cli::parse_from(args).cmd).unwrap();
        let ds = PreparedDataset::open(&out).unwrap();
        assert_eq!(
            (ds.count("train"), ds.count("val"), ds.count("test")),
            (8, 2, 2)
        );
        assert_eq!(ds.meta.split.maps_per_unit, 2);
        run(Cli::parse_from(["x", "info", out.to_str().unwrap()]).cmd).unwrap();
        run(Cli::parse_from(["x", "info", maps.to_str().unwrap()]).cmd).unwrap();
        // Bad input: the error names the file.
        let bad = d.path().join("bad.npy");
        std::fs::write(&bad, b"not numpy").unwrap();
        let e = run(Cli::parse_from(["x", "info", bad.to_str().unwrap()]).cmd).unwrap_err();
        assert!(format!("{e:#}").contains("bad.npy"));
        let e = run(Cli::parse_from([
            "x",
            "prepare",
            "--input",
            bad.to_str().unwrap(),
            "--resolution",
            "8",
            "--out",
            out.to_str().unwrap(),
        ])
        .cmd)
        .unwrap_err();
        assert!(format!("{e:#}").contains("bad.npy"), "{e:#}");
    }
}
