//! Simulator benchmark: wall time of one simulation per configuration, by stage, printed as a
//! table. Run with `RAYON_NUM_THREADS=2 cargo bench -p sim --bench simulator`.

use sim::{lpt, maps, pm, CosmoParams, Cosmology, SimConfig};
use std::time::Instant;

fn main() {
    let threads = rayon::current_num_threads();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let configs = [
        (
            "issue target",
            SimConfig {
                particles: 64,
                mesh: 128,
                steps: 20,
                map_res: 256,
                ..Default::default()
            },
        ),
        (
            "demo set",
            SimConfig {
                particles: 32,
                mesh: 64,
                steps: 20,
                map_res: 128,
                ..Default::default()
            },
        ),
    ];
    println!(
        "simulator benchmark: {threads} rayon threads, load average at start: {}",
        load.trim()
    );
    println!("| config | particles | mesh | steps | maps | 2LPT ICs (s) | PM steps (s) | maps (s) | total (s) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, cfg) in configs {
        let params = CosmoParams::with(0.3, 0.8);
        let t = Instant::now();
        let cosmo = Cosmology::new(params).unwrap();
        let mut p = lpt::initial_conditions(
            &cosmo,
            cfg.particles,
            cfg.box_size,
            1.0 / (1.0 + cfg.z_init),
            1,
        );
        let t_ic = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mesh = pm::ParticleMesh::new(cfg.mesh, cfg.box_size);
        pm::evolve(&mut p, &cosmo, &mesh, 1.0, cfg.steps, |_| {});
        let t_pm = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let clouds = maps::adaptive_clouds(&p.pos, cfg.box_size, cfg.particles, cfg.map_res);
        let m = maps::projected_maps(
            &p.pos,
            cfg.box_size,
            cfg.cdm_particle_mass(&params),
            cfg.map_res,
            cfg.slabs,
            &clouds,
        );
        let t_maps = t.elapsed().as_secs_f64();
        assert_eq!(m.len(), 15);
        println!(
            "| {name} | {}³ | {}³ | {} | 15 × {}² | {t_ic:.2} | {t_pm:.2} | {t_maps:.2} | {:.2} |",
            cfg.particles,
            cfg.mesh,
            cfg.steps,
            cfg.map_res,
            t_ic + t_pm + t_maps
        );
    }
}
