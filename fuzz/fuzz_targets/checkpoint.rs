#![no_main]
include!("../harness_diffusion.rs");
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checkpoint(data));
