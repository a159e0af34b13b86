//! Money is `i64` fen (分) everywhere; this is where it becomes yuan text.

/// `part` of `whole` in tenths of a percent, capped at 100 % (0 without a whole): a
/// progress bar's fill.
pub fn per_mille(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    (i128::from(part) * 1000 / i128::from(whole)).clamp(0, 1000) as i64
}

/// `1250` → `¥12.50`, `-5` → `-¥0.05`.
pub fn format_fen(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}¥{}.{:02}", group_thousands(abs / 100), abs % 100)
}

/// `1250` → `12.50`, `-5` → `-0.05`: yuan for a spreadsheet cell, no symbol or commas.
pub fn format_yuan_plain(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// A mobile number as reports show it: `13812341234` → `138****1234`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{format_fen, format_yuan_plain, mask_phone};

    #[test]
    fn plain_yuan_and_masked_phones() {
        assert_eq!(format_yuan_plain(1_234_550), "12345.50");
        assert_eq!(format_yuan_plain(-5), "-0.05");
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("123"), "***");
    }

    #[test]
    fn formats_fen_as_yuan() {
        assert_eq!(format_fen(0), "¥0.00");
        assert_eq!(format_fen(5), "¥0.05");
        assert_eq!(format_fen(1250), "¥12.50");
        assert_eq!(format_fen(123_456_789), "¥1,234,567.89");
        assert_eq!(format_fen(-5), "-¥0.05");
        assert_eq!(format_fen(i64::MIN), "-¥92,233,720,368,547,758.08");
    }
}
