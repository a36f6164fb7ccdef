//! `dir:PATH`: an unpacked root filesystem. Walked without following symlinks, so nothing
//! outside PATH is ever read; symlinks are kept as links and resolved inside the image.

use std::path::Path;

use super::layer::read_regular;
use super::{ImageFs, LayerInfo, LoadOptions, LoadedImage, Node};
use crate::{Error, Result, Warnings};

pub(crate) fn load(
    root: &Path,
    opts: &LoadOptions,
    warnings: &mut Warnings,
) -> Result<LoadedImage> {
    let meta = std::fs::metadata(root).map_err(|e| Error::io(root, e))?;
    if !meta.is_dir() {
        return Err(Error::Image(format!(
            "{} is not a directory",
            root.display()
        )));
    }
    let mut fs = ImageFs::default();
    fs.layers.push(LayerInfo {
        digest: String::new(),
        size: None,
    });
    let mut stack = vec![(root.to_path_buf(), String::new())];
    let mut count = 0u64;
    while let Some((dir, rel)) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(r) => r,
            Err(e) => {
                warnings.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        for ent in rd.flatten() {
            count += 1;
            if count > opts.limits.max_entries {
                warnings.push(format!(
                    "{}: more than {} entries; rest ignored",
                    root.display(),
                    opts.limits.max_entries
                ));
                return Ok(LoadedImage {
                    fs,
                    manifest_digest: None,
                    os: None,
                    architecture: None,
                });
            }
            let name = ent.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let Ok(md) = ent.path().symlink_metadata() else {
                continue;
            };
            let ft = md.file_type();
            if ft.is_symlink() {
                if let Ok(t) = std::fs::read_link(ent.path()) {
                    fs.replace(
                        &path,
                        Some(Node::Symlink {
                            target: t.to_string_lossy().into_owned(),
                            layer: 0,
                        }),
                    );
                }
            } else if ft.is_dir() {
                stack.push((ent.path(), path));
            } else if ft.is_file() {
                use std::os::unix::fs::PermissionsExt;
                let mode = md.permissions().mode();
                let size = md.len();
                let read = std::fs::File::open(ent.path()).and_then(|mut f| {
                    read_regular(
                        &path,
                        &path,
                        mode,
                        size,
                        &mut f,
                        0,
                        fs.captured_bytes,
                        opts,
                        warnings,
                    )
                });
                let node = match read {
                    Ok((node, secrets)) => {
                        fs.set_secrets(&path, 0, secrets);
                        node
                    }
                    Err(e) => {
                        warnings.push(format!("{path}: {e}"));
                        None
                    }
                };
                if node.is_some() {
                    fs.replace(&path, node);
                }
            }
        }
    }
    Ok(LoadedImage {
        fs,
        manifest_digest: None,
        os: None,
        architecture: None,
    })
}
