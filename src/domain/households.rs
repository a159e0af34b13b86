//! Households (农户): the village register a work team keeps — who they are, how many
//! live there (常住人口, the per-capita divisor), their category, and how they are paid.
//! Households are archived, never deleted: stock and money point at them.

use std::collections::HashMap;
use std::fmt::Display;

use chrono::NaiveDateTime;
use serde_json::{Value, json};

use crate::db::households::{self as q, HouseholdChanges, HouseholdFilter, NewHousehold};
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::{TeamScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::team;
use crate::domain::validation::{self as v, FieldErrors};
use crate::i18n::Lang;
use crate::states::{HouseholdCategory, PayoutMethod};

pub use crate::db::households::Household;
pub use crate::domain::team::Village;

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

impl HouseholdForm {
    /// The form filled in from a saved household, for editing.
    pub fn of(h: &Household) -> HouseholdForm {
        HouseholdForm {
            code: h.code.clone(),
            head_name: h.head_name.clone(),
            resident_members: h.resident_members.to_string(),
            category: h.category.as_str().to_string(),
            phone: h.phone.clone().unwrap_or_default(),
            payout_method: h.payout_method.as_str().to_string(),
            payout_account: h.payout_account.clone().unwrap_or_default(),
        }
    }

    /// A blank form for a new household: 一般户, paid by bank.
    pub fn new_household() -> HouseholdForm {
        HouseholdForm {
            payout_method: PayoutMethod::Bank.as_str().to_string(),
            category: HouseholdCategory::Yiban.as_str().to_string(),
            ..Default::default()
        }
    }
}

/// A household that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidHousehold {
    pub code: String,
    pub head_name: String,
    pub resident_members: i32,
    pub category: HouseholdCategory,
    pub phone: Option<String>,
    pub payout_method: PayoutMethod,
    pub payout_account: Option<String>,
}

impl ValidHousehold {
    fn changes(&self, now: NaiveDateTime) -> HouseholdChanges<'_> {
        HouseholdChanges {
            code: &self.code,
            head_name: &self.head_name,
            resident_members: self.resident_members,
            category: self.category,
            phone: self.phone.as_deref(),
            payout_method: self.payout_method,
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

/// Reads a category or payout method as its code (`tuopin`) or as its label in either
/// language (`脱贫户`), the way registers write it; anything else is left as typed.
fn code_from_label<T: Copy + Display>(value: &str, all: &[T], key_prefix: &str) -> String {
    let value = value.trim();
    for code in all {
        let code = code.to_string();
        if value.eq_ignore_ascii_case(&code)
            || Lang::ALL.iter().any(|lang| {
                lang.t(&format!("{key_prefix}{code}"))
                    .eq_ignore_ascii_case(value)
            })
        {
            return code;
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
    let category = code_from_label(
        &form.category,
        HouseholdCategory::ALL,
        "category-household-",
    );
    let category = v::state(&mut errors, "category", &category, HouseholdCategory::parse);
    let phone = v::mobile_phone(&mut errors, "phone", &form.phone);
    let payout_method = match form.payout_method.trim() {
        "" => Some(PayoutMethod::Cash),
        method => v::state(
            &mut errors,
            "payout_method",
            &code_from_label(method, PayoutMethod::ALL, "payout-"),
            PayoutMethod::parse,
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

fn code_taken(
    conn: &mut DbConn,
    village_id: i64,
    code: &str,
    except: Option<i64>,
) -> DomainResult<()> {
    match q::by_code(conn, village_id, code)? {
        Some(other) if Some(other.id) != except => {
            Err(DomainError::invalid("code", "invalid-code-taken"))
        }
        _ => Ok(()),
    }
}

/// A household of the member's villages, or `NotFound`.
fn in_scope(conn: &mut DbConn, scope: &TeamScope, id: i64) -> DomainResult<Household> {
    q::in_villages(conn, scope.village_ids(), id)?.ok_or(DomainError::NotFound)
}

/// The village a form names, if it is one of the member's.
/// A village of the member's, as a form sent its id.
pub fn village_in_scope(scope: &TeamScope, village_id: &str) -> Option<i64> {
    village_id
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|id| scope.covers(*id))
}

/// Registers a household in one of the member's villages (`village_id` as the form
/// sent it). Another village is refused like any wrong choice, before anything else.
pub fn create(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    village_id: &str,
    form: &HouseholdForm,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    let village_id = village_in_scope(scope, village_id)
        .ok_or_else(|| DomainError::invalid("village_id", "invalid-choice"))?;
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
        category: h.category,
        phone: h.phone.as_deref(),
        payout_method: h.payout_method,
        payout_account: h.payout_account.as_deref(),
        archived: false,
        created_at: now,
        updated_at: now,
    }
}

/// A household of the member's villages as its edit form shows it, with the villages.
pub struct HouseholdEdit {
    pub household: Household,
    pub villages: Vec<Village>,
}

pub fn edit(conn: &mut DbConn, scope: &TeamScope, id: i64) -> DomainResult<HouseholdEdit> {
    Ok(HouseholdEdit {
        household: in_scope(conn, scope, id)?,
        villages: team::villages(conn, scope)?,
    })
}

/// Saves an edit of a household of the member's villages.
pub fn update(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    id: i64,
    form: &HouseholdForm,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let household = in_scope(conn, scope, id)?;
    let valid = validate(form)?;
    if valid.same_as(&household) {
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
            before: Some(snapshot_of(&household)),
            after: Some(snapshot(&valid)),
        };
        audit::record(conn, who, change, now)?;
        Ok(())
    })
}

/// Archives (`"1"`) or restores (`"0"`) a household of the member's villages: it leaves
/// the lists, its history stays. The flag is checked once the household is found, so
/// that another village's household answers `NotFound` whatever was sent.
pub fn set_archived(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    id: i64,
    archived: &str,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let household = in_scope(conn, scope, id)?;
    let archived = match archived.trim() {
        "1" => true,
        "0" => false,
        _ => return Err(DomainError::invalid("archived", "invalid-choice")),
    };
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
        audit::record(conn, who, change, now)?;
        Ok(())
    })
}

pub const PAGE_SIZE: i64 = 50;

/// What a register list is asked for: a search over code, name and phone, a category
/// (as its code; empty for any) and whether archived households are shown instead.
#[derive(Debug, Clone, Copy)]
pub struct Search<'a> {
    pub query: &'a str,
    pub category: &'a str,
    pub archived: bool,
}

impl Search<'_> {
    /// The database filter within the member's villages; `None` when the category is
    /// no category at all, which no household matches.
    fn filter<'a>(&'a self, scope: &'a TeamScope) -> Option<HouseholdFilter<'a>> {
        let category = match self.category {
            "" => None,
            code => Some(HouseholdCategory::parse(code)?),
        };
        Some(HouseholdFilter {
            village_ids: scope.village_ids(),
            query: self.query.trim(),
            category,
            archived: self.archived,
        })
    }
}

/// A page of the register: households of the member's villages matching the search,
/// how many match in all, and the villages to name them by.
pub struct RegisterPage {
    pub households: Vec<Household>,
    pub total: i64,
    pub villages: Vec<Village>,
}

/// The longest register search: three LIKE patterns of it stay far inside what SQLite
/// accepts (a 60 kB one is "too complex").
pub const MAX_SEARCH_CHARS: usize = 100;

pub fn list(
    conn: &mut DbConn,
    scope: &TeamScope,
    search: &Search,
    page: i64,
) -> DomainResult<RegisterPage> {
    if search.query.trim().chars().count() > MAX_SEARCH_CHARS {
        let mut errors = FieldErrors::default();
        let max = MAX_SEARCH_CHARS.to_string();
        errors.add_with("q", "invalid-too-long", vec![("max", max)]);
        return Err(errors.into());
    }
    let (households, total) = match search.filter(scope) {
        Some(filter) => q::list(conn, &filter, (page.max(1) - 1) * PAGE_SIZE, PAGE_SIZE)?,
        None => (Vec::new(), 0),
    };
    Ok(RegisterPage {
        households,
        total,
        villages: team::villages(conn, scope)?,
    })
}

/// Every household of the member's villages matching the search, for an export.
pub fn export(
    conn: &mut DbConn,
    scope: &TeamScope,
    search: &Search,
) -> DomainResult<Vec<Household>> {
    match search.filter(scope) {
        Some(filter) => Ok(q::list(conn, &filter, 0, i64::MAX / 2)?.0),
        None => Ok(Vec::new()),
    }
}

/// One bad cell of an imported register.
pub use crate::domain::spreadsheet::RowProblem;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// What an import did: every row written, or — the file unreadable or any row bad —
/// nothing written and every problem named, for the import page to list.
#[derive(Debug, PartialEq, Eq)]
pub enum ImportOutcome {
    Imported(ImportSummary),
    Refused(Vec<RowProblem>),
}

/// The import page after an import: what it did, and the member's villages for the next.
pub struct ImportPage {
    pub outcome: ImportOutcome,
    pub villages: Vec<Village>,
}

/// The page after an import: what happened, and the member's villages for the form.
pub fn import_page(
    conn: &mut DbConn,
    scope: &TeamScope,
    outcome: ImportOutcome,
) -> DomainResult<ImportPage> {
    Ok(ImportPage {
        outcome,
        villages: team::villages(conn, scope)?,
    })
}

/// Imports the rows read from a register file into one of the member's villages, all
/// or nothing: any bad row means nothing is written and every problem is reported. Rows
/// update the household with the same 户编号, so importing the same file twice creates
/// no duplicates. (`register::import` checks the village and reads the file.)
pub fn import_rows(
    conn: &mut DbConn,
    who: &Who,
    village_id: i64,
    rows: &[(usize, HouseholdForm)],
    now: NaiveDateTime,
) -> DomainResult<ImportOutcome> {
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
        return Ok(ImportOutcome::Refused(problems));
    }
    let summary = write_transaction(conn, |conn| -> DomainResult<ImportSummary> {
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
    })?;
    Ok(ImportOutcome::Imported(summary))
}
