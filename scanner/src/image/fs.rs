//! The merged view of an image's layers, holding only what analyzers asked for.
//!
//! Layers are applied in order: a later entry replaces the earlier one at the same path,
//! `.wh.NAME` deletes `NAME` (and everything under it) from lower layers, and
//! `.wh..wh..opq` hides everything a lower layer had in that directory (OCI image spec,
//! "Representing Changes"). Nothing is written to disk.

use std::collections::BTreeMap;

use crate::analyzers::binary::BinaryFacts;
use crate::secret::{SecretFile, SecretFinding};

/// What we keep about one path.
#[derive(Debug, Clone)]
pub enum Node {
    /// A file whose content an analyzer wants (bounded in size).
    File {
        data: Vec<u8>,
        layer: usize,
    },
    /// An executable whose embedded package data was extracted while streaming.
    Binary {
        facts: Box<BinaryFacts>,
        layer: usize,
    },
    Symlink {
        target: String,
        layer: usize,
    },
    /// A directory entry (kept so a later file replacing it also removes its subtree).
    Dir {
        layer: usize,
    },
}

impl Node {
    pub fn layer(&self) -> usize {
        match self {
            Node::File { layer, .. }
            | Node::Binary { layer, .. }
            | Node::Symlink { layer, .. }
            | Node::Dir { layer } => *layer,
        }
    }
}

/// One layer of the image, as reported with each package.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerInfo {
    /// The blob digest (OCI layout) or diff ID (docker-archive); empty for `dir:`.
    pub digest: String,
    pub size: Option<u64>,
}

/// The merged, filtered filesystem of an image.
#[derive(Debug, Default)]
pub struct ImageFs {
    pub(crate) nodes: BTreeMap<String, Node>,
    pub layers: Vec<LayerInfo>,
    /// Bytes of file content currently held (bounded by `Limits::max_total_capture`),
    /// earlier versions included.
    pub(crate) captured_bytes: u64,
    /// Earlier versions of package database files ([`keeps_history`]), oldest first, with
    /// the layer that wrote each: a package belongs to the layer that installed it, not to
    /// the last layer that rewrote the database (`apt-get install` in a later layer
    /// rewrites `var/lib/dpkg/status` whole).
    pub(crate) earlier: BTreeMap<String, Vec<(usize, Vec<u8>)>>,
    /// Secrets found in files as they streamed past (only when secrets were asked for),
    /// with the layer that wrote the file. Kept apart from `nodes`, which holds only what
    /// analyzers want. A later layer deleting the file does not remove its secrets: the
    /// bytes are still in the lower layer's blob for anyone who pulls the image (Trivy
    /// reports them too); a later version of the file with secrets replaces the entry.
    pub(crate) secrets: BTreeMap<String, (usize, Vec<SecretFinding>)>,
}

/// Package databases rewritten whole by every install: their earlier versions are kept.
fn keeps_history(path: &str) -> bool {
    matches!(path, "var/lib/dpkg/status" | "lib/apk/db/installed")
}

/// Longest symlink chain we follow (Linux's MAXSYMLINKS is 40).
const MAX_LINK_HOPS: usize = 40;

/// Normalises a path from a tar header or link target into a root-relative path without
/// `.`/`..` components. Returns `None` when `..` would climb above the root.
pub fn clean_path(raw: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for comp in raw.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("/"))
}

impl ImageFs {
    fn remove_subtree(&mut self, path: &str) {
        self.drop_node(path);
        let prefix = format!("{path}/");
        let doomed: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.drop_node(&k);
        }
    }

    /// Records the secrets found in the file at `path` by layer `layer`.
    pub(crate) fn set_secrets(&mut self, path: &str, layer: usize, found: Vec<SecretFinding>) {
        if !found.is_empty() {
            self.secrets.insert(path.to_string(), (layer, found));
        }
    }

    /// Every file's secrets in the merged image, in path order.
    pub fn secret_files(&self) -> Vec<SecretFile> {
        self.secrets
            .iter()
            .map(|(path, (layer, findings))| SecretFile {
                path: path.clone(),
                layer: self.layer_digest(*layer),
                findings: findings.clone(),
            })
            .collect()
    }

    /// Removes the node at `path` and its earlier versions, releasing their bytes.
    fn drop_node(&mut self, path: &str) {
        if let Some(old) = self.nodes.remove(path) {
            self.release(&old);
        }
        for (_, data) in self.earlier.remove(path).unwrap_or_default() {
            self.captured_bytes = self.captured_bytes.saturating_sub(data.len() as u64);
        }
    }

    /// Earlier versions of a package database file, oldest first (see [`ImageFs::earlier`]).
    pub fn earlier_versions(&self, path: &str) -> &[(usize, Vec<u8>)] {
        self.earlier.get(path).map(Vec::as_slice).unwrap_or(&[])
    }

    fn release(&mut self, node: &Node) {
        if let Node::File { data, .. } = node {
            self.captured_bytes = self.captured_bytes.saturating_sub(data.len() as u64);
        }
    }

    /// An entry of layer `layer` exists at `path`: it replaces whatever lower layers had
    /// there. Directories merge with lower directories instead.
    pub(crate) fn replace(&mut self, path: &str, node: Option<Node>) {
        match node {
            Some(Node::Dir { layer }) => {
                if !matches!(self.nodes.get(path), Some(Node::Dir { .. })) {
                    self.remove_subtree(path);
                    self.nodes.insert(path.to_string(), Node::Dir { layer });
                }
            }
            other => {
                // a package database replaced by a newer one: the old one becomes history
                let history = match (&other, self.nodes.get(path)) {
                    (Some(Node::File { .. }), Some(Node::File { .. })) if keeps_history(path) => {
                        let mut h = self.earlier.remove(path).unwrap_or_default();
                        if let Some(Node::File { data, layer }) = self.nodes.remove(path) {
                            h.push((layer, data));
                        }
                        h
                    }
                    _ => Vec::new(),
                };
                self.remove_subtree(path);
                if !history.is_empty() {
                    self.earlier.insert(path.to_string(), history);
                }
                if let Some(n) = other {
                    if let Node::File { data, .. } = &n {
                        self.captured_bytes += data.len() as u64;
                    }
                    self.nodes.insert(path.to_string(), n);
                }
            }
        }
    }

    /// `.wh.NAME`: delete NAME from lower layers.
    pub(crate) fn whiteout(&mut self, path: &str) {
        self.remove_subtree(path);
    }

    /// `.wh..wh..opq` in `dir`: hide everything lower layers put under `dir`.
    pub(crate) fn opaque(&mut self, dir: &str, layer: usize) {
        let prefix = format!("{dir}/");
        let doomed: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, n)| n.layer() < layer)
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.drop_node(&k);
        }
    }

    pub fn node(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Follows symlinks (in any component) the way the container would see them: absolute
    /// targets start at the image root and `..` stops at the root. `None` for loops.
    pub fn resolve(&self, path: &str) -> Option<String> {
        let mut pending: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(String::from)
            .collect();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(comp) = pending.pop() {
            match comp.as_str() {
                "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            done.push(comp);
            let cur = done.join("/");
            if let Some(Node::Symlink { target, .. }) = self.nodes.get(&cur) {
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return None;
                }
                done.pop();
                if target.starts_with('/') {
                    done.clear();
                }
                for c in target.split('/').filter(|c| !c.is_empty()).rev() {
                    pending.push(c.to_string());
                }
            }
        }
        Some(done.join("/"))
    }

    /// File content at `path` after following symlinks.
    pub fn read(&self, path: &str) -> Option<(&[u8], usize)> {
        let real = self.resolve(path)?;
        match self.nodes.get(&real) {
            Some(Node::File { data, layer }) => Some((data, *layer)),
            _ => None,
        }
    }

    /// All captured regular files (not following symlinks), in path order.
    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8], usize)> {
        self.nodes.iter().filter_map(|(k, n)| match n {
            Node::File { data, layer } => Some((k.as_str(), data.as_slice(), *layer)),
            _ => None,
        })
    }

    pub fn binaries(&self) -> impl Iterator<Item = (&str, &BinaryFacts, usize)> {
        self.nodes.iter().filter_map(|(k, n)| match n {
            Node::Binary { facts, layer } => Some((k.as_str(), facts.as_ref(), *layer)),
            _ => None,
        })
    }

    /// Digest of layer `idx`, if known.
    pub fn layer_digest(&self, idx: usize) -> Option<String> {
        self.layers
            .get(idx)
            .map(|l| l.digest.clone())
            .filter(|d| !d.is_empty())
    }
}

impl ImageFs {
    /// `.wh..wh..opq` at the root of a layer.
    pub(crate) fn opaque_root(&mut self, layer: usize) {
        let doomed: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.layer() < layer)
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.drop_node(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(fs: &mut ImageFs, p: &str, layer: usize) {
        fs.replace(
            p,
            Some(Node::File {
                data: p.as_bytes().to_vec(),
                layer,
            }),
        );
    }

    #[test]
    fn package_databases_keep_their_earlier_versions_and_nothing_else_does() {
        let mut fs = ImageFs::default();
        for layer in 0..3 {
            file(&mut fs, "var/lib/dpkg/status", layer);
            file(&mut fs, "etc/os-release", layer);
        }
        let layers: Vec<usize> = fs
            .earlier_versions("var/lib/dpkg/status")
            .iter()
            .map(|(l, _)| *l)
            .collect();
        assert_eq!(layers, [0, 1]);
        assert!(fs.earlier_versions("etc/os-release").is_empty());
        let held = "var/lib/dpkg/status".len() * 3 + "etc/os-release".len();
        assert_eq!(
            fs.captured_bytes, held as u64,
            "history counts against the limit"
        );
        // a whiteout of the database forgets its history and releases the bytes
        fs.whiteout("var/lib/dpkg/status");
        assert!(fs.earlier_versions("var/lib/dpkg/status").is_empty());
        assert_eq!(fs.captured_bytes, "etc/os-release".len() as u64);
        // so does an opaque directory above it
        file(&mut fs, "var/lib/dpkg/status", 3);
        file(&mut fs, "var/lib/dpkg/status", 4);
        fs.opaque("var/lib", 5);
        assert!(fs.earlier_versions("var/lib/dpkg/status").is_empty());
        assert_eq!(fs.captured_bytes, "etc/os-release".len() as u64);
    }

    #[test]
    fn clean_path_refuses_escapes() {
        assert_eq!(
            clean_path("./etc/os-release").as_deref(),
            Some("etc/os-release")
        );
        assert_eq!(clean_path("/a//b/./c/../d").as_deref(), Some("a/b/d"));
        assert_eq!(clean_path("../etc/passwd"), None);
        assert_eq!(clean_path("a/../../x"), None);
        assert_eq!(clean_path("./"), None);
    }

    #[test]
    fn whiteouts_and_opaque_dirs() {
        let mut fs = ImageFs::default();
        file(&mut fs, "a/x", 0);
        file(&mut fs, "a/y", 0);
        file(&mut fs, "b/z", 0);
        fs.whiteout("a/x");
        assert!(fs.node("a/x").is_none());
        assert!(fs.node("a/y").is_some());
        file(&mut fs, "b/new", 1);
        fs.opaque("b", 1);
        assert!(fs.node("b/z").is_none(), "lower layer entry hidden");
        assert!(fs.node("b/new").is_some(), "same layer entry kept");
        // a file replacing a directory removes its subtree
        fs.replace(
            "a",
            Some(Node::File {
                data: vec![],
                layer: 2,
            }),
        );
        assert!(fs.node("a/y").is_none());
        assert_eq!(fs.captured_bytes, 5); // "b/new" only
    }

    #[test]
    fn symlinks_resolve_inside_the_root_and_loops_stop() {
        let mut fs = ImageFs::default();
        file(&mut fs, "usr/lib/os-release", 0);
        fs.replace(
            "etc/os-release",
            Some(Node::Symlink {
                target: "../usr/lib/os-release".into(),
                layer: 0,
            }),
        );
        fs.replace(
            "evil",
            Some(Node::Symlink {
                target: "../../../../usr/lib/os-release".into(),
                layer: 0,
            }),
        );
        fs.replace(
            "abs",
            Some(Node::Symlink {
                target: "/usr/lib".into(),
                layer: 0,
            }),
        );
        fs.replace(
            "loop1",
            Some(Node::Symlink {
                target: "loop2".into(),
                layer: 0,
            }),
        );
        fs.replace(
            "loop2",
            Some(Node::Symlink {
                target: "/loop1".into(),
                layer: 0,
            }),
        );
        assert!(fs.read("etc/os-release").is_some());
        assert_eq!(fs.resolve("evil").as_deref(), Some("usr/lib/os-release"));
        assert_eq!(
            fs.resolve("abs/os-release").as_deref(),
            Some("usr/lib/os-release")
        );
        assert_eq!(fs.resolve("loop1"), None);
    }
}
