//! Checking what people type. Every problem names its field and a message key from
//! `locales/`, so a form can be shown again with each message next to its field and
//! an import can list every bad cell; nothing is written while any problem remains.

use chrono::NaiveDate;

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    /// A fluent key under `invalid-…`.
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

/// All the problems found in one form or one imported row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, key: &'static str) {
        self.add_with(field, key, Vec::new());
    }

    pub fn add_with(&mut self, field: &str, key: &'static str, args: Vec<(&'static str, String)>) {
        self.0.push(FieldError {
            field: field.to_string(),
            key,
            args,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    /// `Ok(value)` when nothing was wrong.
    pub fn finish<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    pub fn single(field: &str, key: &'static str) -> FieldErrors {
        let mut errors = FieldErrors::default();
        errors.add(field, key);
        errors
    }
}

impl std::fmt::Display for FieldErrors {
    /// The fields and message keys, for logs; people read the localised messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.key))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Text that must be there, trimmed, at most `max` characters.
pub fn required_text(errors: &mut FieldErrors, field: &str, value: &str, max: usize) -> String {
    let value = value.trim();
    if value.is_empty() {
        errors.add(field, "invalid-required");
    } else if value.chars().count() > max {
        errors.add_with(field, "invalid-too-long", vec![("max", max.to_string())]);
    }
    value.to_string()
}

/// Text that may be left empty (`None`), at most `max` characters.
pub fn optional_text(
    errors: &mut FieldErrors,
    field: &str,
    value: &str,
    max: usize,
) -> Option<String> {
    let value = value.trim();
    if value.chars().count() > max {
        errors.add_with(field, "invalid-too-long", vec![("max", max.to_string())]);
    }
    (!value.is_empty()).then(|| value.to_string())
}

/// A whole number from `min` to `max`: quantities are whole sale units.
pub fn whole_number(
    errors: &mut FieldErrors,
    field: &str,
    value: &str,
    min: i32,
    max: i32,
) -> Option<i32> {
    let value = value.trim();
    if value.is_empty() {
        errors.add(field, "invalid-required");
        return None;
    }
    let parsed = value
        .parse::<i64>()
        .ok()
        .and_then(|n| i32::try_from(n).ok());
    match parsed {
        Some(n) if (min..=max).contains(&n) => Some(n),
        _ if value.parse::<i128>().is_err() => {
            errors.add(field, "invalid-whole-number");
            None
        }
        _ => {
            errors.add_with(
                field,
                "invalid-range",
                vec![("min", min.to_string()), ("max", max.to_string())],
            );
            None
        }
    }
}

/// The most any single price may be: ¥1,000,000.00.
pub const MAX_PRICE_FEN: i64 = 100_000_000;

/// A price typed in yuan (`12`, `12.5`, `12.50`, `¥12.50`) as fen; more than two
/// decimals, a negative or a zero price is refused rather than rounded.
pub fn price_yuan(errors: &mut FieldErrors, field: &str, value: &str) -> Option<i64> {
    let value = value
        .trim()
        .trim_start_matches(['¥', '￥'])
        .trim()
        .replace(',', "");
    if value.is_empty() {
        errors.add(field, "invalid-required");
        return None;
    }
    let (whole, frac) = value.split_once('.').unwrap_or((&value, ""));
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || !(frac.is_empty() || digits(frac)) {
        errors.add(field, "invalid-price");
        return None;
    }
    if frac.len() > 2 {
        errors.add(field, "invalid-price-decimals");
        return None;
    }
    let yuan: i64 = match whole.parse() {
        Ok(y) if y <= MAX_PRICE_FEN / 100 => y,
        _ => {
            errors.add(field, "invalid-price-too-high");
            return None;
        }
    };
    let fen = yuan * 100 + format!("{frac:0<2}").parse::<i64>().unwrap_or(0);
    if fen <= 0 {
        errors.add(field, "invalid-price-zero");
        return None;
    }
    if fen > MAX_PRICE_FEN {
        errors.add(field, "invalid-price-too-high");
        return None;
    }
    Some(fen)
}

/// A mainland China mobile number: 11 digits starting 13–19. Spaces, dashes and a
/// leading +86 are accepted and dropped.
pub fn mobile_phone(errors: &mut FieldErrors, field: &str, value: &str) -> Option<String> {
    let compact: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let compact = compact
        .strip_prefix("+86")
        .or_else(|| compact.strip_prefix("0086"))
        .unwrap_or(&compact);
    if compact.is_empty() {
        return None;
    }
    let bytes = compact.as_bytes();
    let valid = bytes.len() == 11
        && bytes[0] == b'1'
        && (b'3'..=b'9').contains(&bytes[1])
        && bytes.iter().all(u8::is_ascii_digit);
    if valid {
        Some(compact.to_string())
    } else {
        errors.add(field, "invalid-phone");
        None
    }
}

/// An email address the shop can send to, trimmed: `None` when left empty. It is read
/// with the mail library's own parsers (lettre's `Address`, and the `Mailbox` the
/// outbox builds each message with), so an address accepted here is one the outbox can
/// address; its domain must also have a dot, as every address on the public internet
/// does (`a@b` reaches nobody).
pub fn email(errors: &mut FieldErrors, field: &str, value: &str, max: usize) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.chars().count() > max {
        errors.add_with(field, "invalid-too-long", vec![("max", max.to_string())]);
        return None;
    }
    let address = value.parse::<lettre::Address>().ok();
    let mailbox = value.parse::<lettre::message::Mailbox>().ok();
    let sendable = match (&address, &mailbox) {
        (Some(address), Some(mailbox)) => {
            let domain = address.domain();
            mailbox.email == *address
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }
        _ => false,
    };
    if sendable {
        Some(value.to_string())
    } else {
        errors.add(field, "invalid-email");
        None
    }
}

/// A calendar date as `YYYY-MM-DD` (also `YYYY/MM/DD`, as spreadsheets write it).
pub fn date(errors: &mut FieldErrors, field: &str, value: &str) -> Option<NaiveDate> {
    let value = value.trim();
    if value.is_empty() {
        errors.add(field, "invalid-required");
        return None;
    }
    let parsed = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(value, "%Y/%m/%d"));
    match parsed {
        Ok(d) => Some(d),
        Err(_) => {
            errors.add(field, "invalid-date");
            None
        }
    }
}

/// One of the allowed codes.
pub fn one_of(
    errors: &mut FieldErrors,
    field: &str,
    value: &str,
    allowed: &[&str],
) -> Option<String> {
    let value = value.trim();
    if allowed.contains(&value) {
        Some(value.to_string())
    } else {
        errors.add(
            field,
            if value.is_empty() {
                "invalid-required"
            } else {
                "invalid-choice"
            },
        );
        None
    }
}

/// One of a typed state's values (`SupplyMode::parse`…), by its stored spelling.
pub fn state<T>(
    errors: &mut FieldErrors,
    field: &str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    let value = value.trim();
    let parsed = parse(value);
    if parsed.is_none() {
        let key = if value.is_empty() {
            "invalid-required"
        } else {
            "invalid-choice"
        };
        errors.add(field, key);
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(s: &str) -> Result<i64, &'static str> {
        let mut e = FieldErrors::default();
        price_yuan(&mut e, "price", s).ok_or_else(|| e.0[0].key)
    }

    #[test]
    fn prices_are_read_in_yuan_and_never_rounded() {
        assert_eq!(price("12"), Ok(1200));
        assert_eq!(price("12.5"), Ok(1250));
        assert_eq!(price("¥12.05"), Ok(1205));
        assert_eq!(price("1,234.00"), Ok(123_400));
        assert_eq!(price("12.345"), Err("invalid-price-decimals"));
        assert_eq!(price("-1"), Err("invalid-price"));
        assert_eq!(price("0.00"), Err("invalid-price-zero"));
        assert_eq!(price("1e3"), Err("invalid-price"));
        assert_eq!(price("99999999999999999999"), Err("invalid-price-too-high"));
        assert_eq!(price(""), Err("invalid-required"));
    }

    #[test]
    fn emails_are_what_the_mail_library_can_address() {
        let check = |s: &str| {
            let mut e = FieldErrors::default();
            let value = email(&mut e, "email", s, 120);
            e.0.first().map_or(Ok(value), |e| Err(e.key))
        };
        assert_eq!(
            check(" buyer@example.com "),
            Ok(Some("buyer@example.com".into()))
        );
        assert_eq!(
            check("Li.Na+shop@mail.example.cn"),
            Ok(Some("Li.Na+shop@mail.example.cn".into()))
        );
        assert_eq!(check(""), Ok(None));
        for bad in [
            "a@b",
            "a@b@example.com",
            "a..b@example.com",
            ".a@example.com",
            "a@example..com",
            "a@-example.com",
            "a@exa mple.com",
            "a b@example.com",
            "<a@example.com>",
            "Name <a@example.com>",
            "a@example.com.",
            "@example.com",
            "a@",
            "a(b)@example.com",
            "a@example.com\r\nBcc: x@example.com",
        ] {
            assert_eq!(check(bad), Err("invalid-email"), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(120));
        assert_eq!(check(&long), Err("invalid-too-long"));
    }

    #[test]
    fn quantities_are_whole_and_in_range() {
        let check = |s: &str| {
            let mut e = FieldErrors::default();
            whole_number(&mut e, "q", s, 1, 1000).ok_or_else(|| e.0[0].key)
        };
        assert_eq!(check("5"), Ok(5));
        assert_eq!(check("1.5"), Err("invalid-whole-number"));
        assert_eq!(check("-3"), Err("invalid-range"));
        assert_eq!(check("0"), Err("invalid-range"));
        assert_eq!(check("99999999999999999999999"), Err("invalid-range"));
        assert_eq!(check("abc"), Err("invalid-whole-number"));
    }

    #[test]
    fn mobile_numbers_are_mainland_mobiles() {
        let check = |s: &str| {
            let mut e = FieldErrors::default();
            (mobile_phone(&mut e, "phone", s), e.is_empty())
        };
        assert_eq!(check("138 0352 0101"), (Some("13803520101".into()), true));
        assert_eq!(check("+86 19912345678"), (Some("19912345678".into()), true));
        assert_eq!(check("12345678901"), (None, false));
        assert_eq!(check("0352-1234567"), (None, false));
        assert_eq!(check(""), (None, true));
    }
}
