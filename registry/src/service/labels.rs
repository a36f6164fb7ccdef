//! Harbor's labels: global labels (system administrators manage them) and project
//! labels (the project's administrators and maintainers), put on artifacts by
//! developers and up. Replication's `label` filter, the CVE export's `labels`
//! filter and the artifact list read them through [`Labels::of_artifacts`] and
//! [`Labels::labelled`].

use std::collections::HashMap;
use std::sync::Arc;

use crate::auth::Principal;
use crate::auth::rbac::{Action, SystemAction};
use crate::digest::Digest;
use crate::error::{RegistryError, Result};
use crate::metadata::identity::PageReq;
use crate::metadata::labels::{AddLabel, Label, LabelFilter, LabelSpec, LabelStore};
use crate::names::RepoName;
use crate::service::{Access, Distribution};

/// Harbor's limit on a label's name (its UI and API refuse longer names).
const MAX_NAME: usize = 128;

/// A label's scope as Harbor's API names it: `g` global, `p` project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    Project(i64),
}

impl Scope {
    /// From Harbor's `scope` and `project_id` fields.
    pub fn parse(scope: Option<&str>, project_id: Option<i64>) -> Result<Scope> {
        match (scope.unwrap_or("g"), project_id) {
            ("g", None | Some(0)) => Ok(Scope::Global),
            ("g", Some(_)) => Err(RegistryError::bad_request(
                "a global label (scope g) has no project_id",
            )),
            ("p", Some(id)) if id > 0 => Ok(Scope::Project(id)),
            ("p", _) => Err(RegistryError::bad_request(
                "a project label (scope p) needs a project_id",
            )),
            (other, _) => Err(RegistryError::bad_request(format!(
                "invalid label scope {other:?}: expected g or p"
            ))),
        }
    }

    fn of(label: &Label) -> Scope {
        label.project_id.map_or(Scope::Global, Scope::Project)
    }
}

pub struct Labels {
    store: Arc<dyn LabelStore>,
    access: Arc<Access>,
    distribution: Arc<Distribution>,
}

impl Labels {
    pub fn new(
        store: Arc<dyn LabelStore>,
        access: Arc<Access>,
        distribution: Arc<Distribution>,
    ) -> Self {
        Labels {
            store,
            access,
            distribution,
        }
    }

    /// Global labels need an authenticated caller to read and `manage-global-labels`
    /// to change; project labels `read-labels` / `manage-labels` in their project.
    async fn check(&self, who: &Principal, scope: Scope, manage: bool) -> Result<()> {
        match scope {
            Scope::Global if manage => self
                .access
                .require_system(who, SystemAction::ManageGlobalLabels),
            Scope::Global => match who {
                Principal::Anonymous => Err(RegistryError::new(
                    crate::error::ErrorCode::Unauthorized,
                    "authentication required",
                )),
                _ => Ok(()),
            },
            Scope::Project(id) => {
                let action = if manage {
                    Action::ManageLabels
                } else {
                    Action::ReadLabels
                };
                self.access
                    .project_for(who, &id.to_string(), action)
                    .await
                    .map(|_| ())
            }
        }
    }

    pub async fn list(
        &self,
        who: &Principal,
        scope: Scope,
        name: Option<String>,
        name_contains: Option<String>,
        page: PageReq,
    ) -> Result<(Vec<Label>, i64)> {
        self.check(who, scope, false).await?;
        let filter = LabelFilter {
            project_id: match scope {
                Scope::Global => None,
                Scope::Project(id) => Some(id),
            },
            name,
            name_contains,
        };
        Ok(self.store.list_labels(&filter, page).await?)
    }

    /// A label the caller may read (a project label of a project the caller cannot
    /// see is "not found", as the project is).
    pub async fn get(&self, who: &Principal, id: i64) -> Result<Label> {
        let label = self.find(id).await?;
        self.check(who, Scope::of(&label), false).await?;
        Ok(label)
    }

    async fn find(&self, id: i64) -> Result<Label> {
        self.store
            .label(id)
            .await?
            .ok_or_else(|| RegistryError::not_found(format!("label {id} not found")))
    }

    pub async fn create(
        &self,
        who: &Principal,
        ip: Option<&str>,
        scope: Scope,
        spec: LabelSpec,
    ) -> Result<i64> {
        self.check(who, scope, true).await?;
        validate(&spec)?;
        let project = match scope {
            Scope::Global => None,
            Scope::Project(id) => Some(id),
        };
        let id = self
            .store
            .create_label(project, &spec)
            .await?
            .ok_or_else(|| taken(&spec.name))?;
        self.access
            .audit(who, "create", "label", &format!("{}/{id}", spec.name), ip);
        Ok(id)
    }

    /// Changes name, description and colour; the scope stays.
    pub async fn update(
        &self,
        who: &Principal,
        ip: Option<&str>,
        id: i64,
        spec: LabelSpec,
    ) -> Result<()> {
        let label = self.find(id).await?;
        self.check(who, Scope::of(&label), true).await?;
        validate(&spec)?;
        match self.store.update_label(id, &spec).await? {
            None => return Err(taken(&spec.name)),
            Some(false) => return Err(RegistryError::not_found(format!("label {id} not found"))),
            Some(true) => {}
        }
        self.access
            .audit(who, "update", "label", &format!("{}/{id}", spec.name), ip);
        Ok(())
    }

    /// Removes the label from every artifact too.
    pub async fn delete(&self, who: &Principal, ip: Option<&str>, id: i64) -> Result<()> {
        let label = self.find(id).await?;
        self.check(who, Scope::of(&label), true).await?;
        if !self.store.delete_label(id).await? {
            return Err(RegistryError::not_found(format!("label {id} not found")));
        }
        self.access
            .audit(who, "delete", "label", &format!("{}/{id}", label.name), ip);
        Ok(())
    }

    /// Puts a global label, or a label of the artifact's own project, on it.
    pub async fn add_to_artifact(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        repository: &str,
        reference: &str,
        label_id: i64,
    ) -> Result<()> {
        let p = self
            .access
            .project_for(who, project, Action::LabelArtifacts)
            .await?;
        let (repo, digest) = self
            .distribution
            .locate(who, project, repository, reference, Action::LabelArtifacts)
            .await?;
        let label = self.find(label_id).await?;
        if label.project_id.is_some_and(|owner| owner != p.id) {
            return Err(RegistryError::bad_request(format!(
                "label {label_id} belongs to another project"
            )));
        }
        match self
            .store
            .add_artifact_label(&repo, &digest, label_id)
            .await?
        {
            AddLabel::Added => {}
            AddLabel::AlreadyAdded => {
                return Err(RegistryError::conflict(format!(
                    "label {label_id} is already on {repo}@{digest}"
                )));
            }
            AddLabel::NotFound => {
                return Err(RegistryError::not_found(format!(
                    "artifact {repo}@{digest} or label {label_id} not found"
                )));
            }
        }
        self.access.audit(
            who,
            "create",
            "artifact_label",
            &format!("{repo}@{digest}:{}", label.name),
            ip,
        );
        Ok(())
    }

    pub async fn remove_from_artifact(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        repository: &str,
        reference: &str,
        label_id: i64,
    ) -> Result<()> {
        let (repo, digest) = self
            .distribution
            .locate(who, project, repository, reference, Action::LabelArtifacts)
            .await?;
        if !self
            .store
            .remove_artifact_label(&repo, &digest, label_id)
            .await?
        {
            return Err(RegistryError::not_found(format!(
                "label {label_id} is not on {repo}@{digest}"
            )));
        }
        self.access.audit(
            who,
            "delete",
            "artifact_label",
            &format!("{repo}@{digest}:{label_id}"),
            ip,
        );
        Ok(())
    }

    /// The labels of each artifact of a page (one query).
    pub async fn of_artifacts(
        &self,
        repo: &RepoName,
        digests: &[Digest],
    ) -> Result<HashMap<Digest, Vec<Label>>> {
        Ok(self.store.artifact_labels(repo, digests).await?)
    }

    /// The repository's artifacts carrying any of `label_ids`.
    pub async fn labelled(&self, repo: &RepoName, label_ids: &[i64]) -> Result<Vec<Digest>> {
        Ok(self.store.labelled_artifacts(repo, label_ids).await?)
    }
}

fn validate(spec: &LabelSpec) -> Result<()> {
    let name = spec.name.trim();
    if name.is_empty() {
        return Err(RegistryError::bad_request("a label needs a name"));
    }
    if name != spec.name || name.chars().count() > MAX_NAME {
        return Err(RegistryError::bad_request(format!(
            "invalid label name {:?}: at most {MAX_NAME} characters, no surrounding spaces",
            spec.name
        )));
    }
    Ok(())
}

fn taken(name: &str) -> RegistryError {
    RegistryError::conflict(format!(
        "a label named {name:?} already exists in this scope"
    ))
}
