//! Former names of environment variables, still honoured.
//!
//! Every setting follows one scheme: flag `--some-flag`, variable `WHARF_SOME_FLAG`,
//! config-file key `some_flag`. Variables renamed to fit it keep working under their old
//! name: clap reads one variable per flag, so when only the old one is set, the flag is
//! pointed at the old one before parsing. The new name wins when both are set.

use clap::Command;

/// A renamed variable: the argument it sets (clap id), its name now, its former name.
pub(super) struct Renamed {
    pub(super) arg: &'static str,
    pub(super) new: &'static str,
    pub(super) old: &'static str,
}

fn is_set(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| !v.is_empty())
}

/// Points each argument of `cmd` whose new variable is unset at its old variable, when
/// that one is set.
pub(super) fn apply(mut cmd: Command, renamed: &[Renamed]) -> Command {
    for r in renamed {
        if !is_set(r.new) && is_set(r.old) {
            cmd = cmd.mut_arg(r.arg, |a| a.env(r.old));
        }
    }
    cmd
}
