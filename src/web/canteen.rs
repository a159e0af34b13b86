//! `/canteen`: a canteen member's area, limited to their organisation: its sites,
//! invoice details, terms, approval threshold and members, and when each village
//! delivers.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::AppState;
use super::auth::CanteenArea;
use super::render::Ctx;
use crate::domain::canteen::{self, Village};
use crate::domain::money::format_fen;
use crate::domain::team::delivery_weekdays;
use crate::error::AppResult;
use crate::i18n::Lang;
use crate::states::PaymentTerms;

/// A village's delivery rhythm for a page: its lead time and weekdays, in words.
pub(super) fn delivery_json(lang: Lang, village: &Village) -> Value {
    let days: Vec<String> = delivery_weekdays(&village.delivery_weekdays)
        .iter()
        .map(|d| lang.t(&format!("weekday-{d}")))
        .collect();
    json!({
        "lead_time_days": village.lead_time_days,
        "weekdays": days.join(lang.t("list-separator").as_str()),
    })
}

pub async fn home(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
) -> AppResult<HttpResponse> {
    let scope = area.scope;
    let page = state.db(move |conn| canteen::home(conn, scope)).await?;
    let lang = ctx.lang;
    let org = &page.organization;
    let terms = match org.payment_terms {
        PaymentTerms::Prepay => lang.t("payment-terms-prepay"),
        PaymentTerms::OnAccount => lang.t_args(
            "canteen-terms-on-account",
            &[("days", org.payment_terms_days.to_string())],
        ),
    };
    let data = json!({
        "user": area.actor.user.display_name,
        "organization": {
            "name": org.name,
            "invoice_title": org.invoice_title,
            "tax_id": org.tax_id,
            "invoice_bank": org.invoice_bank,
            "invoice_account": org.invoice_account,
            "invoice_address_phone": org.invoice_address_phone,
            "address": org.address,
            "contact_name": org.contact_name,
            "terms": terms,
            "on_account": org.payment_terms == PaymentTerms::OnAccount,
            "credit_limit": format_fen(org.credit_limit_fen),
            "approval_threshold": org.approval_threshold_fen.map(format_fen),
            "annual_target": format_fen(org.annual_target_fen),
        },
        "sites": page.sites,
        "members": page.members.iter().map(|(u, role)| json!({
            "name": u.display_name,
            "email": u.email,
            "role": lang.t(&format!("member-role-{role}")),
        })).collect::<Vec<_>>(),
        "villages": page.villages.iter().map(|v| json!({
            "slug": v.slug,
            "name": lang.pick(&v.name_zh, &v.name_en),
            "delivery": delivery_json(lang, v),
        })).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/canteen_home", data)
}
