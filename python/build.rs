// With the `torch` feature the module links libtorch. Two rpaths: the build's libtorch
// (scripts/env.sh exports ASTRODIFF_TORCH_LIB), and `$ORIGIN/../torch/lib`, where pip puts
// PyTorch beside an installed astrodiff, so `import astrodiff` and `import torch` load the same
// libtorch in one process.
fn main() {
    println!("cargo:rerun-if-env-changed=ASTRODIFF_TORCH_LIB");
    if std::env::var_os("CARGO_FEATURE_TORCH").is_none() {
        return;
    }
    if let Ok(dir) = std::env::var("ASTRODIFF_TORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN/../torch/lib");
}
