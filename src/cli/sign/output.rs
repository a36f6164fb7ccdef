//! What the verify verbs print, as cosign does: the checks performed on stderr, the
//! verified payloads on stdout, and why nothing verified.

use std::process::ExitCode;

use wharf_signer::image::{Report, Target};

use super::EXIT_UNVERIFIED;

/// What a verify verb looks for: the words it uses and how it prints what verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Claims {
    /// `verify`: signatures; the verified payloads as one JSON array.
    Signatures,
    /// `verify-attestation`: in-toto statements, one per line.
    Attestations,
}

impl Claims {
    pub(super) fn one(self) -> &'static str {
        match self {
            Self::Signatures => "signature",
            Self::Attestations => "attestation",
        }
    }

    fn many(self) -> &'static str {
        match self {
            Self::Signatures => "signatures",
            Self::Attestations => "attestations",
        }
    }

    /// The checks on stderr, then what verified on stdout.
    pub(super) fn print(self, subject: &str, verified: &[serde_json::Value], keyless: bool) {
        eprintln!("\nVerification for {subject} --");
        eprintln!(
            "The following checks were performed on each of these {}:",
            self.many()
        );
        if self == Self::Signatures {
            eprintln!("  - The cosign claims were validated");
        }
        if keyless {
            eprintln!("  - Existence of the claims in the transparency log was verified offline");
            eprintln!(
                "  - The code-signing certificate was verified using trusted certificate authority certificates"
            );
        } else if self == Self::Signatures {
            eprintln!("  - The signatures were verified against the specified public key");
        } else {
            eprintln!("  - The DSSE signatures were verified against the specified public key");
        }
        match self {
            Self::Signatures => println!(
                "{}",
                serde_json::to_string(verified).expect("json values serialise")
            ),
            Self::Attestations => {
                eprintln!("  - The statement subject is the image digest");
                for st in verified {
                    println!(
                        "{}",
                        serde_json::to_string(st).expect("json values serialise")
                    );
                }
            }
        }
    }
}

/// Things found but deliberately not used (e.g. timestamps without a trusted TSA).
pub(super) fn print_notes(notes: &[String]) {
    let mut seen = std::collections::BTreeSet::new();
    for n in notes.iter().filter(|n| seen.insert(n.as_str())) {
        eprintln!("Note: {n}");
    }
}

/// Prints a registry verification's outcome; exit 1 when nothing verified.
pub(super) fn finish(target: &Target, report: Report, claims: Claims, keyless: bool) -> ExitCode {
    print_notes(&report.notes);
    if report.verified.is_empty() {
        eprintln!(
            "error: no valid {} found for {}@{}:\n{}",
            claims.many(),
            target.reference.whole(),
            target.digest(),
            report.explain()
        );
        return ExitCode::from(EXIT_UNVERIFIED);
    }
    claims.print(
        &format!("{}@{}", target.reference.whole(), target.digest()),
        &report.verified,
        keyless,
    );
    ExitCode::SUCCESS
}
