//! The mutating endpoint's JSONPatch: each checked image rewritten to the
//! digest it was checked at, so the kubelet runs exactly what was admitted
//! even if the tag moves afterwards.
//!
//! The pinned form is `name:tag@sha256:…`: the runtime pulls by digest and
//! ignores the tag when both are present, and people reading `kubectl get`
//! still see which tag it was. The name stays as written (no `docker.io/library/`
//! added) so the patch changes nothing but the pin.

use json_patch::jsonptr::PointerBuf;
use json_patch::{Patch, PatchOperation, ReplaceOperation, TestOperation};
use serde_json::Value;

use super::images::WorkloadImage;

/// `image` as written, pinned to `digest`; `None` when it already names a digest.
pub fn pinned(image: &str, digest: &str) -> Option<String> {
    if image.contains('@') {
        return None;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    let tag = if last.contains(':') { "" } else { ":latest" };
    Some(format!("{image}{tag}@{digest}"))
}

/// One `test` + `replace` pair per image to pin. The `test` makes the patch
/// refuse to apply to an object whose image is not the one that was checked.
/// `digests` gives each image's digest (`None`: leave it alone).
pub fn pin_patch<'a>(
    pins: impl IntoIterator<Item = (&'a WorkloadImage, Option<&'a str>)>,
) -> Patch {
    let mut ops = Vec::new();
    for (img, digest) in pins {
        let Some(new) = digest.and_then(|d| pinned(&img.image, d)) else {
            continue;
        };
        let Ok(path) = PointerBuf::parse(img.pointer.clone()) else {
            continue;
        };
        ops.push(PatchOperation::Test(TestOperation {
            path: path.clone(),
            value: Value::String(img.image.clone()),
        }));
        ops.push(PatchOperation::Replace(ReplaceOperation {
            path,
            value: Value::String(new),
        }));
    }
    Patch(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::{WorkloadKind, extract};
    use serde_json::json;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn pinned_forms() {
        assert_eq!(pinned("nginx", D).unwrap(), format!("nginx:latest@{D}"));
        assert_eq!(pinned("nginx:1.27", D).unwrap(), format!("nginx:1.27@{D}"));
        assert_eq!(
            pinned("127.0.0.1:5000/team/app", D).unwrap(),
            format!("127.0.0.1:5000/team/app:latest@{D}")
        );
        assert_eq!(
            pinned("127.0.0.1:5000/team/app:v1", D).unwrap(),
            format!("127.0.0.1:5000/team/app:v1@{D}")
        );
        assert_eq!(pinned(&format!("nginx@{D}"), D), None);
    }

    fn patched(kind: WorkloadKind, mut object: serde_json::Value) -> serde_json::Value {
        let images = extract(kind, &object).unwrap();
        let patch = pin_patch(images.iter().map(|i| (i, Some(D))));
        json_patch::patch(&mut object, &patch).expect("patch applies");
        object
    }

    #[test]
    fn patch_applies_to_every_container_of_a_cronjob() {
        let cj = json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "initContainers": [{"name": "i", "image": "init:1"}],
            "containers": [{"name": "a", "image": "app"}, {"name": "b", "image": format!("side@{D}")}]
        }}}}}});
        let out = patched(WorkloadKind::CronJob, cj);
        let spec = &out["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(spec["initContainers"][0]["image"], format!("init:1@{D}"));
        assert_eq!(spec["containers"][0]["image"], format!("app:latest@{D}"));
        assert_eq!(spec["containers"][1]["image"], format!("side@{D}"));
    }

    #[test]
    fn patch_covers_ephemeral_containers_and_image_volumes() {
        let pod = json!({"spec": {
            "containers": [{"name": "a", "image": "a:1"}],
            "ephemeralContainers": [{"name": "dbg", "image": "dbg:1"}],
            "volumes": [{"name": "m", "image": {"reference": "models:7", "pullPolicy": "IfNotPresent"}}]
        }});
        let out = patched(WorkloadKind::Pod, pod);
        assert_eq!(
            out["spec"]["ephemeralContainers"][0]["image"],
            format!("dbg:1@{D}")
        );
        assert_eq!(
            out["spec"]["volumes"][0]["image"]["reference"],
            format!("models:7@{D}")
        );
    }

    #[test]
    fn patch_refuses_an_object_that_changed() {
        let pod = json!({"spec": {"containers": [{"name": "a", "image": "a:1"}]}});
        let images = extract(WorkloadKind::Pod, &pod).unwrap();
        let patch = pin_patch(images.iter().map(|i| (i, Some(D))));
        let mut other = json!({"spec": {"containers": [{"name": "a", "image": "evil:1"}]}});
        assert!(json_patch::patch(&mut other, &patch).is_err());
        assert!(pin_patch(images.iter().map(|i| (i, None))).0.is_empty());
    }
}
