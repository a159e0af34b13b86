//! Village registers as teams already keep them: CSV (UTF-8, or GBK as Excel in China
//! saves it) and XLSX, with column headers in Chinese or English, read into household
//! rows (through `spreadsheet`); and the columns of the household list written back out
//! (the files themselves are written by `web::download`, which quotes formula-like text
//! the way `spreadsheet::read` undoes).

use chrono::NaiveDateTime;

use crate::db::DbConn;
use crate::db::households::Household;
use crate::domain::actor::{TeamScope, Who};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::households::{self, HouseholdForm, ImportOutcome, ImportPage};
use crate::domain::spreadsheet::{self, Limits, Unreadable};
use crate::i18n::Lang;

/// The columns of a register, each with the headers it may have.
const COLUMNS: &spreadsheet::Columns = &[
    (
        "code",
        &[
            "户编号",
            "户号",
            "编号",
            "code",
            "household code",
            "household_code",
        ],
        true,
    ),
    (
        "head_name",
        &[
            "户主姓名",
            "户主",
            "姓名",
            "head",
            "head name",
            "head_name",
            "head of household",
        ],
        true,
    ),
    (
        "resident_members",
        &[
            "常住人口",
            "人口",
            "家庭人口",
            "resident members",
            "resident_members",
            "residents",
        ],
        true,
    ),
    ("category", &["类别", "户类别", "户类型", "category"], true),
    (
        "phone",
        &["电话", "手机", "手机号", "联系电话", "phone", "mobile"],
        false,
    ),
    (
        "payout_method",
        &["收款方式", "结算方式", "payout method", "payout_method"],
        false,
    ),
    (
        "payout_account",
        &[
            "收款账号",
            "账号",
            "银行卡号",
            "payout account",
            "payout_account",
            "account",
        ],
        false,
    ),
];

/// The register's real limits: at most 20,000 households below one header row, in at
/// most 50 columns (A to AX).
pub const MAX_HOUSEHOLDS: usize = 20_000;
const LIMITS: Limits = Limits {
    rows: MAX_HOUSEHOLDS + 1,
    columns: 50,
};

/// Imports a register file (CSV or XLSX), already read by `read`, into one of the
/// member's villages, all or nothing (see `households::import_rows`); a file that could
/// not be read at all is refused with its problems and nothing is written. Another
/// village is refused by name whatever the file held.
pub fn import(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    village_id: &str,
    register: Result<Vec<(usize, HouseholdForm)>, Unreadable>,
    now: NaiveDateTime,
) -> DomainResult<ImportPage> {
    let village_id = households::village_in_scope(scope, village_id)
        .ok_or_else(|| DomainError::invalid("village_id", "invalid-choice"))?;
    let outcome = match register {
        Ok(rows) => households::import_rows(conn, who, village_id, &rows, now)?,
        Err(Unreadable(problems)) => ImportOutcome::Refused(problems),
    };
    households::import_page(conn, scope, outcome)
}

/// Reads a register (see `spreadsheet::read`) into household forms.
pub fn read(bytes: &[u8]) -> Result<Vec<(usize, HouseholdForm)>, Unreadable> {
    let rows = spreadsheet::read(bytes, COLUMNS, LIMITS)?;
    Ok(rows
        .into_iter()
        .map(|(row, cells)| {
            let mut cells = cells.into_iter();
            let mut next = || cells.next().unwrap_or_default();
            let form = HouseholdForm {
                code: next(),
                head_name: next(),
                resident_members: next(),
                category: next(),
                phone: next(),
                payout_method: next(),
                payout_account: next(),
            };
            (row, form)
        })
        .collect())
}

/// The header row of an export, in `lang`; `read` accepts it back.
pub fn export_header(lang: Lang) -> Vec<String> {
    [
        "code",
        "head_name",
        "resident_members",
        "category",
        "phone",
        "payout_method",
        "payout_account",
    ]
    .iter()
    .map(|f| lang.t(&format!("household-{}", f.replace('_', "-"))))
    .collect()
}

/// A household's row of an export, under `export_header`: every cell as the text a
/// person typed or reads, which `read` takes back.
pub fn export_row(lang: Lang, h: &Household) -> Vec<String> {
    vec![
        h.code.clone(),
        h.head_name.clone(),
        h.resident_members.to_string(),
        lang.t(&format!("category-household-{}", h.category)),
        h.phone.clone().unwrap_or_default(),
        lang.t(&format!("payout-{}", h.payout_method)),
        h.payout_account.clone().unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::read;

    #[test]
    fn a_quoted_csv_register_reads_as_typed() {
        let csv = "户编号,户主姓名,常住人口,类别,收款账号\nXD-9,'=1+2,2,一般户,'-6222\nXD-8,' '-1',1,一般户,\n";
        let rows = read(csv.as_bytes()).expect("a readable register");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].1.head_name, "=1+2");
        assert_eq!(rows[0].1.payout_account, "-6222");
        assert_eq!(
            rows[1].1.head_name, "' '-1'",
            "a quote before a space is text"
        );
    }
}
