// Embed an rpath to libtorch so binaries and test executables run without LD_LIBRARY_PATH.
// scripts/env.sh exports ASTRODIFF_TORCH_LIB; without it the user must set LD_LIBRARY_PATH.
fn main() {
    println!("cargo:rerun-if-env-changed=ASTRODIFF_TORCH_LIB");
    if let Ok(dir) = std::env::var("ASTRODIFF_TORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
