//! Who may do what, in one file: Harbor's project roles and what each may do
//! in a project ([`TABLE`]), what each kind of account may do across the registry
//! ([`SYSTEM_TABLE`]), and how OCI token scopes map onto project actions
//! ([`scope_actions`]). Every check reads these (registry API, token endpoint,
//! management API, robot permissions); nothing else decides access. Both tables
//! are rendered in docs/permissions.md; a test keeps the two in step.
//!
//! A project role is a set of project actions ([`RoleDef`]): the five built-in
//! roles are the columns of [`TABLE`], and system administrators may define more
//! (custom roles, stored with the identity data). A user's rights in a project are
//! the union of the roles they hold there, directly and through their groups.

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

    /// Harbor's description of the role.
    pub fn description(self) -> &'static str {
        match self {
            Role::ProjectAdmin => "Everything in the project, its members and settings included",
            Role::Maintainer => "Push, delete and scan images; manage rules and webhooks",
            Role::Developer => "Push and pull images",
            Role::Guest => "Pull images and read the project",
            Role::LimitedGuest => "Pull images; no view of members or logs",
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
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
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
    /// See the project's tag immutability rules.
    ReadImmutableRules,
    /// Add, change, switch off and remove immutability rules.
    ManageImmutableRules,
    /// See the project's retention policy, its runs and their logs.
    ReadRetention,
    /// Set the retention policy, run it (also as a dry run), stop runs.
    ManageRetention,
    /// See the project's webhook policies and their delivery log.
    ReadWebhooks,
    /// Add, change and remove webhook policies (they hold secrets and send data out).
    ManageWebhooks,
    /// Export the project's scan findings as CSV (Harbor's `export-cve`).
    ExportCve,
    /// See the project's labels (Harbor's `label` read/list).
    ReadLabels,
    /// Create, change and remove the project's labels.
    ManageLabels,
    /// Put labels on the project's artifacts and take them off (Harbor's
    /// `artifact-label` create/delete).
    LabelArtifacts,
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
    (Action::ReadImmutableRules, [N, Y, Y, Y, Y]),
    (Action::ManageImmutableRules, [N, N, N, Y, Y]),
    (Action::ReadRetention, [N, Y, Y, Y, Y]),
    (Action::ManageRetention, [N, N, N, Y, Y]),
    (Action::ReadWebhooks, [N, N, N, Y, Y]),
    (Action::ManageWebhooks, [N, N, N, Y, Y]),
    (Action::ExportCve, [N, N, Y, Y, Y]),
    (Action::ReadLabels, [Y, Y, Y, Y, Y]),
    (Action::ManageLabels, [N, N, N, Y, Y]),
    (Action::LabelArtifacts, [N, N, Y, Y, Y]),
];

pub fn role_allows(role: Role, action: Action) -> bool {
    TABLE
        .iter()
        .find(|(a, _)| *a == action)
        .is_some_and(|(_, cols)| cols[role.column()])
}

impl Action {
    /// The action's name in the API and the docs (`read-project`).
    pub fn name(self) -> &'static str {
        self.into()
    }

    fn bit(self) -> u64 {
        1 << (self as u32)
    }
}

/// A set of project actions: what one role grants, or what a user holds in a
/// project through all their roles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ActionSet(u64);

impl ActionSet {
    pub fn of_role(role: Role) -> Self {
        TABLE
            .iter()
            .filter(|(_, cols)| cols[role.column()])
            .fold(ActionSet::default(), |set, (a, _)| set.with(*a))
    }

    /// The actions named (`pull`, `read-scan`, …); the unknown names are the error.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, Vec<String>> {
        let mut set = ActionSet::default();
        let mut unknown = Vec::new();
        for n in names {
            match n.parse::<Action>() {
                Ok(a) => set = set.with(a),
                Err(_) => unknown.push(n.to_string()),
            }
        }
        if unknown.is_empty() {
            Ok(set)
        } else {
            Err(unknown)
        }
    }

    /// Like [`ActionSet::parse`], ignoring names this build does not know (a stored
    /// role may name an action a later version dropped).
    pub fn parse_known<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        names
            .into_iter()
            .filter_map(|n| n.parse::<Action>().ok())
            .fold(ActionSet::default(), ActionSet::with)
    }

    pub fn with(self, a: Action) -> Self {
        ActionSet(self.0 | a.bit())
    }

    pub fn union(self, other: ActionSet) -> Self {
        ActionSet(self.0 | other.0)
    }

    pub fn contains(self, a: Action) -> bool {
        self.0 & a.bit() != 0
    }

    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The actions in the permission table's order.
    pub fn actions(self) -> impl Iterator<Item = Action> {
        TABLE
            .iter()
            .map(|(a, _)| *a)
            .filter(move |a| self.contains(*a))
    }

    pub fn names(self) -> Vec<&'static str> {
        self.actions().map(Action::name).collect()
    }
}

/// A project role's id, as Harbor's API sends it (`role_id`): 1–5 are the
/// built-in [`Role`]s, custom roles are numbered from [`FIRST_CUSTOM_ROLE_ID`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoleId(pub i64);

/// Custom roles never share an id with a built-in one, present or future.
pub const FIRST_CUSTOM_ROLE_ID: i64 = 101;

impl RoleId {
    pub fn builtin(self) -> Option<Role> {
        Role::try_from(self.0).ok()
    }
}

impl From<Role> for RoleId {
    fn from(r: Role) -> Self {
        RoleId(r as i64)
    }
}

/// A project role: one of the five built in (a column of [`TABLE`]) or one a
/// system administrator defined. Both are checked the same way, by `actions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDef {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    pub actions: ActionSet,
    pub builtin: bool,
}

impl RoleDef {
    pub fn builtin(role: Role) -> Self {
        RoleDef {
            id: role.into(),
            name: role.name().to_string(),
            description: role.description().to_string(),
            actions: ActionSet::of_role(role),
            builtin: true,
        }
    }

    /// The five built-in roles, least to most privileged.
    pub fn builtins() -> Vec<RoleDef> {
        Role::ALL.iter().map(|r| RoleDef::builtin(*r)).collect()
    }
}

/// What a principal holds in a project through its memberships: the union of
/// their roles' actions, and the role to show for it (the one granting most;
/// among the built-in roles, the highest).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grant {
    pub role: Option<RoleId>,
    pub actions: ActionSet,
    /// How many actions `role` grants on its own.
    role_len: u32,
}

impl Grant {
    /// Add one membership: its role and what that role grants.
    pub fn add(&mut self, role: RoleId, actions: ActionSet) {
        if self.role.is_none() || actions.len() > self.role_len {
            self.role = Some(role);
            self.role_len = actions.len();
        }
        self.actions = self.actions.union(actions);
    }
}

/// The answer to "may this principal do that in this project?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The project does not exist.
    NoProject,
    Allowed,
    Denied,
}

impl Decision {
    pub fn allowed(self) -> bool {
        self == Decision::Allowed
    }
}

/// The project actions an OCI token scope's action needs
/// (`repository:<name>:<action>`); `None` for actions the registry does not know.
/// The token endpoint grants a scope action when every listed action is allowed, and
/// the `/v2` middleware asks for the same actions.
pub fn scope_actions(scope_action: &str) -> Option<&'static [Action]> {
    use Action::*;
    Some(match scope_action {
        "pull" => &[Pull],
        "push" => &[Push],
        "delete" => &[DeleteArtifact],
        "*" => &[Pull, Push, DeleteArtifact],
        _ => return None,
    })
}

/// What kind of account a principal is, as far as registry-wide rights go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    Anonymous,
    Robot,
    User,
    SystemAdmin,
}

impl Account {
    pub const ALL: [Account; 4] = [
        Account::Anonymous,
        Account::Robot,
        Account::User,
        Account::SystemAdmin,
    ];

    fn column(self) -> usize {
        Account::ALL
            .iter()
            .position(|a| *a == self)
            .expect("every account kind has a column")
    }
}

/// Everything that is not about one project: administration of the registry itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::EnumIter)]
#[serde(rename_all = "kebab-case")]
pub enum SystemAction {
    /// Create a project (its creator becomes its project admin).
    CreateProject,
    /// See every project, private ones included, in listings.
    SeeAllProjects,
    /// Every project action in every project, member or not.
    ActInEveryProject,
    /// `GET /v2/_catalog`.
    ReadCatalog,
    /// List users and read other users' accounts.
    ReadUsers,
    /// Create and delete users, reset their passwords, grant system administration.
    ManageUsers,
    /// System-level robot accounts (permissions across projects).
    ManageSystemRobots,
    /// The registry-wide audit log.
    ReadAuditLog,
    /// The system CVE allow-list, the scan-all schedule and scan metrics.
    ReadSecuritySettings,
    ManageSecuritySettings,
    /// The Security Hub: vulnerabilities of every artifact in every project.
    ReadSecurityHub,
    /// Garbage collection, retention runs across projects, blob scrub.
    ManageGarbageCollection,
    /// Project quotas and the default quota.
    ManageQuotas,
    /// Replication policies and executions.
    ManageReplication,
    /// Registry endpoints (replication peers, proxy-cache upstreams).
    ManageRegistries,
    /// The job queue: list jobs, read their logs, stop and retry them.
    ManageJobs,
    /// The authentication mode and the LDAP settings (`/configurations`), and
    /// the directory itself: ping, search, import (`/ldap/…`).
    ManageConfigurations,
    /// User groups (`/usergroups`): LDAP group DNs and OIDC group names that can
    /// be made project members.
    ManageUserGroups,
    /// Custom project roles (`/roles`): define, change and remove them.
    ManageRoles,
    /// Global labels (`/labels` with scope `g`): create, change, remove.
    ManageGlobalLabels,
}

/// Columns: Anonymous, Robot, User, SystemAdmin.
pub const SYSTEM_TABLE: &[(SystemAction, [bool; 4])] = &[
    (SystemAction::CreateProject, [N, N, Y, Y]),
    (SystemAction::SeeAllProjects, [N, N, N, Y]),
    (SystemAction::ActInEveryProject, [N, N, N, Y]),
    (SystemAction::ReadCatalog, [N, N, N, Y]),
    (SystemAction::ReadUsers, [N, N, N, Y]),
    (SystemAction::ManageUsers, [N, N, N, Y]),
    (SystemAction::ManageSystemRobots, [N, N, N, Y]),
    (SystemAction::ReadAuditLog, [N, N, N, Y]),
    (SystemAction::ReadSecuritySettings, [N, N, N, Y]),
    (SystemAction::ManageSecuritySettings, [N, N, N, Y]),
    (SystemAction::ReadSecurityHub, [N, N, N, Y]),
    (SystemAction::ManageGarbageCollection, [N, N, N, Y]),
    (SystemAction::ManageQuotas, [N, N, N, Y]),
    (SystemAction::ManageReplication, [N, N, N, Y]),
    (SystemAction::ManageRegistries, [N, N, N, Y]),
    (SystemAction::ManageJobs, [N, N, N, Y]),
    (SystemAction::ManageConfigurations, [N, N, N, Y]),
    (SystemAction::ManageUserGroups, [N, N, N, Y]),
    (SystemAction::ManageRoles, [N, N, N, Y]),
    (SystemAction::ManageGlobalLabels, [N, N, N, Y]),
];

pub fn account_allows(account: Account, action: SystemAction) -> bool {
    SYSTEM_TABLE
        .iter()
        .find(|(a, _)| *a == action)
        .is_some_and(|(_, cols)| cols[account.column()])
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
        ("immutable-tag", "list") => &[ReadImmutableRules],
        ("immutable-tag", "create" | "update" | "delete") => &[ManageImmutableRules],
        ("tag-retention", "read" | "list") => &[ReadRetention],
        ("tag-retention", "create" | "update" | "delete" | "operate") => &[ManageRetention],
        ("notification-policy", "read" | "list") => &[ReadWebhooks],
        ("notification-policy", "create" | "update" | "delete") => &[ManageWebhooks],
        _ => return None,
    })
}

fn markdown_rows<A: Serialize, const C: usize>(header: &str, rows: &[(A, [bool; C])]) -> String {
    let mut out = String::from(header);
    for (action, cols) in rows {
        let name = serde_json::to_value(action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let cells: Vec<&str> = cols.iter().map(|&c| if c { "yes" } else { "no" }).collect();
        out.push_str(&format!("| `{name}` | {} |\n", cells.join(" | ")));
    }
    out
}

/// The project permission table as Markdown, for docs/permissions.md.
pub fn markdown_table() -> String {
    markdown_rows(
        "| action | limitedGuest | guest | developer | maintainer | projectAdmin |\n|---|---|---|---|---|---|\n",
        TABLE,
    )
}

/// The system permission table as Markdown, for docs/permissions.md.
pub fn markdown_system_table() -> String {
    markdown_rows(
        "| action | anonymous | robot | user | system admin |\n|---|---|---|---|---|\n",
        SYSTEM_TABLE,
    )
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
        use strum::IntoEnumIterator;
        for a in Action::iter() {
            assert_eq!(TABLE.iter().filter(|(x, _)| *x == a).count(), 1, "{a:?}");
        }
        assert_eq!(TABLE.len(), Action::iter().count());
        for a in SystemAction::iter() {
            assert_eq!(
                SYSTEM_TABLE.iter().filter(|(x, _)| *x == a).count(),
                1,
                "{a:?}"
            );
        }
        assert_eq!(SYSTEM_TABLE.len(), SystemAction::iter().count());
    }

    #[test]
    fn system_rights_grow_with_the_account() {
        use strum::IntoEnumIterator;
        for a in SystemAction::iter() {
            // Anonymous and robots never administer; a system admin may everything.
            assert!(!account_allows(Account::Anonymous, a), "{a:?}");
            assert!(!account_allows(Account::Robot, a), "{a:?}");
            assert!(account_allows(Account::SystemAdmin, a), "{a:?}");
        }
        assert!(account_allows(Account::User, SystemAction::CreateProject));
        assert!(!account_allows(Account::User, SystemAction::ManageUsers));
    }

    #[test]
    fn scopes_map_to_actions() {
        assert_eq!(scope_actions("pull"), Some(&[Action::Pull][..]));
        assert_eq!(scope_actions("delete"), Some(&[Action::DeleteArtifact][..]));
        assert_eq!(scope_actions("*").map(<[Action]>::len), Some(3));
        assert_eq!(scope_actions("admin"), None);
    }

    #[test]
    fn docs_match_the_table() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/permissions.md"
        ))
        .unwrap();
        for table in [markdown_table(), markdown_system_table()] {
            assert!(
                doc.contains(&table),
                "docs/permissions.md is out of date; paste:\n{table}"
            );
        }
    }

    #[test]
    fn action_sets_name_actions_as_the_api_does() {
        use strum::IntoEnumIterator;
        assert!(Action::iter().count() <= 64, "ActionSet is one u64");
        for a in Action::iter() {
            // The names roles are stored and sent with are serde's names.
            assert_eq!(serde_json::to_value(a).unwrap(), a.name());
            assert_eq!(
                ActionSet::parse([a.name()]).unwrap().names(),
                vec![a.name()]
            );
        }
        assert_eq!(
            ActionSet::parse(["pull", "bogus", "push", "nope"]),
            Err(vec!["bogus".to_string(), "nope".to_string()])
        );
        assert_eq!(
            ActionSet::parse_known(["pull", "bogus"]).names(),
            vec!["pull"]
        );
        let all = ActionSet::of_role(Role::ProjectAdmin);
        assert_eq!(all.len() as usize, TABLE.len());
        for role in Role::ALL {
            let set = ActionSet::of_role(role);
            for (a, _) in TABLE {
                assert_eq!(set.contains(*a), role_allows(role, *a), "{role:?} {a:?}");
            }
        }
    }

    #[test]
    fn a_grant_is_the_union_of_roles_shown_as_the_largest() {
        let custom = ActionSet::parse(["manage-members"]).unwrap();
        let mut g = Grant::default();
        g.add(RoleId(101), custom);
        g.add(Role::Guest.into(), ActionSet::of_role(Role::Guest));
        g.add(
            Role::LimitedGuest.into(),
            ActionSet::of_role(Role::LimitedGuest),
        );
        assert_eq!(g.role, Some(Role::Guest.into()));
        assert!(g.actions.contains(Action::ManageMembers));
        assert!(g.actions.contains(Action::ReadLogs));
        assert!(!g.actions.contains(Action::Push));
        // For the built-in roles alone, the union is the highest role.
        let mut g = Grant::default();
        for r in Role::ALL {
            g.add(r.into(), ActionSet::of_role(r));
        }
        assert_eq!(g.actions, ActionSet::of_role(Role::ProjectAdmin));
        assert_eq!(g.role, Some(Role::ProjectAdmin.into()));
    }

    #[test]
    fn role_ids_are_harbors() {
        assert_eq!(Role::try_from(1).unwrap(), Role::ProjectAdmin);
        assert_eq!(Role::try_from(4).unwrap(), Role::Maintainer);
        assert!(Role::try_from(9).is_err());
    }
}
