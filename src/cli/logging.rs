//! `tracing` set-up shared by every verb: human-readable by default, JSON for log shippers.

use std::io::IsTerminal;

use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;

use super::env_alias::Renamed;

/// `WHARF_LOG` was the variable of `--log-level` before every variable was named after
/// its flag; it is still read.
pub(super) const RENAMED_VARIABLES: &[Renamed] = &[Renamed {
    arg: "log_level",
    new: "WHARF_LOG_LEVEL",
    old: "WHARF_LOG",
}];

#[derive(Args, Debug)]
pub struct LogArgs {
    /// Log filter, in `RUST_LOG` syntax (e.g. `info`, `wharf_registry=debug`). The former
    /// variable WHARF_LOG is still read.
    #[arg(long, global = true, env = "WHARF_LOG_LEVEL", default_value = "info")]
    log_level: String,

    /// Log format.
    #[arg(long, global = true, env = "WHARF_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

pub fn init(args: &LogArgs) {
    let filter = EnvFilter::try_new(&args.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match args.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
