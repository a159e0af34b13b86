//! Stripe Checkout (async-stripe): a Checkout Session in CNY with the order's lines, and
//! the webhook's events verified against the raw body and turned into the shop's
//! `PaymentEvent`s. Tests point `STRIPE_API_BASE` at the project's own Stripe-compatible
//! server (ARCHITECTURE §11).

use std::collections::HashMap;

use futures_util::future::{BoxFuture, FutureExt};
use sha2::{Digest, Sha256};
use stripe::{
    CheckoutSession, CheckoutSessionMode, CheckoutSessionPaymentStatus, Client,
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionLineItemsPriceDataProductData, CreateCheckoutSessionPaymentMethodOptions,
    CreateCheckoutSessionPaymentMethodOptionsWechatPay,
    CreateCheckoutSessionPaymentMethodOptionsWechatPayClient,
    CreateCheckoutSessionPaymentMethodTypes, CreateRefund, Currency, EventObject, EventType,
    PaymentIntentId, Refund, RequestStrategy, StripeError, Webhook, WebhookError,
};

use super::{CheckoutRequest, PaymentError, PaymentProvider, RefundReceipt, Started};
use crate::config::ConfigError;
use crate::db::orders::Order;
use crate::domain::payments::{PaymentEvent, PaymentEventKind};
use crate::states::PaymentMethod;

/// The payment methods a Checkout Session may offer, by the names used in settings.
pub const METHODS: [&str; 3] = ["card", "alipay", "wechat_pay"];

pub struct StripeProvider {
    client: Client,
    webhook_secret: String,
    methods: Vec<CreateCheckoutSessionPaymentMethodTypes>,
}

/// Why a webhook delivery was refused before anything was done.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookRejected {
    #[error("Stripe-Signature header missing or malformed")]
    BadHeader,
    #[error("signature does not match the body")]
    BadSignature,
    #[error("signature timestamp outside the tolerance")]
    Stale,
    #[error("signed event could not be read: {0}")]
    Unreadable(String),
}

impl StripeProvider {
    pub fn new(
        secret_key: &str,
        webhook_secret: &str,
        api_base: Option<&str>,
        methods: &[String],
    ) -> Result<Self, ConfigError> {
        let client = match api_base {
            Some(base) => {
                // `Client::from_url` panics on a bad URL: check it first.
                let parsed = url::Url::parse(base).map_err(|e| ConfigError::Invalid {
                    name: "STRIPE_API_BASE",
                    reason: format!("{base}: {e}"),
                })?;
                Client::from_url(parsed.as_str(), secret_key)
            }
            None => Client::new(secret_key),
        };
        let methods = methods
            .iter()
            .map(|m| match m.as_str() {
                "card" => Ok(CreateCheckoutSessionPaymentMethodTypes::Card),
                "alipay" => Ok(CreateCheckoutSessionPaymentMethodTypes::Alipay),
                "wechat_pay" => Ok(CreateCheckoutSessionPaymentMethodTypes::WechatPay),
                other => Err(ConfigError::Invalid {
                    name: "STRIPE_PAYMENT_METHODS",
                    reason: format!("{other} is not one of {}", METHODS.join(", ")),
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            client,
            webhook_secret: webhook_secret.to_string(),
            methods,
        })
    }

    /// Verifies a webhook delivery's signature over the raw body (5 minutes' tolerance)
    /// and reads the event. Nothing of the body is trusted before the signature is.
    pub fn verify_event(
        &self,
        body: &str,
        signature: &str,
    ) -> Result<PaymentEvent, WebhookRejected> {
        let event = Webhook::construct_event(body, signature, &self.webhook_secret).map_err(
            |e| match e {
                WebhookError::BadKey | WebhookError::BadHeader(_) => WebhookRejected::BadHeader,
                WebhookError::BadSignature => WebhookRejected::BadSignature,
                WebhookError::BadTimestamp(_) => WebhookRejected::Stale,
                WebhookError::BadParse(e) => WebhookRejected::Unreadable(e.to_string()),
            },
        )?;
        let event_type = event.type_.to_string();
        let (kind, order_id, payment_id) = match (event.type_, event.data.object) {
            (
                t @ (EventType::CheckoutSessionCompleted
                | EventType::CheckoutSessionAsyncPaymentSucceeded
                | EventType::CheckoutSessionAsyncPaymentFailed
                | EventType::CheckoutSessionExpired),
                EventObject::CheckoutSession(session),
            ) => {
                let kind = match t {
                    EventType::CheckoutSessionAsyncPaymentFailed => PaymentEventKind::Failed,
                    EventType::CheckoutSessionExpired => PaymentEventKind::CheckoutExpired,
                    _ if session.payment_status == CheckoutSessionPaymentStatus::Paid => {
                        PaymentEventKind::Paid {
                            amount_fen: session.amount_total.unwrap_or(0),
                            currency: session.currency.map(|c| c.to_string()).unwrap_or_default(),
                        }
                    }
                    _ => PaymentEventKind::AwaitingFunds,
                };
                (
                    kind,
                    order_of(&session),
                    session.payment_intent.map(|p| p.id().to_string()),
                )
            }
            (EventType::ChargeRefunded, EventObject::Charge(charge)) => (
                PaymentEventKind::Refunded {
                    total_refunded_fen: charge.amount_refunded,
                },
                None,
                charge.payment_intent.map(|p| p.id().to_string()),
            ),
            _ => (PaymentEventKind::Other, None, None),
        };
        Ok(PaymentEvent {
            provider: PaymentMethod::Stripe.as_str(),
            event_id: event.id.to_string(),
            event_type,
            kind,
            order_id,
            payment_id,
        })
    }
}

/// The idempotency key of one checkout attempt: the order's token and a digest of
/// exactly what is asked. Stripe answers a key used again with the same parameters by
/// replaying its first answer (a double click, a retry after a timeout: one session),
/// and refuses it with other parameters (`idempotency_error`). A buyer who comes back to
/// pay later asks with a later `expires_at`, so their attempt gets a key of its own.
fn checkout_key(token: &str, params: &CreateCheckoutSession<'_>) -> Result<String, PaymentError> {
    let value = serde_json::to_value(params)
        .map_err(|e| PaymentError::Unavailable(format!("checkout parameters: {e}")))?;
    let mut canonical = String::new();
    write_canonical(&value, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    Ok(format!("checkout-{token}-{}", &hex::encode(digest)[..24]))
}

/// JSON text with every object's keys sorted: the same parameters give the same text
/// whatever order a `HashMap` (the metadata) happened to hold them in.
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(item) = map.get(key) {
                    write_canonical(item, out);
                }
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The order a session was made for, from the metadata the shop set on it.
fn order_of(session: &CheckoutSession) -> Option<i64> {
    session
        .metadata
        .as_ref()
        .and_then(|m| m.get("order_id"))
        .and_then(|id| id.parse().ok())
}

fn unavailable(e: StripeError) -> PaymentError {
    match e {
        StripeError::Stripe(request) => {
            PaymentError::Refused(request.message.unwrap_or_else(|| "refused".into()))
        }
        other => PaymentError::Unavailable(other.to_string()),
    }
}

impl PaymentProvider for StripeProvider {
    fn method(&self) -> PaymentMethod {
        PaymentMethod::Stripe
    }

    fn start<'a>(
        &'a self,
        request: CheckoutRequest<'a>,
    ) -> BoxFuture<'a, Result<Started, PaymentError>> {
        async move {
            let order = request.order;
            let zh = order.locale != "en";
            let line_items = request
                .lines
                .iter()
                .map(|l| CreateCheckoutSessionLineItems {
                    quantity: Some(u64::try_from(l.quantity).unwrap_or(0)),
                    price_data: Some(CreateCheckoutSessionLineItemsPriceData {
                        currency: Currency::CNY,
                        unit_amount: Some(l.unit_price_fen),
                        product_data: Some(CreateCheckoutSessionLineItemsPriceDataProductData {
                            name: if zh || l.product_name_en.is_empty() {
                                l.product_name_zh.clone()
                            } else {
                                l.product_name_en.clone()
                            },
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .collect();
            let metadata = HashMap::from([
                ("order_id".to_string(), order.id.to_string()),
                ("order_number".to_string(), order.number.clone()),
            ]);
            let mut params = CreateCheckoutSession::new();
            params.mode = Some(CheckoutSessionMode::Payment);
            params.currency = Some(Currency::CNY);
            params.line_items = Some(line_items);
            params.client_reference_id = Some(&order.number);
            params.customer_email = order.buyer_email.as_deref();
            params.metadata = Some(metadata);
            params.success_url = Some(&request.success_url);
            params.cancel_url = Some(&request.cancel_url);
            params.payment_method_types = Some(self.methods.clone());
            if self
                .methods
                .contains(&CreateCheckoutSessionPaymentMethodTypes::WechatPay)
            {
                params.payment_method_options = Some(CreateCheckoutSessionPaymentMethodOptions {
                    wechat_pay: Some(CreateCheckoutSessionPaymentMethodOptionsWechatPay {
                        client: CreateCheckoutSessionPaymentMethodOptionsWechatPayClient::Web,
                        ..Default::default()
                    }),
                    ..Default::default()
                });
            }
            // Stripe takes 30 minutes to 24 hours (the caller asks for at least 31).
            params.expires_at = request
                .expires_at
                .map(|t| t.and_utc().timestamp())
                .filter(|t| {
                    let now = chrono::Utc::now().timestamp();
                    (now + 30 * 60..now + 24 * 3600).contains(t)
                });
            let key = checkout_key(&order.token, &params)?;
            let client = self
                .client
                .clone()
                .with_strategy(RequestStrategy::Idempotent(key));
            let session = CheckoutSession::create(&client, params)
                .await
                .map_err(unavailable)?;
            let url = session
                .url
                .ok_or_else(|| PaymentError::Unavailable("session without a url".into()))?;
            Ok(Started::Redirect {
                session_id: session.id.to_string(),
                url,
            })
        }
        .boxed()
    }

    fn refund<'a>(
        &'a self,
        order: &'a Order,
        amount_fen: i64,
        key: &'a str,
    ) -> BoxFuture<'a, Result<RefundReceipt, PaymentError>> {
        async move {
            let payment: PaymentIntentId = order
                .provider_payment_id
                .as_deref()
                .ok_or_else(|| PaymentError::Refused("the order has no Stripe payment".into()))?
                .parse()
                .map_err(|_| PaymentError::Refused("malformed payment id".into()))?;
            let mut params = CreateRefund::new();
            params.payment_intent = Some(payment);
            params.amount = Some(amount_fen);
            params.metadata = Some(HashMap::from([(
                "order_id".to_string(),
                order.id.to_string(),
            )]));
            let client = self
                .client
                .clone()
                .with_strategy(RequestStrategy::Idempotent(key.to_string()));
            let refund = Refund::create(&client, params).await.map_err(unavailable)?;
            Ok(RefundReceipt {
                provider_refund_id: Some(refund.id.to_string()),
            })
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params<'a>(expires_at: i64, metadata: &[(&str, &str)]) -> CreateCheckoutSession<'a> {
        let mut params = CreateCheckoutSession::new();
        params.mode = Some(CheckoutSessionMode::Payment);
        params.expires_at = Some(expires_at);
        params.metadata = Some(
            metadata
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        params
    }

    #[test]
    fn a_checkout_key_follows_the_parameters_and_nothing_else() {
        let meta = [
            ("order_id", "7"),
            ("order_number", "VM-7"),
            ("a", "1"),
            ("b", "2"),
        ];
        let first = checkout_key("tok", &params(1_000, &meta)).expect("key");
        assert!(
            first.starts_with("checkout-tok-") && first.len() <= 255,
            "{first}"
        );
        // Built again, with the metadata map in whatever order it iterates: the same key.
        let mut reversed = meta;
        reversed.reverse();
        for _ in 0..10 {
            assert_eq!(
                checkout_key("tok", &params(1_000, &reversed)).expect("key"),
                first
            );
        }
        assert_ne!(
            checkout_key("tok", &params(1_001, &meta)).expect("key"),
            first
        );
        assert_ne!(
            checkout_key("other", &params(1_000, &meta)).expect("key"),
            first
        );
    }
}
