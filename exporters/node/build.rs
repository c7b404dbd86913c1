//! Links the functions a scrape and start-up run ahead of the rest of the code.
//!
//! Most of the exporter's resident memory is its own executable, and the kernel maps code in
//! 64 KiB blocks around each page touched ("fault-around"): with the functions a scrape runs
//! scattered over the 4.4 MB of code, nearly every block ends up resident. `hot-text.ld` (made
//! by `cargo xtask hot-text`, from a recording of start-up and scrapes with the default
//! collectors) lists those functions as section-name patterns without their hashes, so it holds
//! across rebuilds; the linker places them first. A name the file misses only costs memory.

fn main() {
    println!("cargo:rerun-if-changed=hot-text.ld");
    // Optimised builds only: that is what ships and what the benchmarks measure.
    if std::env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let Ok(dir) = std::env::var("CARGO_MANIFEST_DIR") else {
        return;
    };
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{dir}/hot-text.ld");
}
