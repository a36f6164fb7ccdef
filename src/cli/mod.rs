//! Argument parsing and dispatch. One module per verb (or family of verbs).

mod adapter;
mod admission;
mod db;
mod dev;
mod env_alias;
mod gc;
mod job;
mod logging;
mod manage;
mod policy;
mod registry;
mod registry_args;
mod replication;
mod sbom;
mod scan;
mod scan_cache;
mod serve;
mod sign;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Wharf: an OCI registry with supply-chain security built in.
///
/// Run `wharf serve` to start a registry that keeps everything under one data
/// directory (blobs on the filesystem, metadata in SQLite). Any OCI client
/// (docker, skopeo, podman, oras) can then push to and pull from it.
#[derive(Parser, Debug)]
#[command(name = "wharf", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    log: logging::LogArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the registry server.
    Serve(Box<serve::ServeArgs>),
    /// Manage cosign-compatible signing keys.
    #[command(subcommand)]
    Key(sign::KeyCommand),
    /// Sign an image (cosign-compatible signature in the registry).
    Sign(sign::SignArgs),
    /// Verify an image's signatures (key or keyless); exit 1 when none verifies.
    Verify(sign::VerifyArgs),
    /// Sign a file; prints the base64 signature.
    SignBlob(sign::SignBlobArgs),
    /// Verify a file's signature; exit 1 when it does not verify.
    VerifyBlob(sign::VerifyBlobArgs),
    /// Attest a predicate about an image (in-toto statement in DSSE, or a cosign v3 bundle).
    Attest(sign::AttestArgs),
    /// Verify an image's attestations (key or keyless) and print their statements; exit 1 when none verifies.
    VerifyAttestation(sign::VerifyAttestationArgs),
    /// Log in to a registry (stores credentials for the management verbs).
    Login(manage::LoginArgs),
    /// Create, list and delete projects.
    Project(manage::ProjectArgs),
    /// Manage who has which role in a project.
    Member(manage::MemberArgs),
    /// Project roles: list them; define custom roles from the project actions.
    Role(manage::RoleArgs),
    /// Robot accounts for CI: create, list, delete, refresh secrets.
    Robot(manage::RobotArgs),
    /// Users: create, list, change passwords.
    User(manage::UserArgs),
    /// The registry's Security Hub: which images contain a CVE; vulnerability summary.
    Vuln(manage::VulnArgs),
    /// Tag immutability rules of a project: list, add, remove.
    Immutable(manage::ImmutableArgs),
    /// A project's storage quota: get, set.
    Quota(manage::QuotaArgs),
    /// A project's tag retention policy: show, set, run (or dry-run), executions.
    Retention(manage::RetentionArgs),
    /// Scan an image for vulnerable packages (or list them with --list-packages).
    Scan(scan::ScanArgs),
    /// Manage the offline vulnerability database.
    Db(db::DbArgs),
    /// Remove cached data: `--scan-cache`, the layer analyses of `scan` and `sbom`.
    Clean(scan_cache::CleanArgs),
    /// Generate an SBOM (SPDX / CycloneDX) for an image; attach or fetch it as a referrer.
    Sbom(sbom::SbomArgs),
    /// Kubernetes admission webhook: check and pin the images of workloads.
    Admission(admission::AdmissionArgs),
    /// Harbor's pluggable scanner API: let a Harbor installation scan with Wharf.
    Adapter(adapter::AdapterArgs),
    /// Check images against ImagePolicy files (the CI gate); validate policy files.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Garbage collection on a registry: run now (or dry-run), history, schedule.
    Gc(gc::GcArgs),
    /// Re-hash every blob and manifest on a registry; report (or quarantine) corrupt ones.
    Scrub(gc::ScrubArgs),
    /// The registry's background jobs: list, show, log, stop, retry.
    Job(job::JobArgs),
    /// Developer tools: `populate` fills a registry with generated images (scale benchmarks).
    Dev(dev::DevArgs),
    /// Registry endpoints to replicate with: add, list, ping, remove.
    Registry(registry::RegistryArgs),
    /// Replication between this registry and an endpoint: policies, runs, their tasks and logs.
    Replication(replication::ReplicationArgs),
}

/// `wharf scan … | head`: when the reader goes away, end as Unix tools do (killed by
/// SIGPIPE, nothing printed) instead of reporting an error or panicking in `println!`.
/// Not for the servers, whose client connections must never take the process down.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal at start-up, before any
    // thread exists; no handler runs Rust code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Exit codes CI can rely on: 0 success, 1 a check failed (policy, verify, scan
/// findings), 2 usage or runtime error.
pub const EXIT_ERROR: u8 = 2;

/// Parses the command line; renamed environment variables are still read under their
/// old names (see [`env_alias`]).
fn parse() -> Cli {
    let cmd = env_alias::apply(Cli::command(), logging::RENAMED_VARIABLES)
        .mut_subcommand("serve", |serve| {
            env_alias::apply(serve, serve::RENAMED_VARIABLES)
        });
    Cli::from_arg_matches(&cmd.get_matches()).unwrap_or_else(|e| e.exit())
}

pub fn run() -> ExitCode {
    let cli = parse();
    if !matches!(
        cli.command,
        Command::Serve(_) | Command::Admission(_) | Command::Adapter(_)
    ) {
        quiet_on_closed_pipe();
    }
    logging::init(&cli.log);
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Key(cmd) => sign::key(cmd),
        Command::Sign(args) => sign::sign(args),
        Command::Verify(args) => sign::verify(args),
        Command::SignBlob(args) => sign::sign_blob(args),
        Command::VerifyBlob(args) => sign::verify_blob(args),
        Command::Attest(args) => sign::attest(args),
        Command::VerifyAttestation(args) => sign::verify_attestation(args),
        Command::Login(args) => manage::login(args),
        Command::Project(args) => manage::project(args),
        Command::Member(args) => manage::member(args),
        Command::Role(args) => manage::role(args),
        Command::Robot(args) => manage::robot(args),
        Command::User(args) => manage::user(args),
        Command::Vuln(args) => manage::vuln(args),
        Command::Immutable(args) => manage::immutable(args),
        Command::Quota(args) => manage::quota(args),
        Command::Retention(args) => manage::retention(args),
        Command::Scan(args) => scan::run(args),
        Command::Db(args) => db::run(args),
        Command::Clean(args) => scan_cache::clean(args),
        Command::Sbom(args) => sbom::run(args),
        Command::Admission(args) => admission::run(args),
        Command::Adapter(args) => adapter::run(args),
        Command::Policy(cmd) => policy::run(cmd),
        Command::Gc(args) => gc::run(args),
        Command::Scrub(args) => gc::scrub(args),
        Command::Job(args) => job::run(args),
        Command::Dev(args) => dev::run(args),
        Command::Registry(args) => registry::run(args),
        Command::Replication(args) => replication::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
