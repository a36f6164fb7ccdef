//! Identity and access: who is calling ([`Principal`]), what their role lets
//! them do ([`rbac`]), credentials ([`password`]), bearer tokens ([`token`]),
//! and slowing down password guessing ([`throttle`]).

pub mod password;
pub mod rbac;
pub mod throttle;
pub mod token;

use std::sync::Arc;

use rbac::{Account, Action};

/// Who a request acts as, once credentials have been checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    Anonymous,
    User {
        id: i64,
        name: String,
        sysadmin: bool,
    },
    Robot {
        id: i64,
        name: String,
        grants: Arc<Vec<RobotGrant>>,
    },
}

/// What a robot may do in one project (`namespace` `*` = every project).
#[derive(Debug, Clone, PartialEq)]
pub struct RobotGrant {
    pub namespace: String,
    pub actions: Vec<Action>,
}

impl Principal {
    pub fn name(&self) -> &str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::User { name, .. } | Principal::Robot { name, .. } => name,
        }
    }

    /// The column of [`rbac::SYSTEM_TABLE`] this principal reads.
    pub fn account(&self) -> Account {
        match self {
            Principal::Anonymous => Account::Anonymous,
            Principal::Robot { .. } => Account::Robot,
            Principal::User { sysadmin: true, .. } => Account::SystemAdmin,
            Principal::User { .. } => Account::User,
        }
    }

    /// May this principal do `action` across the registry ([`rbac::SYSTEM_TABLE`])?
    pub fn may_system(&self, action: rbac::SystemAction) -> bool {
        rbac::account_allows(self.account(), action)
    }

    pub fn user_id(&self) -> Option<i64> {
        match self {
            Principal::User { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// A robot's own grant for `project`, if any.
    pub fn robot_allows(&self, project: &str, action: Action) -> bool {
        match self {
            Principal::Robot { grants, .. } => grants.iter().any(|g| {
                (g.namespace == project || g.namespace == "*") && g.actions.contains(&action)
            }),
            _ => false,
        }
    }
}

/// Parse Harbor's robot `permissions` JSON into grants; unknown entries are errors.
pub fn robot_grants(permissions: &serde_json::Value) -> Result<Vec<RobotGrant>, String> {
    let list = permissions
        .as_array()
        .ok_or("permissions must be an array")?;
    let mut out = Vec::new();
    for p in list {
        let kind = p["kind"].as_str().unwrap_or("project");
        if kind != "project" {
            return Err(format!(
                "permission kind {kind:?} is not supported (only \"project\")"
            ));
        }
        let namespace = p["namespace"]
            .as_str()
            .ok_or("each permission needs a namespace")?
            .to_string();
        let mut actions = Vec::new();
        for a in p["access"]
            .as_array()
            .ok_or("each permission needs an access array")?
        {
            let (res, act) = (
                a["resource"].as_str().unwrap_or(""),
                a["action"].as_str().unwrap_or(""),
            );
            let mapped = rbac::robot_access(res, act)
                .ok_or_else(|| format!("unknown access {res}:{act}"))?;
            actions.extend_from_slice(mapped);
        }
        out.push(RobotGrant { namespace, actions });
    }
    Ok(out)
}

/// The project of a repository: its first path segment.
pub fn project_of(repo: &str) -> &str {
    repo.split('/').next().unwrap_or(repo)
}
