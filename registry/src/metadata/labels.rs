//! Harbor's labels (migration 0025): global or project-scoped names put on
//! artifacts. The replication `label` filter, the CVE export's `labels` filter and
//! the artifact list's `q=labels=(…)` read the links kept here.

use std::collections::HashMap;

use async_trait::async_trait;

use super::Result;
use super::identity::PageReq;
use crate::digest::Digest;
use crate::names::RepoName;

/// A label as stored. `project_id` is `None` for a global label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub color: String,
    pub project_id: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// The fields a caller sets (create and update).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSpec {
    pub name: String,
    pub description: String,
    pub color: String,
}

/// Which labels a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelFilter {
    /// `None`: global labels; `Some(p)`: the labels of project `p`.
    pub project_id: Option<i64>,
    /// Exact name.
    pub name: Option<String>,
    /// Names containing this.
    pub name_contains: Option<String>,
}

/// What putting a label on an artifact did.
/// Which artifacts a listing keeps by their labels: Harbor's `q=labels=(1 2)`
/// (every one of them) or `q=labels={1 2}` (any of them). No ids: no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelMatch {
    /// Distinct label ids.
    pub ids: Vec<i64>,
    /// Every id (intersection) rather than any (union).
    pub all: bool,
}

impl LabelMatch {
    /// How many of `ids` an artifact must carry (0: no filter).
    pub fn needed(&self) -> i64 {
        match (self.ids.len(), self.all) {
            (0, _) => 0,
            (n, true) => n as i64,
            (_, false) => 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddLabel {
    Added,
    AlreadyAdded,
    /// No such manifest in the repository (or no such label).
    NotFound,
}

#[async_trait]
pub trait LabelStore: Send + Sync + 'static {
    /// Stores a label in its scope; `None` when the name is taken there.
    async fn create_label(&self, project_id: Option<i64>, spec: &LabelSpec) -> Result<Option<i64>>;
    async fn label(&self, id: i64) -> Result<Option<Label>>;
    /// By id, with the total matching.
    async fn list_labels(&self, filter: &LabelFilter, page: PageReq) -> Result<(Vec<Label>, i64)>;
    /// `None` when the new name is taken in the label's scope; `Some(false)` when
    /// there is no such label.
    async fn update_label(&self, id: i64, spec: &LabelSpec) -> Result<Option<bool>>;
    /// Removes the label and every link to it; false if there was none.
    async fn delete_label(&self, id: i64) -> Result<bool>;

    async fn add_artifact_label(
        &self,
        repo: &RepoName,
        digest: &Digest,
        label_id: i64,
    ) -> Result<AddLabel>;
    /// False when the artifact did not carry the label.
    async fn remove_artifact_label(
        &self,
        repo: &RepoName,
        digest: &Digest,
        label_id: i64,
    ) -> Result<bool>;
    /// The labels of each of `digests` in the repository (one query), by label id.
    async fn artifact_labels(
        &self,
        repo: &RepoName,
        digests: &[Digest],
    ) -> Result<HashMap<Digest, Vec<Label>>>;
    /// Digests of the repository's manifests carrying any of `label_ids`.
    async fn labelled_artifacts(&self, repo: &RepoName, label_ids: &[i64]) -> Result<Vec<Digest>>;
}
