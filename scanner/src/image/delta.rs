//! A layer as the list of changes it makes to the merged [`ImageFs`]: what the tar walk
//! decided about each entry, in order (kept file, binary facts, symlink, whiteout, opaque
//! directory, secrets, warning).
//!
//! The walk applies each change the moment it decides it, through the same [`Applier`]
//! that replays a list read back from the layer cache ([`super::cache`]), so a cached layer
//! changes the view exactly as reading its blob did. The few decisions that depend on the
//! layers below — a hard link copies what its target is by then, a kept file counts against
//! the image-wide capture budget — are stored as the question, not the answer, and decided
//! again on replay.

use serde::{Deserialize, Serialize};

use super::LoadOptions;
use super::fs::{ImageFs, Node};
use crate::Warnings;
use crate::analyzers::binary::BinaryFacts;
use crate::analyzers::{self, Capture};
use crate::secret::{CodeLine, SecretFinding};

/// What is kept of one entry, without the layer it came from (a cached layer can sit at any
/// position in another image).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Kept {
    File(#[serde(with = "serde_bytes")] Vec<u8>),
    Binary(Box<BinaryFacts>),
    Symlink(String),
    Dir,
}

impl Kept {
    fn into_node(self, layer: usize) -> Node {
        match self {
            Kept::File(data) => Node::File { data, layer },
            Kept::Binary(facts) => Node::Binary { facts, layer },
            Kept::Symlink(target) => Node::Symlink { target, layer },
            Kept::Dir => Node::Dir { layer },
        }
    }

    pub(crate) fn from_node(node: Node) -> Kept {
        match node {
            Node::File { data, .. } => Kept::File(data),
            Node::Binary { facts, .. } => Kept::Binary(facts),
            Node::Symlink { target, .. } => Kept::Symlink(target),
            Node::Dir { .. } => Kept::Dir,
        }
    }
}

/// One change a layer makes to the merged view.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Change {
    /// `.wh..wh..opq` in this directory (empty: the root).
    Opaque(String),
    /// `.wh.NAME`: `NAME` and everything under it goes.
    Whiteout(String),
    /// An entry replacing whatever lower layers had at the path; `None` when nothing of it
    /// is kept (a skipped file, a device).
    Put {
        path: String,
        kept: Option<Kept>,
    },
    /// A hard link: keeps a copy of its target's node as the view has it then.
    HardLink {
        path: String,
        target: String,
        mode: u32,
        size: u64,
    },
    /// The secrets found in the file at the path.
    Secrets {
        path: String,
        #[serde(with = "cached_findings")]
        findings: Vec<SecretFinding>,
    },
    Warning(String),
}

/// Applies one layer's changes to the view, and (when asked) records them for the cache.
pub(crate) struct Applier<'a> {
    pub fs: &'a mut ImageFs,
    layer: usize,
    /// The layer's name in warnings.
    name: &'a str,
    opts: &'a LoadOptions,
    warnings: &'a mut Warnings,
    /// Every change so far, when the layer is to be cached.
    log: Option<Vec<Change>>,
    /// Whether the log describes the layer alone. A file dropped because the image's
    /// capture budget was spent was never read, so the log lacks it: such a layer is
    /// not cached.
    complete: bool,
}

impl<'a> Applier<'a> {
    pub(crate) fn new(
        fs: &'a mut ImageFs,
        layer: usize,
        name: &'a str,
        opts: &'a LoadOptions,
        warnings: &'a mut Warnings,
        record: bool,
    ) -> Self {
        Applier {
            fs,
            layer,
            name,
            opts,
            warnings,
            log: record.then(Vec::new),
            complete: true,
        }
    }

    /// The recorded changes, if recording was asked for and the layer can be cached.
    pub(crate) fn into_log(self) -> Option<Vec<Change>> {
        self.log.filter(|_| self.complete)
    }

    /// Marks the log as not standing for the layer alone (see [`Applier::complete`]).
    pub(crate) fn incomplete(&mut self) {
        self.complete = false;
    }

    pub(crate) fn warn(&mut self, msg: String) {
        self.change(Change::Warning(msg));
    }

    /// Applies `change` (and records it when recording).
    pub(crate) fn change(&mut self, change: Change) {
        if let Some(log) = &mut self.log {
            log.push(change.clone());
        }
        self.apply(change);
    }

    /// Replays changes read back from the cache.
    pub(crate) fn replay(&mut self, changes: Vec<Change>) {
        for c in changes {
            self.apply(c);
        }
    }

    fn apply(&mut self, change: Change) {
        let layer = self.layer;
        match change {
            Change::Opaque(dir) if dir.is_empty() => self.fs.opaque_root(layer),
            Change::Opaque(dir) => self.fs.opaque(&dir, layer),
            Change::Whiteout(path) => self.fs.whiteout(&path),
            Change::Put { path, kept } => {
                let max = self.opts.limits.max_total_capture;
                let kept = match kept {
                    // The same test (and words) as the walk's `read_regular`, against the
                    // budget as this image has spent it so far.
                    Some(Kept::File(data)) if self.fs.captured_bytes + data.len() as u64 > max => {
                        self.warnings.push(format!(
                            "layer {}: {path}: skipped: total captured data over {max} bytes",
                            self.name
                        ));
                        None
                    }
                    k => k,
                };
                self.fs.replace(&path, kept.map(|k| k.into_node(layer)));
            }
            Change::HardLink {
                path,
                target,
                mode,
                size,
            } => {
                let copy = match (
                    self.fs.node(&target),
                    analyzers::classify(&path, mode, size),
                ) {
                    (Some(n @ (Node::File { .. } | Node::Binary { .. })), c)
                        if c != Capture::Skip =>
                    {
                        Some(Kept::from_node(n.clone()).into_node(layer))
                    }
                    _ => None,
                };
                self.fs.replace(&path, copy);
            }
            Change::Secrets { path, findings } => self.fs.set_secrets(&path, layer, findings),
            Change::Warning(msg) => self.warnings.push(msg),
        }
    }
}

/// Secret findings as the cache stores them: the rule by id only, its labels looked up
/// again on reading (an id no built-in rule has makes the entry unreadable, hence a miss).
mod cached_findings {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{CodeLine, SecretFinding};

    #[derive(Serialize, Deserialize)]
    struct Stored {
        rule_id: String,
        start_line: usize,
        end_line: usize,
        matched: String,
        offset: usize,
        code: Vec<(usize, String, bool)>,
    }

    pub fn serialize<S: Serializer>(v: &[SecretFinding], s: S) -> Result<S::Ok, S::Error> {
        let stored: Vec<Stored> = v
            .iter()
            .map(|f| Stored {
                rule_id: f.rule_id.to_string(),
                start_line: f.start_line,
                end_line: f.end_line,
                matched: f.matched.clone(),
                offset: f.offset,
                code: f
                    .code
                    .iter()
                    .map(|c| (c.number, c.content.clone(), c.is_cause))
                    .collect(),
            })
            .collect();
        stored.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SecretFinding>, D::Error> {
        let stored = Vec::<Stored>::deserialize(d)?;
        stored
            .into_iter()
            .map(|s| {
                let (rule_id, category, title, severity) = crate::secret::rule_labels(&s.rule_id)
                    .ok_or_else(|| {
                    D::Error::custom(format!("no secret rule {:?}", s.rule_id))
                })?;
                Ok(SecretFinding {
                    rule_id,
                    category,
                    severity,
                    title,
                    start_line: s.start_line,
                    end_line: s.end_line,
                    matched: s.matched,
                    offset: s.offset,
                    code: s
                        .code
                        .into_iter()
                        .map(|(number, content, is_cause)| CodeLine {
                            number,
                            content,
                            is_cause,
                        })
                        .collect(),
                })
            })
            .collect()
    }
}
