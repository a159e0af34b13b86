//! Charts drawn as inline SVG, so that a report page needs no script: the monthly bars
//! of household and collective income. Text in them goes through the pages' escaper.

use handlebars::html_escape;

use crate::domain::money::format_fen;
use crate::domain::reports::{MonthIncome, Months};

/// Household income and the collective's, stacked, one bar a month; `labels` name the
/// two in the legend.
pub fn income_bars(all: &[MonthIncome], labels: (&str, &str)) -> String {
    let max = all
        .iter()
        .map(|m| (m.household_fen + m.collective_fen).max(0))
        .max()
        .unwrap_or(0)
        .max(1);
    let (width, height, left, bottom) = (640.0_f64, 240.0_f64, 8.0_f64, 28.0_f64);
    let step = (width - left) / all.len().max(1) as f64;
    let bar = (step * 0.7).max(2.0);
    let scale = |fen: i64| (fen.max(0) as f64) / (max as f64) * (height - bottom - 16.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" role=\"img\" class=\"chart\">"
    );
    for (i, m) in all.iter().enumerate() {
        let x = left + step * i as f64;
        let (hh, ch) = (scale(m.household_fen), scale(m.collective_fen));
        let base = height - bottom;
        svg.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{hh:.1}\" fill=\"#b5471b\"><title>{} {}</title></rect>",
            base - hh,
            Months::label(m.month),
            format_fen(m.household_fen)
        ));
        svg.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{ch:.1}\" fill=\"#e8b27a\"><title>{} {}</title></rect>",
            base - hh - ch,
            Months::label(m.month),
            format_fen(m.collective_fen)
        ));
        if all.len() <= 12 || i % 3 == 0 {
            svg.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
                x + bar / 2.0,
                height - 10.0,
                m.month.format("%y-%m")
            ));
        }
    }
    svg.push_str(&format!(
        "<rect x=\"{left}\" y=\"2\" width=\"10\" height=\"10\" fill=\"#b5471b\"/><text x=\"{}\" y=\"11\" font-size=\"11\">{}</text>\
         <rect x=\"{}\" y=\"2\" width=\"10\" height=\"10\" fill=\"#e8b27a\"/><text x=\"{}\" y=\"11\" font-size=\"11\">{}</text></svg>",
        left + 14.0,
        html_escape(labels.0),
        left + 160.0,
        left + 174.0,
        html_escape(labels.1)
    ));
    svg
}

/// An organisation's purchases against its yearly target: the progress bar and its text
/// (`已采购 ¥… / 目标 ¥…（…%）`).
pub fn target_bar(lang: crate::i18n::Lang, bought_fen: i64, target_fen: i64) -> (String, String) {
    let per_mille = crate::domain::money::per_mille(bought_fen, target_fen);
    let label = lang.t_args(
        "target-progress",
        &[
            ("bought", format_fen(bought_fen)),
            ("target", format_fen(target_fen)),
            ("percent", format!("{}.{}", per_mille / 10, per_mille % 10)),
        ],
    );
    (progress_bar(per_mille, &label), label)
}

/// A progress bar: `per_mille` of the way (0–1000), with `label` as its text.
pub fn progress_bar(per_mille: i64, label: &str) -> String {
    let (width, height) = (640.0_f64, 28.0_f64);
    let done = width * (per_mille.clamp(0, 1000) as f64) / 1000.0;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" role=\"img\" class=\"chart progress\" aria-label=\"{label}\">\
         <rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" rx=\"6\" fill=\"#f1e4d8\"/>\
         <rect x=\"0\" y=\"0\" width=\"{done:.1}\" height=\"{height}\" rx=\"6\" fill=\"#b5471b\"/>\
         <text x=\"{:.1}\" y=\"19\" font-size=\"14\" fill=\"#222\">{label}</text></svg>",
        8.0,
        label = html_escape(label)
    )
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::income_bars;
    use crate::domain::reports::MonthIncome;

    #[test]
    fn legend_text_is_escaped_and_every_month_has_its_bars() {
        let month = |m| NaiveDate::from_ymd_opt(2026, m, 1).unwrap_or_default();
        let months = [
            MonthIncome {
                month: month(1),
                household_fen: 1250,
                collective_fen: 125,
            },
            MonthIncome {
                month: month(2),
                household_fen: 0,
                collective_fen: 0,
            },
        ];
        let svg = income_bars(&months, ("<b>农户</b>", "A & B"));
        assert!(svg.contains("&lt;b&gt;农户&lt;/b&gt;") && !svg.contains("<b>"));
        assert!(svg.contains("A &amp; B"));
        assert_eq!(svg.matches("<title>").count(), 4, "two bars a month");
        assert!(svg.contains("<title>2026-01 ¥12.50</title>"));
    }
}
