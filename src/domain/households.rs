//! Households (农户): the village register a work team keeps — who they are, how many
//! live there (常住人口, the per-capita divisor), their category, and how they are paid.
//! Households are archived, never deleted: stock and money point at them.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde_json::{Value, json};

use crate::db::households::{
    self as q, Household, HouseholdChanges, HouseholdFilter, NewHousehold,
};
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::Who;
use crate::domain::audit::{self, Change};
use crate::domain::validation::{self as v, FieldErrors};
use crate::i18n::Lang;

/// 脱贫户 (lifted out of poverty), 监测户 (monitored for relapse), 一般户 (ordinary).
pub const CATEGORIES: [&str; 3] = ["tuopin", "jiance", "yiban"];
pub const PAYOUT_METHODS: [&str; 4] = ["cash", "bank", "wechat", "alipay"];

/// A household as typed into the form or read from a register row: text, unchecked.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct HouseholdForm {
    pub code: String,
    pub head_name: String,
    pub resident_members: String,
    pub category: String,
    pub phone: String,
    pub payout_method: String,
    pub payout_account: String,
}

/// A household that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidHousehold {
    pub code: String,
    pub head_name: String,
    pub resident_members: i32,
    pub category: String,
    pub phone: Option<String>,
    pub payout_method: String,
    pub payout_account: Option<String>,
}

impl ValidHousehold {
    fn changes(&self, now: NaiveDateTime) -> HouseholdChanges<'_> {
        HouseholdChanges {
            code: &self.code,
            head_name: &self.head_name,
            resident_members: self.resident_members,
            category: &self.category,
            phone: self.phone.as_deref(),
            payout_method: &self.payout_method,
            payout_account: self.payout_account.as_deref(),
            updated_at: now,
        }
    }

    fn same_as(&self, h: &Household) -> bool {
        self.code == h.code
            && self.head_name == h.head_name
            && self.resident_members == h.resident_members
            && self.category == h.category
            && self.phone == h.phone
            && self.payout_method == h.payout_method
            && self.payout_account == h.payout_account
    }
}

/// Reads a category or payout method as a code (`tuopin`) or as its label in either
/// language (`脱贫户`), the way registers write it.
fn code_from_label(value: &str, codes: &[&'static str], key_prefix: &str) -> String {
    let value = value.trim();
    for code in codes {
        if value.eq_ignore_ascii_case(code)
            || Lang::ALL.iter().any(|lang| {
                lang.t(&format!("{key_prefix}{code}"))
                    .eq_ignore_ascii_case(value)
            })
        {
            return code.to_string();
        }
    }
    value.to_string()
}

pub fn validate(form: &HouseholdForm) -> Result<ValidHousehold, FieldErrors> {
    let mut errors = FieldErrors::default();
    let code = v::required_text(&mut errors, "code", &form.code, 32);
    let head_name = v::required_text(&mut errors, "head_name", &form.head_name, 64);
    let resident_members = v::whole_number(
        &mut errors,
        "resident_members",
        &form.resident_members,
        1,
        50,
    );
    let category = code_from_label(&form.category, &CATEGORIES, "category-household-");
    let category = v::one_of(&mut errors, "category", &category, &CATEGORIES);
    let phone = v::mobile_phone(&mut errors, "phone", &form.phone);
    let payout_method = match form.payout_method.trim() {
        "" => Some("cash".to_string()),
        method => v::one_of(
            &mut errors,
            "payout_method",
            &code_from_label(method, &PAYOUT_METHODS, "payout-"),
            &PAYOUT_METHODS,
        ),
    };
    let payout_account = v::optional_text(&mut errors, "payout_account", &form.payout_account, 64);
    match (resident_members, category, payout_method) {
        (Some(resident_members), Some(category), Some(payout_method)) if errors.is_empty() => {
            Ok(ValidHousehold {
                code,
                head_name,
                resident_members,
                category,
                phone,
                payout_method,
                payout_account,
            })
        }
        _ => Err(errors),
    }
}

fn snapshot(h: &ValidHousehold) -> Value {
    json!({
        "code": h.code, "head_name": h.head_name, "resident_members": h.resident_members,
        "category": h.category, "phone": h.phone, "payout_method": h.payout_method,
        "payout_account": h.payout_account,
    })
}

fn snapshot_of(h: &Household) -> Value {
    json!({
        "code": h.code, "head_name": h.head_name, "resident_members": h.resident_members,
        "category": h.category, "phone": h.phone, "payout_method": h.payout_method,
        "payout_account": h.payout_account, "archived": h.archived,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum HouseholdError {
    #[error("invalid household")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

impl From<FieldErrors> for HouseholdError {
    fn from(e: FieldErrors) -> Self {
        HouseholdError::Invalid(e)
    }
}

fn code_taken(
    conn: &mut DbConn,
    village_id: i64,
    code: &str,
    except: Option<i64>,
) -> Result<(), HouseholdError> {
    match q::by_code(conn, village_id, code)? {
        Some(other) if Some(other.id) != except => {
            Err(FieldErrors::single("code", "invalid-code-taken").into())
        }
        _ => Ok(()),
    }
}

pub fn create(
    conn: &mut DbConn,
    who: &Who,
    village_id: i64,
    form: &HouseholdForm,
    now: NaiveDateTime,
) -> Result<i64, HouseholdError> {
    let valid = validate(form)?;
    write_transaction(conn, |conn| {
        code_taken(conn, village_id, &valid.code, None)?;
        let new = new_household(village_id, &valid, now);
        let id = q::insert(conn, &new)?;
        let change = Change {
            action: "create",
            entity: "household",
            entity_id: id,
            village_id: Some(village_id),
            before: None,
            after: Some(snapshot(&valid)),
        };
        audit::record(conn, who, change, now)?;
        Ok(id)
    })
}

fn new_household(village_id: i64, h: &ValidHousehold, now: NaiveDateTime) -> NewHousehold<'_> {
    NewHousehold {
        village_id,
        code: &h.code,
        head_name: &h.head_name,
        resident_members: h.resident_members,
        category: &h.category,
        phone: h.phone.as_deref(),
        payout_method: &h.payout_method,
        payout_account: h.payout_account.as_deref(),
        archived: false,
        created_at: now,
        updated_at: now,
    }
}

/// Saves an edit of a household the caller has already found in their scope.
pub fn update(
    conn: &mut DbConn,
    who: &Who,
    household: &Household,
    form: &HouseholdForm,
    now: NaiveDateTime,
) -> Result<(), HouseholdError> {
    let valid = validate(form)?;
    if valid.same_as(household) {
        return Ok(());
    }
    write_transaction(conn, |conn| {
        code_taken(conn, household.village_id, &valid.code, Some(household.id))?;
        q::update(conn, household.id, &valid.changes(now))?;
        let change = Change {
            action: "update",
            entity: "household",
            entity_id: household.id,
            village_id: Some(household.village_id),
            before: Some(snapshot_of(household)),
            after: Some(snapshot(&valid)),
        };
        audit::record(conn, who, change, now)?;
        Ok(())
    })
}

/// Archives (or restores) a household: it leaves the lists, its history stays.
pub fn set_archived(
    conn: &mut DbConn,
    who: &Who,
    household: &Household,
    archived: bool,
    now: NaiveDateTime,
) -> diesel::QueryResult<()> {
    if household.archived == archived {
        return Ok(());
    }
    write_transaction(conn, |conn| {
        q::set_archived(conn, household.id, archived, now)?;
        let change = Change {
            action: if archived { "archive" } else { "restore" },
            entity: "household",
            entity_id: household.id,
            village_id: Some(household.village_id),
            before: Some(json!({ "archived": household.archived })),
            after: Some(json!({ "archived": archived })),
        };
        audit::record(conn, who, change, now)
    })
}

pub const PAGE_SIZE: i64 = 50;

pub fn list(
    conn: &mut DbConn,
    filter: &HouseholdFilter,
    page: i64,
) -> diesel::QueryResult<(Vec<Household>, i64)> {
    q::list(conn, filter, (page.max(1) - 1) * PAGE_SIZE, PAGE_SIZE)
}

/// Every household in scope matching the filter, for an export.
pub fn export(conn: &mut DbConn, filter: &HouseholdFilter) -> diesel::QueryResult<Vec<Household>> {
    q::list(conn, filter, 0, i64::MAX / 2).map(|(rows, _)| rows)
}

/// One bad cell of an imported register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// The row as a spreadsheet numbers it (the header is row 1).
    pub row: usize,
    pub column: String,
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the register has problems")]
    Problems(Vec<RowProblem>),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Imports register rows into one village, all or nothing: any bad row means nothing is
/// written and every problem is reported. Rows update the household with the same
/// 户编号, so importing the same file twice creates no duplicates.
pub fn import(
    conn: &mut DbConn,
    who: &Who,
    village_id: i64,
    rows: &[(usize, HouseholdForm)],
    now: NaiveDateTime,
) -> Result<ImportSummary, ImportError> {
    let mut problems = Vec::new();
    let mut valid_rows = Vec::with_capacity(rows.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (row, form) in rows {
        match validate(form) {
            Ok(valid) => {
                if let Some(first) = seen.insert(valid.code.clone(), *row) {
                    problems.push(RowProblem {
                        row: *row,
                        column: "code".into(),
                        key: "invalid-code-repeated",
                        args: vec![("row", first.to_string())],
                    });
                }
                valid_rows.push(valid);
            }
            Err(errors) => problems.extend(errors.0.into_iter().map(|e| RowProblem {
                row: *row,
                column: e.field,
                key: e.key,
                args: e.args,
            })),
        }
    }
    if !problems.is_empty() {
        return Err(ImportError::Problems(problems));
    }
    write_transaction(conn, |conn| {
        let existing: HashMap<String, Household> = q::all_of_village(conn, village_id)?
            .into_iter()
            .map(|h| (h.code.clone(), h))
            .collect();
        let mut summary = ImportSummary::default();
        let mut fresh = Vec::new();
        let mut changes = Vec::new();
        for valid in &valid_rows {
            match existing.get(&valid.code) {
                Some(h) if valid.same_as(h) => summary.unchanged += 1,
                Some(h) => {
                    q::update(conn, h.id, &valid.changes(now))?;
                    changes.push(Change {
                        action: "update",
                        entity: "household",
                        entity_id: h.id,
                        village_id: Some(village_id),
                        before: Some(snapshot_of(h)),
                        after: Some(snapshot(valid)),
                    });
                    summary.updated += 1;
                }
                None => fresh.push(valid),
            }
        }
        let new_rows: Vec<NewHousehold> = fresh
            .iter()
            .map(|h| new_household(village_id, h, now))
            .collect();
        q::insert_many(conn, &new_rows)?;
        summary.created = new_rows.len();
        if !fresh.is_empty() {
            let ids: HashMap<String, i64> = q::all_of_village(conn, village_id)?
                .into_iter()
                .map(|h| (h.code, h.id))
                .collect();
            changes.extend(fresh.iter().map(|h| Change {
                action: "import",
                entity: "household",
                entity_id: ids.get(&h.code).copied().unwrap_or_default(),
                village_id: Some(village_id),
                before: None,
                after: Some(snapshot(h)),
            }));
        }
        audit::record_many(conn, who, changes, now)?;
        Ok(summary)
    })
}
