//! One diesel schema for both backends; only portable column types (ARCHITECTURE §8).

diesel::table! {
    counties (id) {
        id -> BigInt,
        slug -> Text,
        name_zh -> Text,
        name_en -> Text,
        sort_order -> Integer,
    }
}

diesel::table! {
    villages (id) {
        id -> BigInt,
        county_id -> BigInt,
        slug -> Text,
        name_zh -> Text,
        name_en -> Text,
        township_zh -> Nullable<Text>,
        township_en -> Nullable<Text>,
        story_zh -> Text,
        story_en -> Text,
        collective_share_bp -> Nullable<Integer>,
        created_at -> Timestamp,
        lead_time_days -> Integer,
        delivery_weekdays -> Text,
    }
}

diesel::table! {
    households (id) {
        id -> BigInt,
        village_id -> BigInt,
        code -> Text,
        head_name -> Text,
        resident_members -> Integer,
        category -> Text,
        phone -> Nullable<Text>,
        payout_method -> Text,
        payout_account -> Nullable<Text>,
        archived -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    product_images (id) {
        id -> BigInt,
        product_id -> BigInt,
        content_hash -> Text,
        display_jpeg_b64 -> Text,
        thumb_jpeg_b64 -> Text,
        width -> Integer,
        height -> Integer,
        uploaded_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    products (id) {
        id -> BigInt,
        village_id -> BigInt,
        slug -> Text,
        name_zh -> Text,
        name_en -> Text,
        description_zh -> Text,
        description_en -> Text,
        category -> Text,
        sale_unit_zh -> Text,
        sale_unit_en -> Text,
        unit_price_fen -> BigInt,
        stock -> Integer,
        min_per_order -> Integer,
        max_per_order -> Nullable<Integer>,
        season_months -> Text,
        status -> Text,
        supply_mode -> Text,
        featured -> Bool,
        low_stock_threshold -> Integer,
        image -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        canteen_min_quantity -> Integer,
        canteen_step -> Integer,
    }
}

diesel::table! {
    price_tiers (id) {
        id -> BigInt,
        product_id -> BigInt,
        min_quantity -> Integer,
        unit_price_fen -> BigInt,
        canteen_only -> Bool,
    }
}

diesel::table! {
    stock_lots (id) {
        id -> BigInt,
        product_id -> BigInt,
        household_id -> BigInt,
        quantity -> Integer,
        remaining -> Integer,
        received_on -> Date,
        purchase_price_fen -> Nullable<BigInt>,
        recorded_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        idempotency_key -> Nullable<Text>,
    }
}

diesel::table! {
    stock_write_offs (id) {
        id -> BigInt,
        lot_id -> BigInt,
        product_id -> BigInt,
        quantity -> Integer,
        reason -> Text,
        written_off_on -> Date,
        recorded_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        locale -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        session_version -> BigInt,
        last_sign_in_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    team_villages (user_id, village_id) {
        user_id -> BigInt,
        village_id -> BigInt,
    }
}

diesel::table! {
    cadre_scopes (user_id) {
        user_id -> BigInt,
        county_id -> Nullable<BigInt>,
        village_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    orders (id) {
        id -> BigInt,
        number -> Text,
        channel -> Text,
        organization_id -> Nullable<BigInt>,
        buyer_user_id -> Nullable<BigInt>,
        buyer_name -> Text,
        buyer_phone -> Text,
        buyer_email -> Nullable<Text>,
        delivery_address -> Text,
        note -> Text,
        payment_method -> Text,
        status -> Text,
        total_fen -> BigInt,
        token -> Text,
        idempotency_key -> Text,
        reserved_until -> Nullable<Timestamp>,
        business_date -> Date,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        locale -> Text,
        provider_session_id -> Nullable<Text>,
        provider_payment_id -> Nullable<Text>,
        paid_fen -> BigInt,
        refunded_fen -> BigInt,
        paid_at -> Nullable<Timestamp>,
        attention -> Nullable<Text>,
        staff_organization_id -> Nullable<BigInt>,
        live_item_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    order_lines (id) {
        id -> BigInt,
        order_id -> BigInt,
        product_id -> BigInt,
        village_id -> BigInt,
        quantity -> Integer,
        unit_price_fen -> BigInt,
        line_total_fen -> BigInt,
        product_name_zh -> Text,
        product_name_en -> Text,
        sale_unit_zh -> Text,
        sale_unit_en -> Text,
        refunded_quantity -> Integer,
    }
}

diesel::table! {
    order_events (id) {
        id -> BigInt,
        order_id -> BigInt,
        from_status -> Nullable<Text>,
        to_status -> Text,
        actor_label -> Text,
        note -> Nullable<Text>,
        created_at -> Timestamp,
        village_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    organizations (id) {
        id -> BigInt,
        name -> Text,
        invoice_title -> Text,
        tax_id -> Text,
        address -> Text,
        contact_name -> Text,
        contact_phone -> Text,
        payment_terms_days -> Integer,
        annual_target_fen -> BigInt,
        created_at -> Timestamp,
        invoice_bank -> Text,
        invoice_account -> Text,
        invoice_address_phone -> Text,
        payment_terms -> Text,
        credit_limit_fen -> BigInt,
        approval_threshold_fen -> Nullable<BigInt>,
        staff_code -> Nullable<Text>,
    }
}

diesel::table! {
    organization_members (user_id) {
        user_id -> BigInt,
        organization_id -> BigInt,
        member_role -> Text,
    }
}

diesel::table! {
    delivery_sites (id) {
        id -> BigInt,
        organization_id -> BigInt,
        name -> Text,
        address -> Text,
        receiver -> Text,
        phone -> Text,
        delivery_window -> Text,
        retired -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        ip -> Text,
        failed_at -> Timestamp,
    }
}

diesel::table! {
    password_reset_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    password_reset_requests (id) {
        id -> BigInt,
        email -> Text,
        ip -> Text,
        requested_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        actor_user_id -> Nullable<BigInt>,
        actor_label -> Text,
        action -> Text,
        entity -> Text,
        entity_id -> BigInt,
        village_id -> Nullable<BigInt>,
        before_json -> Nullable<Text>,
        after_json -> Nullable<Text>,
        created_at -> Timestamp,
        client_addr -> Nullable<Text>,
    }
}

diesel::table! {
    statements (id) {
        id -> BigInt,
        organization_id -> BigInt,
        month -> Date,
        number -> Text,
        issued_at -> Timestamp,
        due_date -> Date,
        goods_fen -> BigInt,
        credits_fen -> BigInt,
        total_fen -> BigInt,
        paid_fen -> BigInt,
        paid_at -> Nullable<Timestamp>,
        invoice_number -> Nullable<Text>,
        overdue_mailed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    statement_orders (order_id) {
        order_id -> BigInt,
        statement_id -> BigInt,
        goods_fen -> BigInt,
        credits_fen -> BigInt,
        amount_fen -> BigInt,
    }
}

diesel::table! {
    statement_payments (id) {
        id -> BigInt,
        statement_id -> BigInt,
        amount_fen -> BigInt,
        bank_reference -> Text,
        paid_on -> Date,
        recorded_by_user_id -> Nullable<BigInt>,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    standing_orders (id) {
        id -> BigInt,
        organization_id -> BigInt,
        delivery_site_id -> BigInt,
        created_by_user_id -> BigInt,
        every_weeks -> Integer,
        weekdays -> Text,
        starts_on -> Date,
        ends_on -> Nullable<Date>,
        paused -> Bool,
        payment_method -> Text,
        po_number -> Text,
        note -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    standing_order_lines (standing_order_id, product_id) {
        standing_order_id -> BigInt,
        product_id -> BigInt,
        quantity -> Integer,
    }
}

diesel::table! {
    standing_order_skips (standing_order_id, delivery_date) {
        standing_order_id -> BigInt,
        delivery_date -> Date,
        skipped_by_user_id -> BigInt,
        skipped_at -> Timestamp,
    }
}

diesel::table! {
    standing_order_runs (standing_order_id, delivery_date) {
        standing_order_id -> BigInt,
        delivery_date -> Date,
        order_id -> Nullable<BigInt>,
        outcome -> Text,
        detail -> Text,
        ran_at -> Timestamp,
    }
}

diesel::table! {
    live_sessions (id) {
        id -> BigInt,
        village_id -> BigInt,
        title -> Text,
        platform -> Text,
        host_name -> Text,
        host_commission_bp -> Integer,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        status -> Text,
        created_by_user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        ended_at -> Nullable<Timestamp>,
        host_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    live_hosts (id) {
        id -> BigInt,
        village_id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    host_payouts (id) {
        id -> BigInt,
        host_id -> BigInt,
        amount_fen -> BigInt,
        method -> Text,
        reference -> Text,
        paid_on -> Date,
        recorded_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    live_items (id) {
        id -> BigInt,
        session_id -> BigInt,
        number -> Integer,
        product_id -> BigInt,
        live_price_fen -> BigInt,
        quota -> Integer,
        per_buyer_limit -> Integer,
        taken -> Integer,
        sold -> Integer,
        code -> Text,
        visits -> BigInt,
    }
}

diesel::joinable!(villages -> counties (county_id));
diesel::joinable!(households -> villages (village_id));
diesel::joinable!(products -> villages (village_id));
diesel::joinable!(price_tiers -> products (product_id));
diesel::joinable!(product_images -> products (product_id));
diesel::joinable!(stock_lots -> products (product_id));
diesel::joinable!(stock_lots -> households (household_id));
diesel::joinable!(stock_write_offs -> stock_lots (lot_id));
diesel::joinable!(team_villages -> users (user_id));
diesel::joinable!(team_villages -> villages (village_id));
diesel::joinable!(cadre_scopes -> users (user_id));
diesel::joinable!(organization_members -> users (user_id));
diesel::joinable!(password_reset_tokens -> users (user_id));
diesel::table! {
    shipments (id) {
        id -> BigInt,
        order_id -> BigInt,
        village_id -> BigInt,
        status -> Text,
        carrier -> Nullable<Text>,
        tracking_number -> Nullable<Text>,
        packed_at -> Nullable<Timestamp>,
        shipped_at -> Nullable<Timestamp>,
        delivered_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
        accepted_at -> Nullable<Timestamp>,
        accepted_by_user_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    refunds (id) {
        id -> BigInt,
        order_id -> BigInt,
        amount_fen -> BigInt,
        provider_refund_id -> Nullable<Text>,
        reason -> Text,
        restock -> Bool,
        actor_label -> Text,
        business_date -> Date,
        created_at -> Timestamp,
    }
}

diesel::table! {
    refund_lines (id) {
        id -> BigInt,
        refund_id -> BigInt,
        order_line_id -> BigInt,
        quantity -> Integer,
        amount_fen -> BigInt,
    }
}

diesel::table! {
    payment_events (id) {
        id -> BigInt,
        provider -> Text,
        event_id -> Text,
        event_type -> Text,
        order_id -> Nullable<BigInt>,
        outcome -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    email_outbox (id) {
        id -> BigInt,
        recipient -> Text,
        template -> Text,
        locale -> Text,
        data -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    allocations (id) {
        id -> BigInt,
        order_line_id -> BigInt,
        lot_id -> BigInt,
        household_id -> BigInt,
        first_unit -> Integer,
        quantity -> Integer,
        amount_fen -> BigInt,
        collective_share_bp -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    payouts (id) {
        id -> BigInt,
        household_id -> BigInt,
        amount_fen -> BigInt,
        method -> Text,
        reference -> Text,
        paid_on -> Date,
        recorded_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> BigInt,
        kind -> Text,
        village_id -> BigInt,
        household_id -> Nullable<BigInt>,
        channel -> Nullable<Text>,
        product_id -> Nullable<BigInt>,
        order_id -> Nullable<BigInt>,
        order_line_id -> Nullable<BigInt>,
        allocation_id -> Nullable<BigInt>,
        lot_id -> Nullable<BigInt>,
        refund_id -> Nullable<BigInt>,
        payout_id -> Nullable<BigInt>,
        quantity -> Integer,
        amount_fen -> BigInt,
        business_date -> Date,
        business_month -> Date,
        created_at -> Timestamp,
        host_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    household_month_totals (household_id, month) {
        household_id -> BigInt,
        village_id -> BigInt,
        month -> Date,
        income_fen -> BigInt,
        payouts_fen -> BigInt,
    }
}

diesel::table! {
    village_month_totals (village_id, month, channel) {
        village_id -> BigInt,
        month -> Date,
        channel -> Text,
        sales_fen -> BigInt,
        household_fen -> BigInt,
        collective_fen -> BigInt,
        host_commission_fen -> BigInt,
    }
}

diesel::table! {
    product_month_totals (product_id, month) {
        product_id -> BigInt,
        village_id -> BigInt,
        month -> Date,
        quantity -> BigInt,
        sales_fen -> BigInt,
    }
}

diesel::table! {
    canteen_orders (order_id) {
        order_id -> BigInt,
        organization_id -> BigInt,
        delivery_site_id -> BigInt,
        delivery_date -> Date,
        po_number -> Text,
        placed_by_user_id -> BigInt,
        decided_by_user_id -> Nullable<BigInt>,
        decided_at -> Nullable<Timestamp>,
        sent_back_reason -> Nullable<Text>,
    }
}

diesel::table! {
    acceptance_lines (order_line_id) {
        order_line_id -> BigInt,
        shipment_id -> BigInt,
        accepted -> Integer,
        rejected -> Integer,
        reason -> Nullable<Text>,
        refund_id -> Nullable<BigInt>,
    }
}

diesel::joinable!(allocations -> order_lines (order_line_id));
diesel::joinable!(allocations -> stock_lots (lot_id));
diesel::joinable!(allocations -> households (household_id));
diesel::joinable!(payouts -> households (household_id));
diesel::joinable!(ledger_entries -> villages (village_id));
diesel::joinable!(household_month_totals -> households (household_id));
diesel::joinable!(order_lines -> orders (order_id));
diesel::joinable!(shipments -> orders (order_id));
diesel::joinable!(shipments -> villages (village_id));
diesel::joinable!(refunds -> orders (order_id));
diesel::joinable!(refund_lines -> refunds (refund_id));
diesel::joinable!(refund_lines -> order_lines (order_line_id));
diesel::joinable!(payment_events -> orders (order_id));
diesel::joinable!(order_lines -> products (product_id));
diesel::joinable!(order_events -> orders (order_id));
diesel::joinable!(organization_members -> organizations (organization_id));
diesel::joinable!(delivery_sites -> organizations (organization_id));
diesel::joinable!(canteen_orders -> orders (order_id));
diesel::joinable!(acceptance_lines -> shipments (shipment_id));
diesel::joinable!(acceptance_lines -> order_lines (order_line_id));
diesel::joinable!(canteen_orders -> delivery_sites (delivery_site_id));

diesel::joinable!(statements -> organizations (organization_id));
diesel::joinable!(statement_orders -> statements (statement_id));
diesel::joinable!(statement_orders -> orders (order_id));
diesel::joinable!(statement_payments -> statements (statement_id));

diesel::joinable!(standing_orders -> organizations (organization_id));
diesel::joinable!(standing_orders -> delivery_sites (delivery_site_id));
diesel::joinable!(standing_order_lines -> standing_orders (standing_order_id));
diesel::joinable!(standing_order_lines -> products (product_id));
diesel::joinable!(standing_order_skips -> standing_orders (standing_order_id));
diesel::joinable!(standing_order_runs -> standing_orders (standing_order_id));
diesel::joinable!(standing_order_runs -> orders (order_id));

diesel::table! {
    live_buyer_units (item_id, phone) {
        item_id -> BigInt,
        phone -> Text,
        units -> Integer,
    }
}

diesel::table! {
    /// Requests per caller and minute (epoch minutes), for the JSON API's rate limit.
    api_rate_windows (subject, minute) {
        subject -> Text,
        minute -> BigInt,
        requests -> Integer,
    }
}

diesel::joinable!(live_sessions -> villages (village_id));
diesel::joinable!(live_buyer_units -> live_items (item_id));
diesel::joinable!(live_items -> live_sessions (session_id));
diesel::joinable!(live_items -> products (product_id));
diesel::joinable!(live_sessions -> live_hosts (host_id));
diesel::joinable!(live_hosts -> villages (village_id));
diesel::joinable!(host_payouts -> live_hosts (host_id));
diesel::joinable!(api_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    counties,
    villages,
    households,
    products,
    price_tiers,
    product_images,
    stock_lots,
    stock_write_offs,
    users,
    team_villages,
    cadre_scopes,
    organizations,
    organization_members,
    delivery_sites,
    orders,
    canteen_orders,
    acceptance_lines,
    order_lines,
    order_events,
    shipments,
    refunds,
    refund_lines,
    payment_events,
    email_outbox,
    allocations,
    payouts,
    ledger_entries,
    household_month_totals,
    village_month_totals,
    product_month_totals,
    login_failures,
    password_reset_tokens,
    password_reset_requests,
    audit_log,
    statements,
    statement_orders,
    statement_payments,
    standing_orders,
    standing_order_lines,
    standing_order_skips,
    standing_order_runs,
    live_sessions,
    live_items,
    live_buyer_units,
    live_hosts,
    host_payouts,
    api_tokens,
    api_rate_windows,
);
