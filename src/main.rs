//! The `wharf` command line: a thin shell over the workspace crates.
//! Each verb lives in its own module under `cli/`; the real work is in the library crates.

mod cli;

/// jemalloc in place of the system allocator: it hands freed memory back where
/// glibc's per-thread arenas kept it, so a long-running `wharf serve` stays flat
/// (docs/design.md, "Memory allocator").
#[cfg(all(unix, not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main`: one arena. The large allocations a busy
/// server makes are hyper's read buffers, allocated on the connection's thread and
/// freed on an upload's hashing thread; with one arena per CPU times four (the
/// default) each arena kept its own freed buffers for the decay time, and a 1 GiB
/// upload peaked 3.5 MiB higher (39 against 35.5 MiB) for the same CPU time. Small
/// allocations go through per-thread caches either way (docs/design.md, "Memory
/// allocator").
#[cfg(all(unix, not(target_env = "musl")))]
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8; 10] = b"narenas:1\0";

fn main() -> std::process::ExitCode {
    cli::run()
}
