//! The trained-run pipeline end to end on a tiny model: train a run folder, load it by the one
//! rule, generate under the out-of-range rule, denoise with the plan and NFE it reports; and
//! checkpoints whose manifest predates the whole dataset description still load.

use diffusion::config::RunConfig;
use diffusion::inverse::{plan_injection, Injection, PosteriorConfig};
use diffusion::sampler::SamplerConfig;
use diffusion::tch::Device;
use diffusion::train::{TrainEvent, Trainer};
use fields::dataset::{prepare, NormKind, PrepareConfig};
use fields::transform::{Normalization, PointTransform};
use ndarray::{Array3, Axis};
use pipeline::{GenerateOptions, LoadOptions, OutOfRange, Progress, TrainOptions, TrainedRun};
use rand::Rng;
use std::path::Path;

const TINY: &str = r#"
[unet]
base_channels = 8
channel_mults = [1, 2]
attention = ["none", "none"]
mid_attention = "none"
heads = 1
head_dim = 8
groups = 4
circular = false
[diffusion.schedule]
kind = "linear"
timesteps = 100
beta_start = 1e-4
beta_end = 2e-2
[train]
batch_size = 4
warmup_steps = 0
ema_start = 0
"#;

fn cpu() -> LoadOptions {
    LoadOptions {
        device: Some("cpu".into()),
        threads: Some(1),
        ..LoadOptions::default()
    }
}

/// 20 positive 16² maps (log-normal pixels), prepared as log10 with standard normalisation.
fn dataset(dir: &Path) -> fields::dataset::PreparedDataset {
    let mut rng = fields::rng::substream(7, &[]);
    let maps = Array3::from_shape_fn((20, 16, 16), |_| {
        (0.4 * (rng.gen::<f64>() - 0.5) + 0.3 * (rng.gen::<f64>() - 0.5)).exp() as f32
    });
    let src = dir.join("maps.npy");
    fields::io::write_npy_f32(&src, maps.view()).unwrap();
    let mut cfg = PrepareConfig::new(&src, 16, dir.join("prep"));
    cfg.transform = PointTransform::Log10 { floor: None };
    cfg.norm = NormKind::Standard;
    prepare(&cfg).unwrap()
}

#[test]
fn train_load_generate_and_denoise_through_one_run() {
    let d = tempfile::tempdir().unwrap();
    let ds = dataset(d.path());
    // prepare records the training range in trained units: the log10 of the extreme pixels.
    let [lo, hi] = ds.meta.train_range.expect("train_range recorded");
    let mut train = ds.load("train").unwrap();
    let (zmin, zmax) = train
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let norm = ds.normalization();
    assert!((norm.apply_value(lo) - zmin as f64).abs() < 1e-5);
    assert!((norm.apply_value(hi) - zmax as f64).abs() < 1e-5);

    let toml = d.path().join("tiny.toml");
    std::fs::write(&toml, TINY).unwrap();
    let run_dir = d.path().join("run");
    let opts = TrainOptions {
        preset: "cpu-small".into(),
        overrides: Some(toml),
        data: ds.dir.clone(),
        out: run_dir.clone(),
        steps: Some(3),
        minutes: None,
        seed: 0,
        resume: false,
        device: Some("cpu".into()),
        threads: Some(1),
        condition: None,
    };
    let (mut started, mut steps) = (false, Vec::new());
    let out = pipeline::train(&opts, &mut |e| match e {
        Progress::Started { start_step, .. } => {
            assert_eq!(start_step, 0);
            started = true
        }
        Progress::Train(TrainEvent::Step { step, .. }) => steps.push(step),
        _ => {}
    })
    .unwrap();
    assert!(started);
    assert_eq!(steps, vec![1, 2, 3]);
    assert_eq!((out.start_step, out.step), (0, 3));
    assert!(out.checkpoint.exists() && run_dir.join("config.json").exists());

    let run = TrainedRun::load(&run_dir, &cpu()).unwrap();
    let space = run.space().unwrap().clone();
    assert_eq!(space.transform, PointTransform::Log10 { floor: None });
    assert_eq!(run.resolution, Some(16));
    assert_eq!(run.step, 3);
    let (rlo, rhi) = run.training_range.expect("range from the manifest");
    assert!((rlo - zmin as f64).abs() < 1e-5 && (rhi - zmax as f64).abs() < 1e-5);

    // Out-of-range rule: Clamp is Keep clamped to the training range, and says how many.
    let g = |rule| {
        let o = GenerateOptions {
            n: 3,
            sampler: SamplerConfig::ddim(5, 0.0),
            seed: 11,
            batch: 2,
            out_of_range: rule,
            ..GenerateOptions::default()
        };
        run.generate(&o, None).unwrap()
    };
    let keep = g(OutOfRange::Keep);
    let clamp = g(OutOfRange::Clamp);
    assert_eq!(keep.fields.dim(), (3, 16, 16));
    assert!(keep.physical && keep.clamped == 0 && keep.range.is_none());
    let outside = keep
        .normalised
        .iter()
        .filter(|v| (**v as f64) < rlo || (**v as f64) > rhi)
        .count() as u64;
    // A 3-step model leaves some pixels outside (8 of 768 with these seeds); with none the
    // rule would go untested.
    assert!(outside > 0, "no pixel outside the training range");
    assert_eq!(clamp.clamped, outside);
    for (k, c) in keep.normalised.iter().zip(clamp.normalised.iter()) {
        assert_eq!(*c, k.clamp(rlo as f32, rhi as f32));
    }
    // Physical units are 10^(denormalised value), within the training range's physical span.
    let (plo, phi) = (10f64.powf(lo) as f32, 10f64.powf(hi) as f32);
    for (&z, &x) in clamp.normalised.iter().zip(clamp.fields.iter()) {
        let want = 10f64.powf(space.denormalise(z as f64)) as f32;
        assert!((x - want).abs() <= 1e-5 * want, "{x} vs {want}");
        assert!(x >= plo * (1.0 - 1e-5) && x <= phi * (1.0 + 1e-5));
    }
    // Same seed, same fields.
    assert_eq!(g(OutOfRange::Clamp).fields, clamp.fields);

    // Denoise: the plan is diffusion::inverse's, DDPM from t* costs t* + 1 calls per map.
    train.mapv_inplace(|z| norm.invert_value(z as f64) as f32);
    let noisy = train
        .slice(ndarray::s![..2, .., ..])
        .mapv(|v| 10f64.powf(v as f64));
    let sigma = 0.05;
    let cfg = PosteriorConfig {
        injection: Injection::Exact,
        samples: 2,
        sampler: SamplerConfig::ddpm(),
        seed: 1,
    };
    let den = run
        .denoise(noisy.view(), Path::new("noisy"), sigma, &cfg, None)
        .unwrap();
    let plan = plan_injection(&run.schedule, sigma * space.scale(), Injection::Exact).unwrap();
    assert_eq!(den.plan, plan);
    assert!((den.sigma_norm - sigma * space.scale()).abs() < 1e-12);
    assert_eq!(den.nfe, 2 * (plan.t_star + 1));
    assert_eq!(den.samples.dim(), (2, 2, 16, 16));
    let mean = den.samples.mean_axis(Axis(1)).unwrap();
    assert!(mean
        .iter()
        .zip(den.mean.iter())
        .all(|(a, b)| (a - b).abs() <= 1e-12 * a.abs().max(1.0)));
    // σ is checked once, by the run, with the value in the message.
    let e = run
        .denoise(noisy.view(), Path::new("noisy"), -1.0, &cfg, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("-1"), "{e}");
    // A map of another side is refused, naming the source.
    let small = Array3::<f64>::ones((1, 8, 8));
    let e = run
        .denoise(small.view(), Path::new("small.npy"), sigma, &cfg, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("small.npy") && e.contains("16×16"), "{e}");
}

#[test]
fn a_checkpoint_with_a_bare_normalisation_takes_the_transform_from_the_run_folder() {
    let d = tempfile::tempdir().unwrap();
    let text = format!("{TINY}\n[diffusion]\ngaussian_prior = false\n");
    let cfg = RunConfig::from_preset_and_toml("cpu-small", Some(&text)).unwrap();
    let tr = Trainer::new(cfg, 0, Device::Cpu).unwrap();
    let norm = Normalization::MinMax {
        min: -1.0,
        max: 3.0,
    };
    let ck = d.path().join(diffusion::checkpoint::FILE_NAME);
    tr.save(&ck, Some(&serde_json::to_string(&norm).unwrap()))
        .unwrap();

    // No transform anywhere: refused, saying what is missing.
    let e = TrainedRun::load(d.path(), &cpu())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("transform"), "{e}");

    // The run folder's dataset.json (the old layout) supplies transform and resolution.
    std::fs::write(
        d.path().join("dataset.json"),
        r#"{"transform": {"kind": "log10"}, "resolution": 16, "normalization": {"kind": "min_max", "min": 0.0, "max": 1.0}}"#,
    )
    .unwrap();
    let run = TrainedRun::load(&ck, &cpu()).unwrap();
    let space = run.space().unwrap();
    assert_eq!(space.transform, PointTransform::Log10 { floor: None });
    // The checkpoint's own normalisation wins over the folder's.
    assert_eq!(space.norm, norm);
    assert_eq!(run.resolution, Some(16));
    // Min–max data span exactly [−1, 1]: the out-of-range bounds without a recorded range.
    assert_eq!(run.training_range, Some((-1.0, 1.0)));
    assert!(run.manifest.is_none());
}
