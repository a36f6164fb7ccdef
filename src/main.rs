//! The `wharf` command line: a thin shell over the workspace crates.
//! Each verb lives in its own module under `cli/`; the real work is in the library crates.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
