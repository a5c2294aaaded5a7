#![no_main]
include!("../harness_fields.rs");
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_map_file(data, "maps.npz"));
