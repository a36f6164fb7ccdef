//! Harbor's project roles and what each may do: ONE table, read by every
//! check (registry API, management API, robot permissions). The same table is
//! rendered in docs/permissions.md; a test keeps the two in step.

use serde::{Deserialize, Serialize};

/// Harbor's role ids, as its API sends them (`role_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(try_from = "i64", into = "i64")]
pub enum Role {
    ProjectAdmin = 1,
    Developer = 2,
    Guest = 3,
    Maintainer = 4,
    LimitedGuest = 5,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::LimitedGuest,
        Role::Guest,
        Role::Developer,
        Role::Maintainer,
        Role::ProjectAdmin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::ProjectAdmin => "projectAdmin",
            Role::Developer => "developer",
            Role::Guest => "guest",
            Role::Maintainer => "maintainer",
            Role::LimitedGuest => "limitedGuest",
        }
    }

    /// Column of this role in [`TABLE`].
    fn column(self) -> usize {
        Role::ALL
            .iter()
            .position(|r| *r == self)
            .expect("every role has a column")
    }
}

impl TryFrom<i64> for Role {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        Ok(match v {
            1 => Role::ProjectAdmin,
            2 => Role::Developer,
            3 => Role::Guest,
            4 => Role::Maintainer,
            5 => Role::LimitedGuest,
            other => {
                return Err(format!(
                    "unknown role_id {other} (1 projectAdmin, 2 developer, 3 guest, 4 maintainer, 5 limitedGuest)"
                ));
            }
        })
    }
}

impl From<Role> for i64 {
    fn from(r: Role) -> i64 {
        r as i64
    }
}

/// Everything a principal can be allowed to do within a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// See the project and its settings.
    ReadProject,
    ListRepositories,
    /// List artifacts and tags, read artifact details and accessories.
    ReadArtifacts,
    Pull,
    Push,
    CreateTag,
    DeleteTag,
    DeleteArtifact,
    DeleteRepository,
    ReadScan,
    Scan,
    ReadMembers,
    ManageMembers,
    ReadRobots,
    ManageRobots,
    ReadLogs,
    UpdateProject,
    DeleteProject,
}

const N: bool = false;
const Y: bool = true;

/// Columns: LimitedGuest, Guest, Developer, Maintainer, ProjectAdmin.
pub const TABLE: &[(Action, [bool; 5])] = &[
    (Action::ReadProject, [Y, Y, Y, Y, Y]),
    (Action::ListRepositories, [Y, Y, Y, Y, Y]),
    (Action::ReadArtifacts, [Y, Y, Y, Y, Y]),
    (Action::Pull, [Y, Y, Y, Y, Y]),
    (Action::ReadScan, [Y, Y, Y, Y, Y]),
    (Action::Push, [N, N, Y, Y, Y]),
    (Action::CreateTag, [N, N, Y, Y, Y]),
    (Action::ReadMembers, [N, Y, Y, Y, Y]),
    (Action::ReadLogs, [N, Y, Y, Y, Y]),
    (Action::ReadRobots, [N, N, N, Y, Y]),
    (Action::Scan, [N, N, N, Y, Y]),
    (Action::DeleteTag, [N, N, N, Y, Y]),
    (Action::DeleteArtifact, [N, N, N, Y, Y]),
    (Action::DeleteRepository, [N, N, N, Y, Y]),
    (Action::ManageMembers, [N, N, N, N, Y]),
    (Action::ManageRobots, [N, N, N, N, Y]),
    (Action::UpdateProject, [N, N, N, N, Y]),
    (Action::DeleteProject, [N, N, N, N, Y]),
];

pub fn role_allows(role: Role, action: Action) -> bool {
    TABLE
        .iter()
        .find(|(a, _)| *a == action)
        .is_some_and(|(_, cols)| cols[role.column()])
}

/// Anonymous users (and everyone else) on a public project.
pub fn public_allows(action: Action) -> bool {
    matches!(
        action,
        Action::ReadProject
            | Action::ListRepositories
            | Action::ReadArtifacts
            | Action::Pull
            | Action::ReadScan
    )
}

/// A robot permission as Harbor's API writes it (`{"resource":"repository","action":"pull"}`).
pub fn robot_access(resource: &str, action: &str) -> Option<&'static [Action]> {
    use Action::*;
    Some(match (resource, action) {
        ("repository", "pull") => &[Pull, ReadProject],
        ("repository", "push") => &[Push, ReadProject],
        ("repository", "delete") => &[DeleteRepository],
        ("repository", "list") => &[ListRepositories, ReadProject],
        ("artifact", "read") | ("artifact", "list") => &[ReadArtifacts],
        ("artifact", "delete") => &[DeleteArtifact],
        ("tag", "list") => &[ReadArtifacts],
        ("tag", "create") => &[CreateTag],
        ("tag", "delete") => &[DeleteTag],
        ("scan", "create") => &[Scan],
        ("scan", "read") => &[ReadScan],
        ("member", "list") | ("member", "read") => &[ReadMembers],
        ("log", "list") => &[ReadLogs],
        ("project", "read") => &[ReadProject],
        _ => return None,
    })
}

/// The permission table as Markdown, for docs/permissions.md.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| action | limitedGuest | guest | developer | maintainer | projectAdmin |\n|---|---|---|---|---|---|\n",
    );
    for (action, cols) in TABLE {
        let name = serde_json::to_value(action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let cells: Vec<&str> = cols.iter().map(|&c| if c { "yes" } else { "no" }).collect();
        out.push_str(&format!("| `{name}` | {} |\n", cells.join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_privilege() {
        // Each role may do everything the one below it may.
        for pair in Role::ALL.windows(2) {
            for (action, _) in TABLE {
                if role_allows(pair[0], *action) {
                    assert!(
                        role_allows(pair[1], *action),
                        "{:?} may {action:?} but {:?} may not",
                        pair[0],
                        pair[1]
                    );
                }
            }
        }
        assert!(!role_allows(Role::Guest, Action::Push));
        assert!(role_allows(Role::Developer, Action::Push));
        assert!(!role_allows(Role::Developer, Action::DeleteArtifact));
        assert!(role_allows(Role::Maintainer, Action::DeleteArtifact));
        assert!(!role_allows(Role::Maintainer, Action::ManageMembers));
        assert!(!role_allows(Role::LimitedGuest, Action::ReadMembers));
    }

    #[test]
    fn every_action_has_a_row() {
        use Action::*;
        let all = [
            ReadProject,
            ListRepositories,
            ReadArtifacts,
            Pull,
            Push,
            CreateTag,
            DeleteTag,
            DeleteArtifact,
            DeleteRepository,
            ReadScan,
            Scan,
            ReadMembers,
            ManageMembers,
            ReadRobots,
            ManageRobots,
            ReadLogs,
            UpdateProject,
            DeleteProject,
        ];
        for a in all {
            assert_eq!(TABLE.iter().filter(|(x, _)| *x == a).count(), 1, "{a:?}");
        }
    }

    #[test]
    fn docs_match_the_table() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/permissions.md"
        ))
        .unwrap();
        assert!(
            doc.contains(&markdown_table()),
            "docs/permissions.md is out of date; paste:\n{}",
            markdown_table()
        );
    }

    #[test]
    fn role_ids_are_harbors() {
        assert_eq!(Role::try_from(1).unwrap(), Role::ProjectAdmin);
        assert_eq!(Role::try_from(4).unwrap(), Role::Maintainer);
        assert!(Role::try_from(9).is_err());
    }
}
