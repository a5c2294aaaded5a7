//! Shared helpers for the integration tests: a tiny run config, a synthetic data source and the
//! device the statistical tests run on.
#![allow(dead_code)]

use diffusion::config::{Loss, RunConfig};
use diffusion::schedule::ScheduleConfig;
use diffusion::train::{Batch, BatchSource};
use diffusion::unet::Attention;
use rand::{Rng, SeedableRng};

/// A few-thousand-parameter network on 8×8 fields, every feature switched on (linear and full
/// attention, dropout, conditioning, warm-up, clipping, weight decay, delayed EMA).
pub fn tiny_config() -> RunConfig {
    let mut c = RunConfig::preset("cpu-small").unwrap();
    c.unet.base_channels = 8;
    c.unet.channel_mults = vec![1, 2];
    c.unet.res_blocks = 1;
    c.unet.attention = vec![Attention::Linear, Attention::None];
    c.unet.mid_attention = Attention::Full;
    c.unet.heads = 1;
    c.unet.head_dim = 8;
    c.unet.groups = 4;
    c.unet.dropout = 0.1;
    c.unet.cond_dim = 2;
    c.diffusion.schedule = ScheduleConfig::linear(50, 1e-3, 0.2);
    c.diffusion.loss = Loss::Huber;
    // The plain network: tests of the prior switch it on (tests/prior.rs).
    c.diffusion.gaussian_prior = false;
    // Uniform timesteps: the schedule here has 50 steps; tests/t_sampling.rs tests the others.
    c.diffusion.t_sampling = diffusion::config::TimestepSampling::Uniform;
    c.train.batch_size = 4;
    c.train.lr = 2e-3;
    c.train.warmup_steps = 3;
    c.train.grad_clip = 0.5;
    c.train.weight_decay = 0.01;
    c.train.ema_start = 2;
    c.train.ema_decay = 0.9;
    c.train.log_every = 2;
    c.train.checkpoint_every = 3;
    c
}

/// `k` fixed random fields of side `n`; batch `s` picks items and a roll from ChaCha(seed, s).
pub struct Toy {
    pub fields: Vec<ndarray::Array2<f32>>,
    pub seed: u64,
    pub augment: bool,
}

impl Toy {
    pub fn new(k: usize, n: usize, seed: u64) -> Self {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let fields = (0..k)
            .map(|_| {
                // Smooth-ish fields: sum of a few periodic waves.
                let mut f = ndarray::Array2::<f32>::zeros((n, n));
                for _ in 0..3 {
                    let (kx, ky) = (rng.gen_range(0..3) as f32, rng.gen_range(0..3) as f32);
                    let ph: f32 = rng.gen_range(0.0..std::f32::consts::TAU);
                    let a: f32 = rng.gen_range(0.3..0.8);
                    for i in 0..n {
                        for j in 0..n {
                            let x =
                                std::f32::consts::TAU * (kx * i as f32 + ky * j as f32) / n as f32;
                            f[[i, j]] += a * (x + ph).sin();
                        }
                    }
                }
                f
            })
            .collect();
        Self {
            fields,
            seed,
            augment: true,
        }
    }
}

impl BatchSource for Toy {
    fn batch_at(&self, step: u64, b: usize) -> diffusion::Result<Batch> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(step);
        let n = self.fields[0].dim().0;
        let mut x = ndarray::Array3::<f32>::zeros((b, n, n));
        let mut c = ndarray::Array2::<f32>::zeros((b, 2));
        for i in 0..b {
            let k = rng.gen_range(0..self.fields.len());
            let (dy, dx) = if self.augment {
                (rng.gen_range(0..n), rng.gen_range(0..n))
            } else {
                (0, 0)
            };
            for p in 0..n {
                for q in 0..n {
                    x[[i, p, q]] = self.fields[k][[(p + dy) % n, (q + dx) % n]];
                }
            }
            c[[i, 0]] = k as f32;
            c[[i, 1]] = 1.0;
        }
        Ok(Batch {
            fields: x,
            cond: Some(c),
        })
    }
    fn field_size(&self) -> usize {
        self.fields[0].dim().0
    }
}

/// Device for the statistical tests: CPU, or CUDA when `ASTRODIFF_TEST_DEVICE=cuda` (used for
/// the GPU check; the noise is generated on the CPU either way).
pub fn dev() -> tch::Device {
    match std::env::var("ASTRODIFF_TEST_DEVICE").as_deref() {
        Ok("cuda") => tch::Device::Cuda(0),
        _ => tch::Device::Cpu,
    }
}

/// A tensor's values as f64, in row-major order, wherever it lives.
pub fn to_vec(x: &tch::Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(
        x.to_device(tch::Device::Cpu)
            .to_kind(tch::Kind::Double)
            .flatten(0, -1),
    )
    .unwrap()
}
