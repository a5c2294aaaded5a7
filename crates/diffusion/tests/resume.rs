//! Exact resume and crash-safe checkpoints.

mod common;

use common::{tiny_config, Toy};
use diffusion::checkpoint;
use diffusion::tch::{Device, Tensor};
use diffusion::train::{self, LoopOptions, Trainer};
use std::sync::Mutex;

/// Weight init and dropout use torch's global generator (seeded per step from (seed, step));
/// tests in this binary run on parallel threads, so they take turns.
static TORCH_RNG: Mutex<()> = Mutex::new(());

fn opts(dir: &std::path::Path, steps: u64) -> LoopOptions {
    LoopOptions {
        run_dir: dir.to_path_buf(),
        total_steps: Some(steps),
        minutes: None,
        normalisation: Some("{\"mean\":1.5}".into()),
    }
}

fn assert_same_state(a: &Trainer, b: &Trainer) {
    assert_eq!(a.step, b.step);
    assert_eq!(a.opt.t, b.opt.t);
    let (sa, sb) = (a.state_tensors(), b.state_tensors());
    assert_eq!(sa.len(), sb.len());
    for ((na, ta), (nb, tb)) in sa.iter().zip(&sb) {
        assert_eq!(na, nb);
        assert!(ta.equal(tb), "{na} differs after resume");
    }
}

#[test]
fn resume_is_bit_identical_to_an_uninterrupted_run() {
    let _g = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    tch::set_num_threads(1);
    let data = Toy::new(5, 8, 11);
    let cfg = tiny_config();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    let mut straight = Trainer::new(cfg.clone(), 7, Device::Cpu).unwrap();
    train::run(&mut straight, &data, &opts(d1.path(), 10)).unwrap();

    let mut first = Trainer::new(cfg, 7, Device::Cpu).unwrap();
    train::run(&mut first, &data, &opts(d2.path(), 5)).unwrap();
    let ck = checkpoint::read(d2.path()).unwrap();
    assert_eq!(ck.step, 5);
    assert_eq!(ck.normalisation.as_deref(), Some("{\"mean\":1.5}"));
    drop(first);
    let mut resumed = Trainer::from_checkpoint(&ck, Device::Cpu).unwrap();
    train::run(&mut resumed, &data, &opts(d2.path(), 10)).unwrap();
    assert_same_state(&straight, &resumed);

    // The state written at the end matches as well, and the weights did move (so the
    // comparison is not vacuous), and the EMA differs from the weights.
    let a = checkpoint::read(d1.path()).unwrap();
    let b = checkpoint::read(d2.path()).unwrap();
    for (k, t) in &a.tensors {
        assert!(t.equal(&b.tensors[k]), "{k} differs in the checkpoints");
    }
    let init = Trainer::new(tiny_config(), 7, Device::Cpu).unwrap();
    let moved = init
        .net
        .named_params()
        .iter()
        .zip(straight.net.named_params())
        .any(|((_, x), (_, y))| !x.equal(&y));
    assert!(moved);
    let w = &a.tensors["model/final_conv.weight"];
    assert!(!w.equal(&a.tensors["ema/final_conv.weight"]));
    // The metrics log holds each logged step exactly once.
    let log = std::fs::read_to_string(d2.path().join("metrics.jsonl")).unwrap();
    let steps: Vec<u64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(steps, vec![2, 4, 6, 8, 10]);
}

#[test]
fn a_checkpoint_write_killed_midway_leaves_the_previous_one_loadable() {
    let _g = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let data = Toy::new(3, 8, 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(checkpoint::FILE_NAME);
    let mut tr = Trainer::new(tiny_config(), 3, Device::Cpu).unwrap();
    tr.train_step_from(&data).unwrap();
    tr.save(&path, None).unwrap();
    let saved: Vec<(String, Tensor)> = tr
        .state_tensors()
        .into_iter()
        .map(|(n, t)| (n, t.copy()))
        .collect();
    tr.train_step_from(&data).unwrap();

    // Crash after the temporary file is written, before the rename.
    let err = tr
        .save_with_hook(&path, None, || {
            Err(std::io::Error::other("simulated crash"))
        })
        .unwrap_err();
    assert!(err.to_string().contains("simulated crash"));
    // A failed write removes its temporary file.
    let temps = |d: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".tmp"))
            .collect()
    };
    assert!(temps(dir.path()).is_empty());
    // A process killed while writing leaves a half-written temporary file under its own name.
    let killed = dir.path().join(".checkpoint.safetensors.Xk3v9a.tmp");
    std::fs::write(&killed, b"half a checkpoint").unwrap();

    let ck = checkpoint::read(&path).unwrap();
    assert_eq!(ck.step, 1);
    for (n, t) in &saved {
        assert!(t.equal(&ck.tensors[n]), "{n} changed");
    }
    let back = Trainer::from_checkpoint(&ck, Device::Cpu).unwrap();
    assert_eq!(back.step, 1);
    // The next successful save replaces the checkpoint; the next trainer to claim the folder
    // clears what the killed one left.
    tr.save(&path, None).unwrap();
    assert_eq!(checkpoint::read(&path).unwrap().step, 2);
    let lock = atomicio::DirLock::acquire(dir.path(), "test").unwrap();
    lock.remove_stale_temporaries().unwrap();
    assert!(temps(dir.path()).is_empty());

    // A truncated checkpoint is refused with an error naming the file.
    let bytes = std::fs::read(&path).unwrap();
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();
    let e = checkpoint::read(&bad).err().unwrap().to_string();
    assert!(e.contains("bad.safetensors"), "{e}");
}

#[test]
fn checkpoints_with_non_finite_weights_are_refused_at_load() {
    let _g = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(checkpoint::FILE_NAME);
    let tr = Trainer::new(tiny_config(), 3, Device::Cpu).unwrap();
    // A diverged EMA: one weight NaN.
    tch::no_grad(|| {
        let (_, w) = &tr.ema.net.named_params()[0];
        let _ = w.shallow_clone().view([-1]).get(0).fill_(f64::NAN);
    });
    tr.save(&path, None).unwrap();
    let e = checkpoint::read(&path).err().unwrap().to_string();
    assert!(
        e.contains("checkpoint.safetensors") && e.contains("ema/") && e.contains("non-finite"),
        "{e}"
    );
    assert!(!e.contains('\n'));
}

#[test]
fn unreadable_checkpoints_are_described_in_words_with_the_file_name() {
    let _g = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(checkpoint::FILE_NAME);
    Trainer::new(tiny_config(), 3, Device::Cpu)
        .unwrap()
        .save(&path, None)
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.safetensors");
    for (what, b) in [
        ("truncated", &bytes[..bytes.len() - 7]),
        ("truncated", &bytes[..5]),
        (
            "not a safetensors file",
            b"{not json at all, but long enough}".as_slice(),
        ),
    ] {
        std::fs::write(&cut, b).unwrap();
        let e = checkpoint::read(&cut).err().unwrap().to_string();
        assert!(e.contains("cut.safetensors") && e.contains(what), "{e}");
        for internal in [
            "MetadataIncompleteBuffer",
            "HeaderTooSmall",
            "InvalidHeader",
        ] {
            assert!(!e.contains(internal), "{e}");
        }
    }
}

#[test]
fn zero_log_interval_and_zero_threads_are_refused() {
    let mut c = tiny_config();
    c.train.log_every = 0;
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("log_every"), "{e}");
    let e = diffusion::model::select_device(Some("cpu"), Some(0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("--threads 0"), "{e}");
    // Found by the config fuzz target and its corpus replay: T = 4e9 asked for 32 GB per
    // schedule table, and 70 levels overflowed the stride 2^(levels-1).
    let e = diffusion::config::RunConfig::from_preset_and_toml(
        "cpu-small",
        Some("[diffusion.schedule]\ntimesteps = 4000000000\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("4000000000") && e.contains("100000"), "{e}");
    let mults = vec!["1"; 70].join(", ");
    let atts = vec!["\"none\""; 70].join(", ");
    let e = diffusion::config::RunConfig::from_preset_and_toml(
        "cpu-small",
        Some(&format!(
            "[unet]\nchannel_mults = [{mults}]\nattention = [{atts}]\n"
        )),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("70 levels"), "{e}");
}
