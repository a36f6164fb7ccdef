//! Which images a workload will run, and where each one is written in it.
//!
//! Every place the kubelet pulls from is found: containers, init containers,
//! ephemeral containers and image volumes. Each comes with the JSON pointer to
//! its field, so the mutating endpoint can rewrite exactly that field.

use std::fmt;

use k8s_openapi::api::apps::v1::{DaemonSetSpec, DeploymentSpec, ReplicaSetSpec, StatefulSetSpec};
use k8s_openapi::api::batch::v1::{CronJobSpec, JobSpec};
use k8s_openapi::api::core::v1::PodSpec;
use serde::Deserialize;

/// The workload kinds whose pods the webhook checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
}

impl WorkloadKind {
    /// From the request's `kind` (group, version, kind); `None` for anything
    /// the webhook does not check.
    pub fn from_gvk(group: &str, version: &str, kind: &str) -> Option<Self> {
        Some(match (group, version, kind) {
            ("", "v1", "Pod") => Self::Pod,
            ("apps", "v1", "Deployment") => Self::Deployment,
            ("apps", "v1", "ReplicaSet") => Self::ReplicaSet,
            ("apps", "v1", "StatefulSet") => Self::StatefulSet,
            ("apps", "v1", "DaemonSet") => Self::DaemonSet,
            ("batch", "v1", "Job") => Self::Job,
            ("batch", "v1", "CronJob") => Self::CronJob,
            _ => return None,
        })
    }

    /// JSON pointer to the pod spec inside an object of this kind.
    pub fn pod_spec_pointer(self) -> &'static str {
        match self {
            Self::Pod => "/spec",
            Self::CronJob => "/spec/jobTemplate/spec/template/spec",
            _ => "/spec/template/spec",
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Where in the pod spec an image is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSlot {
    Container,
    InitContainer,
    EphemeralContainer,
    /// An `image` volume (the image mounted as a read-only volume).
    Volume,
}

impl fmt::Display for ImageSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Container => "container",
            Self::InitContainer => "init container",
            Self::EphemeralContainer => "ephemeral container",
            Self::Volume => "image volume",
        })
    }
}

/// One image the workload will pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadImage {
    pub slot: ImageSlot,
    /// Container or volume name, for messages.
    pub name: String,
    /// The image exactly as written.
    pub image: String,
    /// JSON pointer to the field holding `image` (for the patch).
    pub pointer: String,
}

impl WorkloadImage {
    /// `init container "setup"`: how messages name it.
    pub fn describe(&self) -> String {
        format!("{} \"{}\"", self.slot, self.name)
    }
}

/// The object is not a valid object of its kind.
#[derive(Debug, thiserror::Error)]
#[error("the object is not a valid {kind}: {reason}")]
pub struct ExtractError {
    pub kind: WorkloadKind,
    pub reason: String,
}

/// The images of `object` (the whole object, as in `request.object`).
/// Containers without an image (allowed in templates) are skipped.
pub fn extract(
    kind: WorkloadKind,
    object: &serde_json::Value,
) -> Result<Vec<WorkloadImage>, ExtractError> {
    let Some(spec) = object.get("spec") else {
        return Ok(Vec::new());
    };
    let err = |e: serde_json::Error| ExtractError {
        kind,
        reason: e.to_string(),
    };
    let pod_spec: Option<PodSpec> = match kind {
        WorkloadKind::Pod => Some(PodSpec::deserialize(spec).map_err(err)?),
        WorkloadKind::Deployment => {
            DeploymentSpec::deserialize(spec)
                .map_err(err)?
                .template
                .spec
        }
        WorkloadKind::ReplicaSet => ReplicaSetSpec::deserialize(spec)
            .map_err(err)?
            .template
            .and_then(|t| t.spec),
        WorkloadKind::StatefulSet => {
            StatefulSetSpec::deserialize(spec)
                .map_err(err)?
                .template
                .spec
        }
        WorkloadKind::DaemonSet => DaemonSetSpec::deserialize(spec).map_err(err)?.template.spec,
        WorkloadKind::Job => JobSpec::deserialize(spec).map_err(err)?.template.spec,
        WorkloadKind::CronJob => CronJobSpec::deserialize(spec)
            .map_err(err)?
            .job_template
            .spec
            .and_then(|j| j.template.spec),
    };
    Ok(pod_spec
        .map(|s| pod_images(&s, kind.pod_spec_pointer()))
        .unwrap_or_default())
}

/// The images of one pod spec found at JSON pointer `base`.
pub fn pod_images(spec: &PodSpec, base: &str) -> Vec<WorkloadImage> {
    let mut out = Vec::new();
    let mut push = |slot, field: &str, i: usize, name: &str, image: &Option<String>, leaf: &str| {
        if let Some(image) = image.as_deref().filter(|s| !s.is_empty()) {
            out.push(WorkloadImage {
                slot,
                name: name.to_string(),
                image: image.to_string(),
                pointer: format!("{base}/{field}/{i}/{leaf}"),
            });
        }
    };
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        push(
            ImageSlot::InitContainer,
            "initContainers",
            i,
            &c.name,
            &c.image,
            "image",
        );
    }
    for (i, c) in spec.containers.iter().enumerate() {
        push(
            ImageSlot::Container,
            "containers",
            i,
            &c.name,
            &c.image,
            "image",
        );
    }
    for (i, c) in spec.ephemeral_containers.iter().flatten().enumerate() {
        push(
            ImageSlot::EphemeralContainer,
            "ephemeralContainers",
            i,
            &c.name,
            &c.image,
            "image",
        );
    }
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        if let Some(src) = &v.image {
            push(
                ImageSlot::Volume,
                "volumes",
                i,
                &v.name,
                &src.reference,
                "image/reference",
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!(
            "{}/../tests/fixtures/admission/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    fn kind_of(review: &serde_json::Value) -> WorkloadKind {
        let k = &review["request"]["kind"];
        WorkloadKind::from_gvk(
            k["group"].as_str().unwrap(),
            k["version"].as_str().unwrap(),
            k["kind"].as_str().unwrap(),
        )
        .unwrap()
    }

    /// (slot, name, image, pointer) of every image in a fixture, in order.
    fn images_of(name: &str) -> Vec<(ImageSlot, String, String, String)> {
        let review = fixture(name);
        extract(kind_of(&review), &review["request"]["object"])
            .unwrap()
            .into_iter()
            .map(|i| (i.slot, i.name, i.image, i.pointer))
            .collect()
    }

    fn row(
        slot: ImageSlot,
        name: &str,
        image: &str,
        pointer: &str,
    ) -> (ImageSlot, String, String, String) {
        (slot, name.into(), image.into(), pointer.into())
    }

    const APP: &str = "wharf.test:5000/team/app:1.0";

    #[test]
    fn every_workload_kind_finds_its_pod_spec() {
        use ImageSlot::*;
        let t = "/spec/template/spec";
        let cases = [
            (
                "deployment.json",
                vec![row(
                    Container,
                    "app",
                    APP,
                    &format!("{t}/containers/0/image"),
                )],
            ),
            (
                "replicaset.json",
                vec![row(
                    Container,
                    "app",
                    APP,
                    &format!("{t}/containers/0/image"),
                )],
            ),
            (
                "statefulset.json",
                vec![
                    row(Container, "app", APP, &format!("{t}/containers/0/image")),
                    row(
                        Container,
                        "metrics",
                        "wharf.test:5000/team/metrics:2",
                        &format!("{t}/containers/1/image"),
                    ),
                ],
            ),
            (
                "daemonset.json",
                vec![row(
                    Container,
                    "agent",
                    APP,
                    &format!("{t}/containers/0/image"),
                )],
            ),
            (
                "job.json",
                vec![
                    row(
                        InitContainer,
                        "migrate",
                        APP,
                        &format!("{t}/initContainers/0/image"),
                    ),
                    row(Container, "app", APP, &format!("{t}/containers/0/image")),
                ],
            ),
            (
                "cronjob.json",
                vec![row(
                    Container,
                    "app",
                    APP,
                    "/spec/jobTemplate/spec/template/spec/containers/0/image",
                )],
            ),
        ];
        for (file, want) in cases {
            assert_eq!(images_of(file), want, "{file}");
        }
    }

    #[test]
    fn pods_yield_init_ephemeral_and_volume_images() {
        use ImageSlot::*;
        assert_eq!(
            images_of("pod-bad-init.json"),
            [
                row(
                    InitContainer,
                    "setup",
                    "docker.io/library/busybox:1.36",
                    "/spec/initContainers/0/image"
                ),
                row(Container, "app", APP, "/spec/containers/0/image"),
            ]
        );
        assert_eq!(
            images_of("pod-ephemeral.json"),
            [
                row(Container, "app", APP, "/spec/containers/0/image"),
                row(
                    EphemeralContainer,
                    "debugger",
                    "wharf.test:5000/team/debug:1",
                    "/spec/ephemeralContainers/0/image"
                ),
            ]
        );
        let pod = json!({"spec": {
            "containers": [{"name": "a", "image": "x:1"}, {"name": "no-image"}],
            "volumes": [{"name": "cfg", "configMap": {"name": "c"}}, {"name": "models", "image": {"reference": "m:1"}}]
        }});
        assert_eq!(
            extract(WorkloadKind::Pod, &pod)
                .unwrap()
                .into_iter()
                .map(|i| (i.slot, i.pointer))
                .collect::<Vec<_>>(),
            [
                (Container, "/spec/containers/0/image".into()),
                (Volume, "/spec/volumes/1/image/reference".into())
            ]
        );
    }

    #[test]
    fn objects_without_images_or_spec_yield_nothing() {
        assert!(
            extract(WorkloadKind::Pod, &json!({"metadata": {}}))
                .unwrap()
                .is_empty()
        );
        let rs = json!({"spec": {"selector": {"matchLabels": {"a": "b"}}}});
        assert!(extract(WorkloadKind::ReplicaSet, &rs).unwrap().is_empty());
    }

    #[test]
    fn malformed_specs_are_errors_not_panics() {
        let e = extract(WorkloadKind::Pod, &json!({"spec": {"containers": "nope"}})).unwrap_err();
        assert!(
            e.to_string().starts_with("the object is not a valid Pod:"),
            "{e}"
        );
        assert!(extract(WorkloadKind::CronJob, &json!({"spec": 7})).is_err());
    }

    #[test]
    fn only_known_kinds_are_checked() {
        assert_eq!(
            WorkloadKind::from_gvk("apps", "v1", "Deployment"),
            Some(WorkloadKind::Deployment)
        );
        assert_eq!(WorkloadKind::from_gvk("", "v1", "ConfigMap"), None);
        assert_eq!(
            WorkloadKind::from_gvk("apps", "v1beta1", "Deployment"),
            None
        );
    }
}
