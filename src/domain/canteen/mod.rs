//! Canteen organisations (食堂单位) and their buyers: the organisation's payment terms,
//! credit limit and approval threshold, its delivery sites (retired, never deleted) and
//! its members' roles (buyer, approver); what its members see at `/canteen`. The city
//! office (admin) sets all of it; every change is audited. Ordering is in `ordering`,
//! the organisation's orders and their approval in `orders`.

pub mod acceptance;
pub mod deliveries;
pub mod ordering;
pub mod orders;
pub mod standing;
pub mod statements;
pub mod target;

use chrono::NaiveDateTime;
use serde_json::json;

use crate::db::accounts as q;
use crate::db::canteen::{self as sites, SiteFields};
use crate::db::catalog as cat;
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::{OrgScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::validation::{self as v, FieldErrors};
use crate::states::{MemberRole, PaymentTerms};

pub use crate::db::accounts::{Organization, UserRow};
pub use crate::db::canteen::DeliverySite;
pub use crate::db::catalog::Village;

/// What every member of an organisation sees at `/canteen`.
pub struct CanteenHome {
    pub organization: Organization,
    /// Sites still delivered to.
    pub sites: Vec<DeliverySite>,
    pub members: Vec<(UserRow, MemberRole)>,
    /// Every village with its lead time and delivery weekdays.
    pub villages: Vec<Village>,
    /// This year's purchases against the yearly target.
    pub target: target::TargetProgress,
}

/// The canteen member's own organisation, as its members see it.
pub fn home(conn: &mut DbConn, scope: OrgScope, now: NaiveDateTime) -> DomainResult<CanteenHome> {
    let id = scope.organization_id();
    let organization = q::organization_by_id(conn, id)?.ok_or(DomainError::NotFound)?;
    let sites = sites::sites_of(conn, id)?
        .into_iter()
        .filter(|s| !s.retired)
        .collect();
    Ok(CanteenHome {
        organization,
        sites,
        members: q::members_of(conn, id)?,
        villages: cat::villages(conn)?,
        target: target::progress(conn, scope, now)?,
    })
}

/// An organisation's payment terms as read from the admin's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    pub payment_terms: PaymentTerms,
    /// Days to pay a statement; 0 when prepaying.
    pub days: i32,
    /// 0 when prepaying.
    pub credit_limit_fen: i64,
    /// `None`: no order waits for approval.
    pub approval_threshold_fen: Option<i64>,
}

/// Reads payment terms: prepay, or on account (月结) for 1–365 days within a credit limit
/// typed in yuan. Prepaying has no days and no credit, whatever the form says of them,
/// but what it says must still be readable. An empty threshold means no approval.
pub fn read_terms(
    errors: &mut FieldErrors,
    payment_terms: &str,
    days: &str,
    credit_limit: &str,
    approval_threshold: &str,
) -> Option<Terms> {
    let kind = v::state(errors, "payment_terms", payment_terms, PaymentTerms::parse);
    let approval_threshold_fen = match approval_threshold.trim() {
        "" => Some(None),
        t => v::price_yuan(errors, "approval_threshold", t).map(Some),
    };
    let (days, credit) = match kind {
        Some(PaymentTerms::OnAccount) => (
            v::whole_number(errors, "payment_terms_days", days, 1, 365),
            v::price_yuan(errors, "credit_limit", credit_limit),
        ),
        _ => {
            let days = match days.trim() {
                "" | "0" => Some(0),
                d => v::whole_number(errors, "payment_terms_days", d, 0, 365).map(|_| 0),
            };
            let credit = match credit_limit.trim() {
                "" | "0" => Some(0),
                c => v::price_yuan(errors, "credit_limit", c).map(|_| 0),
            };
            (days, credit)
        }
    };
    Some(Terms {
        payment_terms: kind?,
        days: days?,
        credit_limit_fen: credit?,
        approval_threshold_fen: approval_threshold_fen?,
    })
}

/// A delivery site as the admin types it.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SiteForm {
    pub name: String,
    pub address: String,
    pub receiver: String,
    pub phone: String,
    /// `06:30-08:00` or `06:30–08:00`.
    pub delivery_window: String,
}

impl SiteForm {
    pub fn of(site: &DeliverySite) -> SiteForm {
        SiteForm {
            name: site.name.clone(),
            address: site.address.clone(),
            receiver: site.receiver.clone(),
            phone: site.phone.clone(),
            delivery_window: site.delivery_window.clone(),
        }
    }
}

/// A receiver's phone: a mobile number, or a landline with its area code
/// (`0352-1234567`), since a canteen's kitchen often has only a desk phone.
pub fn phone(errors: &mut FieldErrors, field: &str, value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        errors.add(field, "invalid-required");
        return None;
    }
    let digits: String = value.chars().filter(|c| *c != '-' && *c != ' ').collect();
    let landline = digits.starts_with('0')
        && (10..=12).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit());
    if landline {
        return Some(value.to_string());
    }
    let mut mobile = FieldErrors::default();
    let phone = v::mobile_phone(&mut mobile, field, value);
    if phone.is_none() {
        errors.add(field, "invalid-phone-or-landline");
    }
    phone
}

/// `HH:MM` to minutes after midnight.
fn minutes(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && s.trim().len() == 5).then_some(h * 60 + m)
}

/// A delivery window, `06:30–08:00` (an ASCII hyphen or `~` also does), start before end;
/// stored with the en dash.
pub fn delivery_window(errors: &mut FieldErrors, field: &str, value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        errors.add(field, "invalid-required");
        return None;
    }
    let parts = value
        .split_once('–')
        .or_else(|| value.split_once('-'))
        .or_else(|| value.split_once('~'));
    match parts.and_then(|(a, b)| Some((minutes(a)?, minutes(b)?, a.trim(), b.trim()))) {
        Some((from, to, a, b)) if from < to => Some(format!("{a}–{b}")),
        _ => {
            errors.add(field, "invalid-delivery-window");
            None
        }
    }
}

fn organization(conn: &mut DbConn, id: i64) -> DomainResult<Organization> {
    q::organization_by_id(conn, id)?.ok_or(DomainError::NotFound)
}

/// Adds a site to the organisation (`site_id` `None`) or changes one of its sites.
pub fn save_site(
    conn: &mut DbConn,
    who: &Who,
    organization_id: i64,
    site_id: Option<i64>,
    form: &SiteForm,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    let org = organization(conn, organization_id)?;
    let existing = match site_id {
        Some(id) => Some(sites::site_in(conn, org.id, id)?.ok_or(DomainError::NotFound)?),
        None => None,
    };
    let mut errors = FieldErrors::default();
    let name = v::required_text(&mut errors, "name", &form.name, 60);
    let address = v::required_text(&mut errors, "address", &form.address, 200);
    let receiver = v::required_text(&mut errors, "receiver", &form.receiver, 40);
    let phone = phone(&mut errors, "phone", &form.phone);
    let window = delivery_window(&mut errors, "delivery_window", &form.delivery_window);
    let (Some(phone), Some(window)) = (phone, window) else {
        return Err(errors.into());
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let fields = SiteFields {
        name: &name,
        address: &address,
        receiver: &receiver,
        phone: &phone,
        delivery_window: &window,
    };
    let after = json!({
        "organization_id": org.id, "name": name, "address": address, "receiver": receiver,
        "phone": phone, "delivery_window": window,
    });
    write_transaction(conn, |conn| {
        let (id, action, before) = match &existing {
            Some(site) => {
                sites::update_site(conn, site.id, &fields)?;
                (site.id, "update", Some(json!(SiteForm::of(site))))
            }
            None => (
                sites::insert_site(conn, org.id, &fields, now)?,
                "create",
                None,
            ),
        };
        let change = Change {
            action,
            entity: "delivery_site",
            entity_id: id,
            village_id: None,
            before,
            after: Some(after.clone()),
        };
        audit::record(conn, who, change, now)?;
        Ok(id)
    })
}

/// Retires a site: it stays for the orders that name it, and is offered no more.
pub fn retire_site(
    conn: &mut DbConn,
    who: &Who,
    organization_id: i64,
    site_id: i64,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let site = sites::site_in(conn, organization_id, site_id)?.ok_or(DomainError::NotFound)?;
    write_transaction(conn, |conn| {
        if sites::retire_site(conn, site.id)? == 1 {
            let change = Change {
                action: "retire",
                entity: "delivery_site",
                entity_id: site.id,
                village_id: None,
                before: Some(json!({ "retired": false })),
                after: Some(json!({ "retired": true })),
            };
            audit::record(conn, who, change, now)?;
        }
        Ok(())
    })
}

/// The letters of a staff code: no 0/O or 1/I, which people misread off a notice.
const STAFF_CODE_LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Gives the organisation a new staff code (职工码), eight letters and digits, replacing
/// the old one: staff who enter it at checkout count their purchases towards its target.
pub fn new_staff_code(
    conn: &mut DbConn,
    who: &Who,
    organization_id: i64,
    now: NaiveDateTime,
) -> DomainResult<String> {
    let org = organization(conn, organization_id)?;
    for _ in 0..5 {
        let code: String = crate::util::random_bytes(8)
            .iter()
            .map(|b| char::from(STAFF_CODE_LETTERS[usize::from(*b) % STAFF_CODE_LETTERS.len()]))
            .collect();
        if q::organization_by_staff_code(conn, &code)?.is_some() {
            continue;
        }
        write_transaction(conn, |conn| {
            q::set_staff_code(conn, org.id, &code)?;
            let change = Change {
                action: "new_staff_code",
                entity: "organization",
                entity_id: org.id,
                village_id: None,
                before: Some(json!({ "staff_code": org.staff_code })),
                after: Some(json!({ "staff_code": code })),
            };
            audit::record(conn, who, change, now)
        })?;
        return Ok(code);
    }
    Err(DomainError::invalid("staff_code", "invalid-staff-code"))
}

/// Sets a member's role (buyer or approver) within the organisation; someone who is not
/// its member is not found.
pub fn set_member_role(
    conn: &mut DbConn,
    who: &Who,
    organization_id: i64,
    user_id: i64,
    role: &str,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let org = organization(conn, organization_id)?;
    let Some((member_of, before)) = q::membership(conn, user_id)? else {
        return Err(DomainError::NotFound);
    };
    if member_of != org.id {
        return Err(DomainError::NotFound);
    }
    let mut errors = FieldErrors::default();
    let Some(role) = v::state(&mut errors, "member_role", role, MemberRole::parse) else {
        return Err(errors.into());
    };
    write_transaction(conn, |conn| {
        q::set_member_role(conn, org.id, user_id, role)?;
        let change = Change {
            action: "set_role",
            entity: "organization_member",
            entity_id: user_id,
            village_id: None,
            before: Some(json!({ "organization_id": org.id, "member_role": before })),
            after: Some(json!({ "organization_id": org.id, "member_role": role })),
        };
        audit::record(conn, who, change, now)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_windows_are_read_and_refused() {
        let mut e = FieldErrors::default();
        assert_eq!(
            delivery_window(&mut e, "w", "06:30-08:00").as_deref(),
            Some("06:30–08:00")
        );
        assert_eq!(
            delivery_window(&mut e, "w", " 06:30 – 08:00 ").as_deref(),
            Some("06:30–08:00")
        );
        assert!(e.is_empty());
        for bad in [
            "08:00-06:30",
            "6:30-8:00",
            "25:00-26:00",
            "morning",
            "06:30",
        ] {
            let mut e = FieldErrors::default();
            assert_eq!(delivery_window(&mut e, "w", bad), None, "{bad}");
            assert!(e.has("w"));
        }
    }

    #[test]
    fn phones_are_mobiles_or_landlines_with_an_area_code() {
        for good in ["13803520000", "0352-1234567", "010 12345678"] {
            let mut e = FieldErrors::default();
            assert!(phone(&mut e, "p", good).is_some(), "{good}");
        }
        for bad in ["12345", "1234-5678", "abc", ""] {
            let mut e = FieldErrors::default();
            assert_eq!(phone(&mut e, "p", bad), None, "{bad}");
            assert!(e.has("p"), "{bad}");
        }
    }
}
