// Embed an rpath to libtorch so binaries and test executables run without LD_LIBRARY_PATH.
// scripts/env.sh exports ASTRODIFF_TORCH_LIB; without it the user must set LD_LIBRARY_PATH.
// With the `cuda` feature, force libtorch_cuda into DT_NEEDED: nothing references its symbols
// directly, so `--as-needed` would drop it and tch would then see no GPU.
fn main() {
    println!("cargo:rerun-if-env-changed=ASTRODIFF_TORCH_LIB");
    if let Ok(dir) = std::env::var("ASTRODIFF_TORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    if std::env::var_os("CARGO_FEATURE_CUDA").is_some() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}
