//! Money is `i64` fen (分) everywhere; this is where it becomes yuan text.

/// `1250` → `¥12.50`, `-5` → `-¥0.05`.
pub fn format_fen(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}¥{}.{:02}", group_thousands(abs / 100), abs % 100)
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
    use super::format_fen;

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
