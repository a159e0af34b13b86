//! The typed states and kinds of the marketplace — an order's status, its channel and
//! payment method, a product's supply mode, a ledger entry's kind… Each is an enum
//! stored as text through one mapping (`text_enum!`), so no status is ever spelled as a
//! string outside this file, and the database and the code cannot drift apart unseen.
//!
//! A leaf module: `db` stores these and `domain` reasons with them; it imports neither.

/// An enum stored as a text column: `as_str`/`parse` are the one spelling of each
/// variant; diesel reads and writes it on every backend, serde as the same text.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        /// The API document's schema (`web::api`): a string, one of the texts.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "unknown {} {text:?}",
                        stringify!($name)
                    ))
                })
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text =
                    <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(
                        bytes,
                    )?;
                $name::parse(&text)
                    .ok_or_else(|| format!("unknown {} {text:?}", stringify!($name)).into())
            }
        }
    };
}

text_enum! {
    /// Where an order's money stands and how far its goods have gone.
    pub enum OrderStatus {
        /// A canteen order above its organisation's approval threshold: stock held until
        /// an approver decides (待审批), or until the hold runs out.
        AwaitingApproval = "awaiting_approval",
        /// Placed, stock reserved, awaiting payment (or cash on delivery).
        PendingPayment = "pending_payment",
        Paid = "paid",
        Packed = "packed",
        Shipped = "shipped",
        Delivered = "delivered",
        /// Unpaid when the reservation ran out; stock returned.
        Expired = "expired",
        Cancelled = "cancelled",
        Refunded = "refunded",
        PartiallyRefunded = "partially_refunded",
    }
}

text_enum! {
    /// How an order reached the shop (销售渠道).
    pub enum Channel {
        Store = "store",
        /// A canteen organisation (食堂) buying in bulk.
        Canteen = "canteen",
        /// A viewer buying through a livestream link (直播).
        Livestream = "livestream",
    }
}

text_enum! {
    pub enum PaymentMethod {
        /// Card, Alipay or WeChat Pay through Stripe Checkout.
        Stripe = "stripe",
        /// 对公转账: confirmed by hand with the bank's reference.
        BankTransfer = "bank_transfer",
        /// 货到付款: the goods leave before the money comes.
        CashOnDelivery = "cash_on_delivery",
        /// 月结: a canteen on account; its orders are paid with the monthly statement.
        OnAccount = "on_account",
    }
}

text_enum! {
    /// How a village holds a product's goods.
    pub enum SupplyMode {
        /// 代销: sold for the household, who is paid its share when it sells.
        Consignment = "consignment",
        /// 统购: bought from the household at receipt.
        Purchased = "purchased",
    }
}

text_enum! {
    pub enum ProductStatus {
        Draft = "draft",
        OnSale = "on_sale",
        Paused = "paused",
        Archived = "archived",
    }
}

text_enum! {
    /// One village's part of an order on its way to the buyer.
    pub enum ShipmentStatus {
        Pending = "pending",
        Packed = "packed",
        Shipped = "shipped",
        Delivered = "delivered",
        Cancelled = "cancelled",
    }
}

text_enum! {
    /// A household's category in the register.
    pub enum HouseholdCategory {
        /// 脱贫户: lifted out of poverty.
        Tuopin = "tuopin",
        /// 监测户: watched for a return to poverty.
        Jiance = "jiance",
        /// 一般户: any other household.
        Yiban = "yiban",
    }
}

text_enum! {
    /// How a household is paid out.
    pub enum PayoutMethod {
        Cash = "cash",
        Bank = "bank",
        Wechat = "wechat",
        Alipay = "alipay",
    }
}

text_enum! {
    /// What a ledger entry records (ARCHITECTURE §5).
    pub enum LedgerKind {
        /// A household's share of a consignment sale.
        HouseholdShare = "household_share",
        /// The village collective's share of a consignment sale.
        CollectiveShare = "collective_share",
        /// A sale of purchased goods: all of it the collective's.
        CollectiveSale = "collective_sale",
        /// Purchased goods owed to the household at receipt.
        Purchase = "purchase",
        RefundHousehold = "refund_household",
        RefundCollective = "refund_collective",
        Payout = "payout",
        /// 主播佣金: the livestream host's part of a sale, taken before the split.
        HostCommission = "host_commission",
        /// The host's commission on refunded units, taken back.
        RefundHostCommission = "refund_host_commission",
        /// Money handed to a host, lowering what the host is owed.
        HostPayout = "host_payout",
    }
}

text_enum! {
    /// An outbox message's state.
    pub enum MailStatus {
        Pending = "pending",
        Sent = "sent",
        /// Could not be built (a malformed address): kept, never retried.
        Failed = "failed",
    }
}

text_enum! {
    /// How a canteen organisation pays for its orders.
    pub enum PaymentTerms {
        /// 预付: each order is paid before it leaves.
        Prepay = "prepay",
        /// 月结: on account, settled by a monthly statement within the credit limit.
        OnAccount = "on_account",
    }
}

text_enum! {
    /// What a canteen organisation's member may do.
    pub enum MemberRole {
        /// 采购员: places orders.
        Buyer = "buyer",
        /// 审批人: places orders and approves those above the approval threshold.
        Approver = "approver",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_reads_back_from_its_text() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(*s));
        }
        for k in LedgerKind::ALL {
            assert_eq!(LedgerKind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(OrderStatus::parse("Paid"), None);
        assert_eq!(
            serde_json::to_string(&PaymentMethod::CashOnDelivery)
                .ok()
                .as_deref(),
            Some("\"cash_on_delivery\"")
        );
    }
}

text_enum! {
    /// Where a livestream is broadcast.
    pub enum LivePlatform {
        /// 抖音
        Douyin = "douyin",
        /// 快手
        Kuaishou = "kuaishou",
        /// 视频号 (WeChat Channels)
        Channels = "channels",
        Other = "other",
    }
}

text_enum! {
    /// A livestream session's state: prepared, announced, on air, over.
    pub enum LiveStatus {
        Draft = "draft",
        Scheduled = "scheduled",
        Live = "live",
        Ended = "ended",
    }
}

text_enum! {
    /// What became of one delivery date of a standing order (周期订单).
    pub enum StandingRunOutcome {
        /// Placed whole.
        Placed = "placed",
        /// Placed with less than asked of some lines (stock was short).
        Short = "short",
        /// Not placed: nothing was in stock, or the order was refused (credit, dates).
        NotPlaced = "not_placed",
    }
}

text_enum! {
    /// Why a canteen rejected units on arrival (验收).
    pub enum RejectionReason {
        /// Fewer arrived than the note says.
        Short = "short",
        Damaged = "damaged",
        Quality = "quality",
    }
}
