//! Bank transfer and cash on delivery: nothing to call. The buyer pays outside the shop
//! and the team records it; a refund is money the team pays back by hand.

use futures_util::future::{BoxFuture, FutureExt};

use super::{CheckoutRequest, PaymentError, PaymentProvider, RefundReceipt, Started};
use crate::db::orders::Order;
use crate::states::PaymentMethod;

#[derive(Debug, Clone, Copy)]
pub enum Manual {
    BankTransfer,
    CashOnDelivery,
}

impl PaymentProvider for Manual {
    fn method(&self) -> PaymentMethod {
        match self {
            Manual::BankTransfer => PaymentMethod::BankTransfer,
            Manual::CashOnDelivery => PaymentMethod::CashOnDelivery,
        }
    }

    fn start<'a>(&'a self, _: CheckoutRequest<'a>) -> BoxFuture<'a, Result<Started, PaymentError>> {
        async { Ok(Started::Offline) }.boxed()
    }

    fn refund<'a>(
        &'a self,
        _: &'a Order,
        _: i64,
        _: &'a str,
    ) -> BoxFuture<'a, Result<RefundReceipt, PaymentError>> {
        async {
            Ok(RefundReceipt {
                provider_refund_id: None,
            })
        }
        .boxed()
    }
}
