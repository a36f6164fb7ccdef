//! The `wharf` command line: a thin shell over the workspace crates.
//! Each verb lives in its own module under `cli/`; the real work is in the library crates.

mod cli;

/// jemalloc in place of the system allocator: it hands freed memory back where
/// glibc's per-thread arenas kept it, so a long-running `wharf serve` stays flat
/// (docs/design.md, "Memory allocator").
#[cfg(all(unix, not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    cli::run()
}
