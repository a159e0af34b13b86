//! Who is acting and what they may reach: roles, the signed-in `Actor` with the scope
//! every query of theirs is limited to (ARCHITECTURE §3), and `Who` for the audit log.
//!
//! The scope values (`TeamScope`, `OrgScope`, `ReportScope`) are made only by
//! `accounts::load_actor` from what the database says of the user, so a domain function
//! that takes one cannot be called with villages the caller did not prove are theirs.

use crate::i18n::Lang;
use crate::states::MemberRole;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The city office that runs the platform.
    Admin,
    /// A work-team member (驻村工作队), bound to villages.
    Team,
    /// A buyer at a canteen organisation (食堂).
    Canteen,
    /// A read-only official (干部).
    Cadre,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Team, Role::Canteen, Role::Cadre];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Team => "team",
            Role::Canteen => "canteen",
            Role::Cadre => "cadre",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The page a user of this role lands on after signing in.
    pub fn home(self) -> &'static str {
        match self {
            Role::Admin => "/admin",
            Role::Team => "/team",
            Role::Canteen => "/canteen",
            Role::Cadre => "/reports",
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub lang: Lang,
}

/// The villages of a work-team member (驻村工作队员): every read or change of a
/// village's households, stock, products and orders goes through one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamScope {
    village_ids: Vec<i64>,
}

impl TeamScope {
    pub(crate) fn new(village_ids: Vec<i64>) -> TeamScope {
        TeamScope { village_ids }
    }

    pub fn village_ids(&self) -> &[i64] {
        &self.village_ids
    }

    pub fn covers(&self, village_id: i64) -> bool {
        self.village_ids.contains(&village_id)
    }
}

/// The canteen organisation (食堂单位) a canteen buyer orders for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgScope {
    organization_id: i64,
    role: MemberRole,
}

impl OrgScope {
    pub(crate) fn new(organization_id: i64, role: MemberRole) -> OrgScope {
        OrgScope {
            organization_id,
            role,
        }
    }

    pub fn organization_id(self) -> i64 {
        self.organization_id
    }

    /// 审批人: approves (or sends back) its organisation's orders above the threshold.
    pub fn is_approver(self) -> bool {
        self.role == MemberRole::Approver
    }
}

/// What a reader of the reports may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportScope {
    City,
    County(i64),
    Village(i64),
    /// A work team reads the reports of its own villages.
    Villages(Vec<i64>),
}

impl ReportScope {
    /// Whether a village of `county_id` is within this scope.
    pub fn covers(&self, village_id: i64, county_id: i64) -> bool {
        match self {
            ReportScope::City => true,
            ReportScope::County(c) => county_id == *c,
            ReportScope::Village(id) => village_id == *id,
            ReportScope::Villages(ids) => ids.contains(&village_id),
        }
    }
}

/// The rows a signed-in user's queries are limited to.
#[derive(Debug, Clone)]
pub enum Scope {
    Admin,
    Team(TeamScope),
    Canteen(OrgScope),
    Cadre(ReportScope),
}

/// A signed-in, enabled user with their scope, loaded afresh for each request to a
/// signed-in area so that a disabled account or a changed binding takes effect at once.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: User,
    pub scope: Scope,
    /// The address this request came from (after `TRUSTED_PROXIES`), for the audit log;
    /// set by the web layer.
    pub client_addr: Option<String>,
}

impl Actor {
    /// What this actor may read in the reports, if any.
    pub fn report_scope(&self) -> Option<ReportScope> {
        match &self.scope {
            Scope::Admin => Some(ReportScope::City),
            Scope::Team(team) => Some(ReportScope::Villages(team.village_ids.clone())),
            Scope::Cadre(scope) => Some(scope.clone()),
            Scope::Canteen(_) => None,
        }
    }
}

/// Who made a change: a signed-in user, or a named tool (`demo loader`, `command line`).
#[derive(Debug, Clone)]
pub struct Who {
    pub user_id: Option<i64>,
    pub label: String,
    /// Where a person acted from; `None` for a tool.
    pub client_addr: Option<String>,
}

impl Who {
    pub fn tool(label: &str) -> Who {
        Who {
            user_id: None,
            label: label.to_string(),
            client_addr: None,
        }
    }
}

impl From<&Actor> for Who {
    fn from(actor: &Actor) -> Who {
        Who {
            user_id: Some(actor.user.id),
            label: actor.user.email.clone(),
            client_addr: actor.client_addr.clone(),
        }
    }
}
