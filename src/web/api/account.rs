//! Who a token acts as: its user, role and scope, as the pages would load them.

use actix_web::{HttpResponse, get};
use serde::Serialize;
use utoipa::ToSchema;

use super::{BadRequest, TooManyRequests, Unauthorized};
use crate::domain::actor::{ReportScope, Scope};
use crate::web::auth::SignedIn;

/// What a token's user may reach.
#[derive(Serialize, ToSchema)]
pub struct ScopeJson {
    /// `city` (the city office: everything), `villages` (a work team's), `organization`
    /// (a canteen's), `county` or `village` (a cadre's reports).
    pub kind: String,
    /// The villages of a work team, or a cadre's village.
    pub village_ids: Vec<i64>,
    /// A cadre's county.
    pub county_id: Option<i64>,
    /// A canteen buyer's organisation, and whether they approve its large orders.
    pub organization_id: Option<i64>,
    pub approver: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub email: String,
    pub name: String,
    /// `admin`, `team`, `canteen` or `cadre`.
    pub role: String,
    pub scope: ScopeJson,
}

/// The token's user, role and scope.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    responses((status = 200, description = "The token's user", body = Me), BadRequest, Unauthorized, TooManyRequests)
)]
#[get("/me")]
pub async fn me(signed_in: SignedIn) -> HttpResponse {
    let actor = signed_in.actor;
    let none = ScopeJson {
        kind: String::new(),
        village_ids: Vec::new(),
        county_id: None,
        organization_id: None,
        approver: false,
    };
    let scope = match &actor.scope {
        Scope::Admin => ScopeJson {
            kind: "city".into(),
            ..none
        },
        Scope::Team(team) => ScopeJson {
            kind: "villages".into(),
            village_ids: team.village_ids().to_vec(),
            ..none
        },
        Scope::Canteen(org) => ScopeJson {
            kind: "organization".into(),
            organization_id: Some(org.organization_id()),
            approver: org.is_approver(),
            ..none
        },
        Scope::Cadre(ReportScope::County(id)) => ScopeJson {
            kind: "county".into(),
            county_id: Some(*id),
            ..none
        },
        Scope::Cadre(ReportScope::Village(id)) => ScopeJson {
            kind: "village".into(),
            village_ids: vec![*id],
            ..none
        },
        Scope::Cadre(ReportScope::Villages(ids)) => ScopeJson {
            kind: "villages".into(),
            village_ids: ids.clone(),
            ..none
        },
        Scope::Cadre(ReportScope::City) => ScopeJson {
            kind: "city".into(),
            ..none
        },
    };
    HttpResponse::Ok().json(Me {
        id: actor.user.id,
        email: actor.user.email.clone(),
        name: actor.user.display_name.clone(),
        role: actor.user.role.as_str().to_string(),
        scope,
    })
}
