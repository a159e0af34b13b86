//! Payment providers behind one trait (ARCHITECTURE §2): Stripe Checkout when the shop has
//! Stripe keys, and the manual methods (bank transfer, cash on delivery) always. A
//! provider talks to the outside world only; what a payment means for an order is
//! decided in `domain::payments`.

mod manual;
pub mod stripe;

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::config::{Config, ConfigError};
use crate::db::orders::{Order, OrderLine};
use crate::states::PaymentMethod;

pub use manual::Manual;
pub use stripe::StripeProvider;

/// What the buyer is asked to pay, and where the provider sends them back to.
pub struct CheckoutRequest<'a> {
    pub order: &'a Order,
    pub lines: &'a [OrderLine],
    pub success_url: String,
    pub cancel_url: String,
    /// When the provider's checkout should stop taking payment (the reservation's end).
    pub expires_at: Option<chrono::NaiveDateTime>,
}

/// How the buyer goes on after placing the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// To the provider's payment page; the session id is kept on the order.
    Redirect { session_id: String, url: String },
    /// Nothing to do online: the order page tells how to pay.
    Offline,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundReceipt {
    /// The provider's refund id; `None` when the team pays the money back by hand.
    pub provider_refund_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The provider could not be reached or failed; trying again later may work.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request.
    #[error("payment provider refused: {0}")]
    Refused(String),
}

pub trait PaymentProvider: Send + Sync {
    /// The order's `payment_method` this provider takes.
    fn method(&self) -> PaymentMethod;
    fn start<'a>(
        &'a self,
        request: CheckoutRequest<'a>,
    ) -> BoxFuture<'a, Result<Started, PaymentError>>;
    /// Returns `amount_fen` of the order's payment to the buyer. `key` is the same for
    /// the same refund asked twice, so the provider acts once.
    fn refund<'a>(
        &'a self,
        order: &'a Order,
        amount_fen: i64,
        key: &'a str,
    ) -> BoxFuture<'a, Result<RefundReceipt, PaymentError>>;
}

/// The providers this shop runs with, in the order the checkout offers them.
#[derive(Clone)]
pub struct Payments {
    providers: Vec<Arc<dyn PaymentProvider>>,
    stripe: Option<Arc<StripeProvider>>,
}

impl Payments {
    /// Stripe when both its keys are set (one without the other is a setup error),
    /// then the manual methods.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let stripe = match (&config.stripe_secret_key, &config.stripe_webhook_secret) {
            (Some(key), Some(secret)) => Some(Arc::new(StripeProvider::new(
                key,
                secret,
                config.stripe_api_base.as_deref(),
                &config.stripe_methods,
            )?)),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid {
                    name: "STRIPE_SECRET_KEY",
                    reason: "set both STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET, or neither"
                        .into(),
                });
            }
        };
        let mut providers: Vec<Arc<dyn PaymentProvider>> = Vec::new();
        if let Some(s) = &stripe {
            providers.push(s.clone());
        }
        providers.push(Arc::new(Manual::BankTransfer));
        providers.push(Arc::new(Manual::CashOnDelivery));
        Ok(Self { providers, stripe })
    }

    /// The payment methods a buyer may choose now.
    pub fn methods(&self) -> Vec<PaymentMethod> {
        self.providers.iter().map(|p| p.method()).collect()
    }

    pub fn provider(&self, method: PaymentMethod) -> Option<&dyn PaymentProvider> {
        self.providers
            .iter()
            .find(|p| p.method() == method)
            .map(|p| p.as_ref())
    }

    pub fn stripe(&self) -> Option<&StripeProvider> {
        self.stripe.as_deref()
    }
}
