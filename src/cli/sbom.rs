//! `wharf sbom`: SPDX / CycloneDX documents for an image, attached as OCI referrers.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use wharf_oci::BlockingClient as RegistryClient;
use wharf_sbom::Format;
use wharf_scanner::image::LoadOptions;

use super::registry_args::RegistryArgs;
use super::scan::print_warnings;
use super::scan_cache::CacheArgs;

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum SbomFormat {
    SpdxJson,
    CyclonedxJson,
}

impl From<SbomFormat> for Format {
    fn from(f: SbomFormat) -> Format {
        match f {
            SbomFormat::SpdxJson => Format::SpdxJson,
            SbomFormat::CyclonedxJson => Format::CycloneDxJson,
        }
    }
}

#[derive(Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "\
IMAGE forms are those of `wharf scan` (oci:DIR[:TAG], docker-archive:FILE, dir:PATH,
HOST[:PORT]/REPO:TAG or @sha256:…). SOURCE_DATE_EPOCH fixes the creation time.

Examples:
  wharf sbom oci:./layout:v1 --format cyclonedx-json -o sbom.cdx.json
  wharf sbom --insecure 127.0.0.1:5000/app:v1 --attach
  wharf sbom attach --insecure 127.0.0.1:5000/app:v1 --sbom sbom.spdx.json
  wharf sbom fetch --insecure 127.0.0.1:5000/app:v1 -o fetched.json"
)]
pub struct SbomArgs {
    #[command(subcommand)]
    command: Option<SbomCommand>,

    /// The image to describe.
    #[arg(required = true)]
    image: Option<String>,

    /// Document format.
    #[arg(long, short = 'f', value_enum, default_value_t = SbomFormat::SpdxJson)]
    format: SbomFormat,

    /// Write the document to a file instead of stdout.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,

    /// Also push the document to the image's registry as an OCI referrer.
    #[arg(long)]
    attach: bool,

    /// Platform to pick from a multi-platform image, as os/arch[/variant].
    #[arg(long, default_value = "linux/amd64")]
    platform: String,

    #[command(flatten)]
    registry: RegistryArgs,

    #[command(flatten)]
    cache: CacheArgs,
}

#[derive(Subcommand, Debug)]
enum SbomCommand {
    /// Push an existing SBOM file as a referrer of a registry image.
    Attach {
        image: String,
        /// The SPDX JSON or CycloneDX JSON document.
        #[arg(long)]
        sbom: PathBuf,
        #[arg(long, default_value = "linux/amd64")]
        platform: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Read the SBOM attached to a registry image (referrers, tag schema, cosign `.sbom` tag).
    Fetch {
        image: String,
        /// Only accept this format.
        #[arg(long, short = 'f', value_enum)]
        format: Option<SbomFormat>,
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        #[arg(long, default_value = "linux/amd64")]
        platform: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

fn write_out(output: &Option<PathBuf>, data: &[u8]) -> anyhow::Result<()> {
    match output {
        Some(p) => std::fs::write(p, data).with_context(|| format!("writing {}", p.display())),
        None => Ok(std::io::stdout().lock().write_all(data)?),
    }
}

fn attach_report(a: &wharf_sbom::attach::Attached) {
    let via = match a.via {
        wharf_sbom::attach::Via::ReferrersApi => "referrers API",
        wharf_sbom::attach::Via::TagSchema => "referrers tag schema",
    };
    eprintln!(
        "attached SBOM {} to {} (discoverable through the {via})",
        a.manifest, a.subject
    );
}

pub fn run(args: SbomArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(SbomCommand::Attach {
            image,
            sbom,
            platform,
            registry,
        }) => {
            let (format, _) = wharf_sbom::read::read_file(&sbom, wharf_sbom::read::MAX_SBOM)
                .with_context(|| format!("reading {}", sbom.display()))?;
            let data = std::fs::read(&sbom)?;
            let client = RegistryClient::new(&registry.options()?)?;
            let a = wharf_sbom::attach::attach(&client, &image, Some(&platform), &data, format)
                .with_context(|| format!("attaching to {image}"))?;
            attach_report(&a);
        }
        Some(SbomCommand::Fetch {
            image,
            format,
            output,
            platform,
            registry,
        }) => {
            let client = RegistryClient::new(&registry.options()?)?;
            let f =
                wharf_sbom::attach::fetch(&client, &image, Some(&platform), format.map(Into::into))
                    .with_context(|| format!("fetching the SBOM of {image}"))?;
            eprintln!("found {} ({})", f.source, f.format.media_type());
            write_out(&output, &f.document)?;
        }
        None => {
            let image = args.image.context("IMAGE is required")?;
            let opts = LoadOptions {
                platform: Some(args.platform.clone()),
                registry: args.registry.options()?,
                cache: args.cache.open(),
                ..Default::default()
            };
            let report = wharf_scanner::inventory(&image, &opts)
                .with_context(|| format!("reading {image}"))?;
            print_warnings(&report);
            let format: Format = args.format.into();
            let doc = wharf_sbom::generate(&report, format, &wharf_sbom::Options::default())?;
            write_out(&args.output, &doc)?;
            if args.attach {
                let client = RegistryClient::new(&args.registry.options()?)?;
                let a =
                    wharf_sbom::attach::attach(&client, &image, Some(&args.platform), &doc, format)
                        .with_context(|| {
                            format!("attaching to {image} (--attach needs a registry image)")
                        })?;
                attach_report(&a);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
