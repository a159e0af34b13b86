//! What the demo is: the data files under `demo/` at the repository root (places,
//! products, accounts), compiled into the binary and read into typed rows. How they are
//! written to the database is the loader's business (`domain::demo`).
//!
//! A file that does not parse, names a field the rows do not have, or points at a county,
//! village or organisation that is not there is refused with the file's name and the
//! reason, before anything is written.

use std::collections::HashSet;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

use crate::domain::actor::Role;
use crate::states::{HouseholdCategory, MemberRole, PaymentTerms, PayoutMethod};

/// Each embedded file with the name its errors carry.
const PLACES: DemoFile = DemoFile {
    name: "demo/places.toml",
    text: include_str!("../../../demo/places.toml"),
};
const PRODUCTS: DemoFile = DemoFile {
    name: "demo/products.toml",
    text: include_str!("../../../demo/products.toml"),
};
const ACCOUNTS: DemoFile = DemoFile {
    name: "demo/accounts.toml",
    text: include_str!("../../../demo/accounts.toml"),
};

#[derive(Clone, Copy)]
struct DemoFile {
    name: &'static str,
    text: &'static str,
}

/// A demo file that cannot be read as the demo data.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct DataError {
    pub file: &'static str,
    pub message: String,
}

/// The whole demo, in the order it is loaded.
#[derive(Debug)]
pub struct DemoData {
    /// In the order the storefront lists them.
    pub counties: Vec<County>,
    pub villages: Vec<Village>,
    pub products: Vec<Product>,
    /// The canteen organisation (食堂单位) the canteen account buys for.
    pub organization: Organization,
    pub accounts: Vec<Account>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct County {
    pub slug: String,
    pub name_zh: String,
    pub name_en: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Village {
    /// The county's slug.
    pub county: String,
    pub slug: String,
    pub name_zh: String,
    pub name_en: String,
    pub story_zh: String,
    pub story_en: String,
    pub households: Vec<Household>,
}

/// One 户 of a village.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Household {
    /// 户编号, unique within the village.
    pub code: String,
    pub head_name: String,
    pub resident_members: i32,
    pub category: HouseholdCategory,
    pub payout_method: PayoutMethod,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// The village's slug.
    pub village: String,
    pub slug: String,
    pub name_zh: String,
    pub name_en: String,
    pub description_zh: String,
    pub description_en: String,
    pub category: String,
    pub sale_unit_zh: String,
    pub sale_unit_en: String,
    pub unit_price_fen: i64,
    /// Units on hand, received as lots from the village's households.
    pub stock: i32,
    pub max_per_order: Option<i32>,
    /// A canteen's least order and step (起订量, 递增量); 1 when not given.
    #[serde(default = "one")]
    pub canteen_min_quantity: i32,
    #[serde(default = "one")]
    pub canteen_step: i32,
    /// The months it is sold in; none: all year.
    #[serde(default)]
    pub season_months: Vec<u32>,
    /// For 统购 goods, what the collective paid the household per unit.
    pub purchase_price_fen: Option<i64>,
    #[serde(default)]
    pub featured: bool,
    #[serde(default)]
    pub tiers: Vec<Tier>,
}

/// A volume price: from `min_quantity` units, `unit_price_fen` each.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub min_quantity: i32,
    pub unit_price_fen: i64,
    #[serde(default)]
    pub canteen_only: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    pub name: String,
    pub invoice_title: String,
    pub tax_id: String,
    pub address: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub payment_terms_days: i32,
    pub annual_target_fen: i64,
    pub invoice_bank: String,
    pub invoice_account: String,
    pub invoice_address_phone: String,
    pub payment_terms: PaymentTerms,
    pub credit_limit_fen: i64,
    pub approval_threshold_fen: Option<i64>,
    /// 职工码: what its staff enter at checkout to count towards its target.
    pub staff_code: String,
    /// Its delivery sites (食堂).
    #[serde(default)]
    pub site: Vec<Site>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub name: String,
    pub address: String,
    pub receiver: String,
    pub phone: String,
    pub delivery_window: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub email: String,
    pub display_name: String,
    #[serde(deserialize_with = "role")]
    pub role: Role,
    /// A team member's villages, by slug.
    #[serde(default)]
    pub villages: Vec<String>,
    /// A canteen member's organisation, by name.
    pub organization: Option<String>,
    /// A canteen member's role in it (buyer when not given).
    pub member_role: Option<MemberRole>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlacesFile {
    county: Vec<County>,
    village: Vec<Village>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductsFile {
    product: Vec<Product>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountsFile {
    organization: Organization,
    account: Vec<Account>,
}

fn role<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Role, D::Error> {
    let name = String::deserialize(deserializer)?;
    Role::parse(&name).ok_or_else(|| {
        D::Error::custom(format!(
            "unknown role {name:?}: use admin, team, canteen or cadre"
        ))
    })
}

fn parse<T: DeserializeOwned>(file: DemoFile) -> Result<T, DataError> {
    toml::from_str(file.text).map_err(|e| DataError {
        file: file.name,
        message: e.to_string(),
    })
}

impl DemoData {
    /// The demo as compiled into this binary.
    pub fn embedded() -> Result<DemoData, DataError> {
        DemoData::from_files(PLACES, PRODUCTS, ACCOUNTS)
    }

    fn from_files(
        places: DemoFile,
        products: DemoFile,
        accounts: DemoFile,
    ) -> Result<DemoData, DataError> {
        let PlacesFile { county, village } = parse(places)?;
        let ProductsFile { product } = parse(products)?;
        let AccountsFile {
            organization,
            account,
        } = parse(accounts)?;
        let data = DemoData {
            counties: county,
            villages: village,
            products: product,
            organization,
            accounts: account,
        };
        data.check_places().map_err(|message| DataError {
            file: places.name,
            message,
        })?;
        data.check_products().map_err(|message| DataError {
            file: products.name,
            message,
        })?;
        data.check_accounts().map_err(|message| DataError {
            file: accounts.name,
            message,
        })?;
        Ok(data)
    }

    fn check_places(&self) -> Result<(), String> {
        unique("county", self.counties.iter().map(|c| c.slug.as_str()))?;
        unique("village", self.villages.iter().map(|v| v.slug.as_str()))?;
        let counties: HashSet<&str> = self.counties.iter().map(|c| c.slug.as_str()).collect();
        for v in &self.villages {
            if !counties.contains(v.county.as_str()) {
                return Err(format!("village {}: no county {:?}", v.slug, v.county));
            }
            unique(
                &format!("{}: household", v.slug),
                v.households.iter().map(|h| h.code.as_str()),
            )?;
        }
        Ok(())
    }

    fn check_products(&self) -> Result<(), String> {
        let villages = self.village_slugs();
        for p in &self.products {
            if !villages.contains(p.village.as_str()) {
                return Err(format!("product {}: no village {:?}", p.slug, p.village));
            }
            if let Some(month) = p.season_months.iter().find(|m| !(1..=12).contains(*m)) {
                return Err(format!("product {}: no month {month}", p.slug));
            }
        }
        for v in &villages {
            let slugs = self.products.iter().filter(|p| p.village == *v);
            unique(&format!("{v}: product"), slugs.map(|p| p.slug.as_str()))?;
        }
        Ok(())
    }

    fn check_accounts(&self) -> Result<(), String> {
        unique("account", self.accounts.iter().map(|a| a.email.as_str()))?;
        let villages = self.village_slugs();
        for a in &self.accounts {
            if let Some(v) = a.villages.iter().find(|v| !villages.contains(v.as_str())) {
                return Err(format!("account {}: no village {v:?}", a.email));
            }
            let named = a.organization.as_ref();
            if let Some(o) = named.filter(|o| **o != self.organization.name) {
                return Err(format!("account {}: no organisation {o:?}", a.email));
            }
        }
        Ok(())
    }

    fn village_slugs(&self) -> HashSet<&str> {
        self.villages.iter().map(|v| v.slug.as_str()).collect()
    }
}

/// A slug or code given twice would be loaded once and the second silently dropped.
fn unique<'a>(what: &str, keys: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let mut seen = HashSet::new();
    for key in keys {
        if !seen.insert(key) {
            return Err(format!("{what} {key:?} is given twice"));
        }
    }
    Ok(())
}

/// What a canteen's minimum and step are when the data leaves them out.
fn one() -> i32 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every embedded file parses and holds the demo the tests and the docs promise.
    #[test]
    fn every_embedded_demo_file_parses() {
        let data = DemoData::embedded().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(data.counties.len(), 9);
        assert_eq!(data.villages.len(), 9);
        let households: usize = data.villages.iter().map(|v| v.households.len()).sum();
        assert_eq!(households, 36);
        assert_eq!(data.products.len(), 30);
        let roles: Vec<&str> = data.accounts.iter().map(|a| a.role.as_str()).collect();
        assert_eq!(roles, ["admin", "team", "canteen", "canteen", "cadre"]);
        assert_eq!(data.organization.site.len(), 2);
    }

    fn with(file: DemoFile, from: &str, to: &str) -> DemoFile {
        assert!(file.text.contains(from), "{from:?} is not in {}", file.name);
        let text = file.text.replacen(from, to, 1);
        DemoFile {
            name: file.name,
            text: Box::leak(text.into_boxed_str()),
        }
    }

    fn refused(places: DemoFile, products: DemoFile, accounts: DemoFile) -> DataError {
        match DemoData::from_files(places, products, accounts) {
            Ok(_) => panic!("a broken demo file was accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_typo_is_refused_with_the_file_and_the_reason() {
        let e = refused(
            with(PLACES, "head_name =", "head_nmae ="),
            PRODUCTS,
            ACCOUNTS,
        );
        assert_eq!(e.file, "demo/places.toml");
        assert!(e.message.contains("unknown field `head_nmae`"), "{e}");
        assert!(e.message.contains("line "), "the line is named: {e}");

        let e = refused(
            PLACES,
            with(PRODUCTS, "stock = 300", "stock = \"300\""),
            ACCOUNTS,
        );
        assert_eq!(e.file, "demo/products.toml");
        assert!(e.message.contains("invalid type"), "{e}");

        let e = refused(
            PLACES,
            PRODUCTS,
            with(ACCOUNTS, "role = \"cadre\"", "role = \"mayor\""),
        );
        assert!(e.to_string().starts_with("demo/accounts.toml: "), "{e}");
        assert!(e.message.contains("unknown role \"mayor\""), "{e}");

        let e = refused(
            PLACES,
            with(PRODUCTS, "[[product]]", "[[product]"),
            ACCOUNTS,
        );
        assert_eq!(e.file, "demo/products.toml");
    }

    #[test]
    fn a_reference_to_nothing_is_refused() {
        let e = refused(
            with(PLACES, "county = \"zuoyun\"", "county = \"zuoyu\""),
            PRODUCTS,
            ACCOUNTS,
        );
        assert_eq!(
            (e.file, e.message.as_str()),
            ("demo/places.toml", "village santaizi: no county \"zuoyu\"")
        );

        let e = refused(
            PLACES,
            with(PRODUCTS, "village = \"taer\"", "village = \"ta-er\""),
            ACCOUNTS,
        );
        assert_eq!(e.message, "product kaite-xing: no village \"ta-er\"");

        let e = refused(
            PLACES,
            with(
                PRODUCTS,
                "season_months = [6, 7]",
                "season_months = [6, 13]",
            ),
            ACCOUNTS,
        );
        assert_eq!(e.message, "product xiangbai-xing: no month 13");

        let e = refused(
            PLACES,
            with(PRODUCTS, "slug = \"xingren\"", "slug = \"xiaomi\""),
            ACCOUNTS,
        );
        assert_eq!(e.message, "xiedian: product \"xiaomi\" is given twice");

        let e = refused(
            PLACES,
            PRODUCTS,
            with(ACCOUNTS, "organization = \"大同", "organization = \"太原"),
        );
        assert_eq!(e.file, "demo/accounts.toml");
        assert!(
            e.message
                .starts_with("account canteen@example.com: no organisation"),
            "{e}"
        );
    }
}
