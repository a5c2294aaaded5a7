// What the checkpoint and config fuzz targets do with one input. `include!`d by the targets
// in fuzz_targets/ and by the corpus-replay test crates/diffusion/tests/fuzz_corpus.rs, so CI replays every
// committed seed and crash through the same code. Each function must return (Ok or Err inside);
// a panic, hang or runaway allocation is a bug.

/// A checkpoint's bytes (safetensors plus astrodiff's metadata), decoded without libtorch.
#[allow(dead_code)]
fn fuzz_checkpoint(bytes: &[u8]) {
    let _ = diffusion::checkpoint::decode(bytes, std::path::Path::new("fuzz.safetensors"));
}

/// A TOML override of the cpu-small preset, and what training derives from it at once.
#[allow(dead_code)]
fn fuzz_config(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(cfg) = diffusion::config::RunConfig::from_preset_and_toml("cpu-small", Some(text)) {
        let s = cfg.diffusion.schedule.build().expect("validated schedule builds");
        assert_eq!(s.betas.len(), cfg.diffusion.schedule.timesteps);
        let _ = cfg.unet.total_stride();
        for step in [0, 1, cfg.train.warmup_steps, cfg.train.decay_steps, u64::MAX] {
            assert!(cfg.lr_at(step).is_finite());
        }
    }
}
