//! How fast `wharf_oci`'s [`Hasher`] (the `sha2` crate) hashes on this machine,
//! in MB/s: the number `scripts/bench-registry.sh` prints beside
//! `openssl speed -evp sha256`, to show whether uploads could reach openssl's
//! limit with the hash we use. Usage: `sha256_speed [MiB] [block KiB]`.

use std::time::Instant;

use wharf_oci::digest::Algorithm;

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().map_or(1024, |a| a.parse().expect("MiB"));
    let block_kib: usize = args.next().map_or(1024, |a| a.parse().expect("block KiB"));
    let block: Vec<u8> = (0..block_kib * 1024)
        .map(|i| (i * 131 % 251) as u8)
        .collect();
    let blocks = mib * 1024 / block_kib;
    let mut hasher = Algorithm::Sha256.hasher();
    hasher.update(&block); // warm up the CPU feature detection and caches
    let t0 = Instant::now();
    for _ in 0..blocks {
        hasher.update(&block);
    }
    let digest = hasher.finish();
    let secs = t0.elapsed().as_secs_f64();
    println!("{:.0}", (blocks * block.len()) as f64 / secs / 1e6);
    eprintln!("{digest}"); // keeps the work observable
}
