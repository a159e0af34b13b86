//! A small Stripe-compatible HTTP server for the integration tests (ARCHITECTURE §11 "Stripe").
//!
//! The real Stripe cannot be reached from the test machines, and localstripe's replies do
//! not parse in the client library, so the tests run this server instead and point the
//! app at it with `STRIPE_API_BASE`. It answers the endpoints the app calls
//! (`POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`,
//! `POST /v1/checkout/sessions/{id}/expire`, `POST /v1/refunds`) with bodies built from
//! Stripe's own example objects in `tests/fixtures/stripe/fixtures3.json`: each reply is the
//! fixture with only the fields that matter overwritten (ids, amounts, currency, status,
//! metadata, urls), so async-stripe parses exactly what real Stripe sends. It also
//! builds the events Stripe would send and posts them, signed with the webhook secret,
//! to the app's webhook.
//!
//! The tests at the end use async-stripe directly, without the app, to prove that these
//! replies and events parse in the library the app uses.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// One recorded API request: method, path and its form (or query) parameters in the
/// order sent, keys in Stripe's bracket notation (`line_items[0][quantity]`).
pub type RecordedRequest = (String, String, Vec<(String, String)>);

/// Numbers for the ids this process hands out (`cs_test_<n>`, `pi_test_<n>`, …): unique
/// across all servers of one test run, so an id never means two things.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_n() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Stripe's example object of one resource type, e.g. `"checkout.session"`.
fn fixture(resource: &str) -> Value {
    static FIXTURES: OnceLock<Value> = OnceLock::new();
    let all = FIXTURES.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/stripe/fixtures3.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    });
    let object = all["resources"][resource].clone();
    assert!(
        object.is_object(),
        "fixtures3.json has resources[{resource:?}]"
    );
    object
}

/// A running Stripe-compatible server on `127.0.0.1`, stopped when dropped.
pub struct StripeServer {
    /// Where the app should send its API requests (`STRIPE_API_BASE`), e.g.
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The only API key this server accepts (`Authorization: Bearer sk_test_…`).
    pub secret_key: String,
    /// The secret events are signed with (`whsec_…`, `STRIPE_WEBHOOK_SECRET`).
    pub webhook_secret: String,
    state: Arc<State>,
    handle: Option<ServerHandle>,
    thread: Option<JoinHandle<()>>,
}

struct State {
    base: String,
    secret_key: String,
    webhook_secret: String,
    /// Where the hosted payment page sends its `checkout.session.completed` event.
    webhook_target: Mutex<Option<String>>,
    inner: Mutex<Inner>,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// See [`StripeServer::completed_session`].
    fn complete(&self, id: &str, amount_total: Option<i64>) -> Value {
        let mut inner = self.lock();
        let session = inner
            .session_mut(id)
            .unwrap_or_else(|| panic!("no checkout session {id}"));
        if let Some(amount) = amount_total {
            session["amount_total"] = json!(amount);
        }
        let payment_intent = match session["payment_intent"].as_str() {
            Some(pi) => pi.to_string(),
            None => format!("pi_test_{}", next_n()),
        };
        session["payment_intent"] = json!(payment_intent);
        session["status"] = json!("complete");
        session["payment_status"] = json!("paid");
        // The payment page is gone once the session is complete.
        session["url"] = Value::Null;
        // Who paid: the fixture's customer, with the email the session was created for.
        let mut customer = fixture("checkout.session")["customer_details"].clone();
        if let Some(email) = session["customer_email"].as_str() {
            customer["email"] = json!(email);
        }
        session["customer_details"] = customer;
        let session = session.clone();
        let amount = session["amount_total"].as_i64().unwrap_or(0);
        let currency = session["currency"].as_str().unwrap_or("cny").to_string();
        let charge = match inner.payments.get(&payment_intent) {
            Some(payment) => payment.charge.clone(),
            None => format!("ch_test_{}", next_n()),
        };
        inner.payments.insert(
            payment_intent,
            Payment {
                charge,
                amount,
                currency,
            },
        );
        session
    }
}

#[derive(Default)]
struct Inner {
    /// Checkout sessions in the order created, as last updated.
    sessions: Vec<Value>,
    refunds: Vec<Value>,
    /// Payments of completed sessions, by payment intent id.
    payments: HashMap<String, Payment>,
    requests: Vec<RecordedRequest>,
    fail_next: Option<u16>,
    /// What this account remembers of requests sent with an `Idempotency-Key`, oldest
    /// first (see [`Remembered`]).
    idempotent: Vec<Remembered>,
}

/// A POST sent with an `Idempotency-Key`, as Stripe keeps it for 24 hours: the same key
/// with the same request is answered with the first answer again; with another request,
/// 400 `idempotency_error`. Only answers that succeeded are kept (Stripe also keeps
/// errors of requests that began executing; nothing here depends on that).
struct Remembered {
    key: String,
    /// Method, path and parameters, sorted: what must match for a replay.
    request: RecordedRequest,
    at: i64,
    answer: Value,
}

struct Payment {
    charge: String,
    amount: i64,
    currency: String,
}

impl Inner {
    fn session_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.sessions.iter_mut().find(|s| s["id"] == id)
    }

    fn refunded(&self, payment_intent: &str) -> i64 {
        self.refunds
            .iter()
            .filter(|r| r["payment_intent"] == payment_intent)
            .filter_map(|r| r["amount"].as_i64())
            .sum()
    }
}

impl StripeServer {
    /// Starts the server on a free port of 127.0.0.1, in its own thread and actix
    /// System, with fresh keys.
    pub fn start() -> StripeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let secret_key = format!("sk_test_{}", random_hex(24));
        let webhook_secret = format!("whsec_{}", random_hex(32));
        let state = Arc::new(State {
            base: base.clone(),
            secret_key: secret_key.clone(),
            webhook_secret: webhook_secret.clone(),
            webhook_target: Mutex::new(None),
            inner: Mutex::new(Inner::default()),
        });
        let data = web::Data::from(Arc::clone(&state));
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .default_service(web::to(dispatch))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .expect("Stripe test server listens")
                .run();
                let _ = tx.send(server.handle());
                let _ = server.await;
            });
        });
        let handle = rx.recv().expect("Stripe test server starts");
        StripeServer {
            base,
            secret_key,
            webhook_secret,
            state,
            handle: Some(handle),
            thread: Some(thread),
        }
    }

    /// The checkout sessions created so far, oldest first, as last updated.
    pub fn sessions(&self) -> Vec<Value> {
        self.state.lock().sessions.clone()
    }

    /// The checkout session with this id, as last updated.
    pub fn session(&self, id: &str) -> Option<Value> {
        self.state.lock().session_mut(id).map(|s| s.clone())
    }

    /// The refunds created so far, oldest first.
    pub fn refunds(&self) -> Vec<Value> {
        self.state.lock().refunds.clone()
    }

    /// Every request received so far (including refused ones), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().requests.clone()
    }

    /// The idempotency keys of the POSTs answered so far, in the order first used
    /// (a replay adds none).
    pub fn idempotency_keys(&self) -> Vec<String> {
        self.state
            .lock()
            .idempotent
            .iter()
            .map(|r| r.key.clone())
            .collect()
    }

    /// The next API request, whatever it is, is answered with `status` and a Stripe
    /// error body `{"error":{"type":"api_error","message":…}}`.
    pub fn fail_next(&self, status: u16) {
        self.state.lock().fail_next = Some(status);
    }

    /// The session as Stripe reports it once paid: status "complete", payment_status
    /// "paid", payment_intent "pi_test_<n>" (stored, so later refunds can find it),
    /// amount_total as created unless `amount_total` override given.
    ///
    /// Panics if there is no such session.
    pub fn completed_session(&self, id: &str, amount_total: Option<i64>) -> Value {
        self.state.complete(id, amount_total)
    }

    /// Makes the hosted payment page (`{base}/pay/{id}`, where the app sends buyers)
    /// work like Stripe's: paying there completes the session, posts a signed
    /// `checkout.session.completed` to `{app_base}/webhooks/stripe` and sends the buyer
    /// to the session's success URL.
    pub fn send_events_to(&self, app_base: &str) {
        *self
            .state
            .webhook_target
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(app_base.to_string());
    }

    /// The session as Stripe reports it once expired unpaid: status "expired",
    /// payment_status "unpaid".
    ///
    /// Panics if there is no such session.
    pub fn expired_session(&self, id: &str) -> Value {
        let mut inner = self.state.lock();
        let session = inner
            .session_mut(id)
            .unwrap_or_else(|| panic!("no checkout session {id}"));
        expire(session);
        session.clone()
    }

    /// A charge.refunded-style charge object for a payment intent: amount,
    /// amount_refunded, refunded (true once fully refunded), payment_intent, currency
    /// (the session's, "cny" for an unknown payment intent), and the refunds this server
    /// made for that payment intent.
    pub fn refunded_charge(
        &self,
        payment_intent: &str,
        amount: i64,
        amount_refunded: i64,
    ) -> Value {
        let inner = self.state.lock();
        let (id, currency) = match inner.payments.get(payment_intent) {
            Some(p) => (p.charge.clone(), p.currency.clone()),
            None => (format!("ch_test_{}", next_n()), "cny".to_string()),
        };
        let refunds: Vec<Value> = inner
            .refunds
            .iter()
            .filter(|r| r["payment_intent"] == payment_intent)
            .cloned()
            .collect();
        let mut charge = fixture("charge");
        charge["id"] = json!(id);
        charge["amount"] = json!(amount);
        charge["amount_captured"] = json!(amount);
        charge["amount_refunded"] = json!(amount_refunded);
        charge["captured"] = json!(true);
        charge["paid"] = json!(true);
        charge["refunded"] = json!(amount_refunded >= amount);
        charge["status"] = json!("succeeded");
        charge["payment_intent"] = json!(payment_intent);
        charge["currency"] = json!(currency);
        charge["created"] = json!(now());
        charge["livemode"] = json!(false);
        // A Checkout payment is a PaymentIntent's charge to this account: no legacy
        // Source, no shipping, no Connect transfer. (The fixture's placeholders there,
        // `source.flow: "flow"` and `transfer_data.destination.id: "obj_123"`, do not
        // parse in async-stripe 0.41 anyway.)
        charge["source"] = Value::Null;
        charge["shipping"] = Value::Null;
        charge["transfer_data"] = Value::Null;
        charge["refunds"] = json!({
            "object": "list",
            "data": refunds,
            "has_more": false,
            "url": format!("/v1/charges/{id}/refunds"),
        });
        charge
    }

    /// An event from resources["event"]: fresh id "evt_test_<n>", `type`, data.object =
    /// object, created = now.
    pub fn event(&self, event_type: &str, object: Value) -> Value {
        self.event_with_id(&format!("evt_test_{}", next_n()), event_type, object)
    }

    /// Like [`StripeServer::event`] with a given id, e.g. to build a redelivery.
    pub fn event_with_id(&self, id: &str, event_type: &str, object: Value) -> Value {
        let mut event = fixture("event");
        event["id"] = json!(id);
        event["type"] = json!(event_type);
        event["data"] = json!({ "object": object });
        event["created"] = json!(now());
        event["livemode"] = json!(false);
        // It is being delivered to one endpoint.
        event["pending_webhooks"] = json!(1);
        event
    }

    /// `Stripe-Signature` header value: "t=<unix>,v1=<hex HMAC-SHA256(webhook_secret,
    /// "<t>.<body>")>".
    pub fn signature(&self, body: &str, unix_time: i64) -> String {
        sign(&self.webhook_secret, body, unix_time)
    }

    /// POSTs the event to `{app_base}/webhooks/stripe` with content-type
    /// application/json and a signature at `unix_time`, as Stripe delivers it; returns
    /// (status, body text). Call it outside any async runtime (it blocks).
    pub fn deliver(&self, app_base: &str, event: &Value, unix_time: i64) -> (u16, String) {
        let body = serde_json::to_string(event).expect("event serializes");
        let signature = self.signature(&body, unix_time);
        let url = format!("{}/webhooks/stripe", app_base.trim_end_matches('/'));
        let response = reqwest::blocking::Client::new()
            .post(&url)
            .header("content-type", "application/json; charset=utf-8")
            .header(
                "user-agent",
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            )
            .header("stripe-signature", signature)
            .body(body)
            .send()
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = response.status().as_u16();
        (status, response.text().expect("webhook response body"))
    }
}

impl Drop for StripeServer {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            // The stop command is sent at once; the returned future only waits for it.
            drop(handle.stop(false));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// HMAC-SHA256 (RFC 2104) with a 64-byte block.
fn sign(secret: &str, body: &str, unix_time: i64) -> String {
    let signed = format!("{unix_time}.{body}");
    let mac = hmac_sha256(secret.as_bytes(), signed.as_bytes());
    format!("t={unix_time},v1={}", hex::encode(mac))
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// `chars` hex digits that differ between servers and runs (not a secret from anyone).
fn random_hex(chars: usize) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{}-{}-{nanos}", std::process::id(), next_n());
    let mut digest = hex::encode(Sha256::digest(seed.as_bytes()));
    digest.truncate(chars);
    digest
}

fn expire(session: &mut Value) {
    session["status"] = json!("expired");
    session["payment_status"] = json!("unpaid");
    session["url"] = Value::Null;
}

/// A refusal in Stripe's error format.
struct ApiError {
    status: u16,
    kind: &'static str,
    code: Option<&'static str>,
    param: Option<String>,
    message: String,
}

impl ApiError {
    fn invalid(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind: "invalid_request_error",
            code: None,
            param: None,
            message: message.into(),
        }
    }

    fn code(mut self, code: &'static str) -> ApiError {
        self.code = Some(code);
        self
    }

    fn param(mut self, param: &str) -> ApiError {
        self.param = Some(param.to_string());
        self
    }

    fn missing(param: &str) -> ApiError {
        ApiError::invalid(400, format!("Missing required param: {param}."))
            .code("parameter_missing")
            .param(param)
    }

    fn response(&self) -> HttpResponse {
        let mut error = Map::new();
        error.insert("type".into(), json!(self.kind));
        error.insert("message".into(), json!(self.message));
        if let Some(code) = self.code {
            error.insert("code".into(), json!(code));
        }
        if let Some(param) = &self.param {
            error.insert("param".into(), json!(param));
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        HttpResponse::build(status).json(json!({ "error": error }))
    }
}

/// Every request: recorded, then failed on demand, authenticated and routed.
async fn dispatch(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let method = req.method().as_str().to_string();
    let path = req.path().to_string();
    if let Some(id) = path.strip_prefix("/pay/") {
        return hosted_page(&state, &method, id).await;
    }
    let raw: &[u8] = if method == "GET" || method == "DELETE" {
        req.query_string().as_bytes()
    } else {
        &body
    };
    let parsed = serde_urlencoded::from_bytes::<Vec<(String, String)>>(raw);
    let mut inner = state.lock();
    inner.requests.push((
        method.clone(),
        path.clone(),
        parsed.as_ref().map_or_else(|_| Vec::new(), Clone::clone),
    ));
    if let Some(status) = inner.fail_next.take() {
        return ApiError {
            status,
            kind: "api_error",
            code: None,
            param: None,
            message: format!("The Stripe test server was told to fail this request with {status}."),
        }
        .response();
    }
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|key| key == state.secret_key);
    if !authorized {
        return ApiError::invalid(401, "Invalid API Key provided.").response();
    }
    let params = match parsed {
        Ok(params) => params,
        Err(e) => return ApiError::invalid(400, format!("Invalid request body: {e}")).response(),
    };
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|_| method == "POST")
        .map(str::to_string);
    let mut sorted = params.clone();
    sorted.sort();
    let request = (method.clone(), path.clone(), sorted);
    if let Some(key) = &key {
        // Keys are forgotten after 24 hours.
        let created = now();
        inner.idempotent.retain(|r| created - r.at < 24 * 3600);
        if let Some(first) = inner.idempotent.iter().find(|r| r.key == *key) {
            return replay(first, key, &request);
        }
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let answer = match (method.as_str(), segments.as_slice()) {
        ("POST", ["v1", "checkout", "sessions"]) => create_session(&state, &mut inner, &params),
        ("GET", ["v1", "checkout", "sessions", id]) => inner
            .session_mut(id)
            .map(|s| s.clone())
            .ok_or_else(|| no_such_session(id)),
        ("POST", ["v1", "checkout", "sessions", id, "expire"]) => match inner.session_mut(id) {
            Some(session) if session["status"] == "open" => {
                expire(session);
                Ok(session.clone())
            }
            Some(session) => Err(ApiError::invalid(
                400,
                format!(
                    "Only Checkout Sessions with a status in [\"open\"] can be expired. \
                     This Checkout Session has a status of {}.",
                    session["status"]
                ),
            )),
            None => Err(no_such_session(id)),
        },
        ("POST", ["v1", "refunds"]) => create_refund(&mut inner, &params),
        _ => Err(ApiError::invalid(
            404,
            format!("Unrecognized request URL ({method}: {path})."),
        )),
    };
    match answer {
        Ok(object) => {
            if let Some(key) = key {
                inner.idempotent.push(Remembered {
                    key,
                    request,
                    at: now(),
                    answer: object.clone(),
                });
            }
            HttpResponse::Ok().json(object)
        }
        Err(error) => error.response(),
    }
}

/// A request whose idempotency key was used before: the first answer again when it asks
/// the same thing, and Stripe's refusal when it does not.
fn replay(first: &Remembered, key: &str, request: &RecordedRequest) -> HttpResponse {
    let (method, path, _) = request;
    let message = if (&first.request.0, &first.request.1) != (method, path) {
        format!(
            "Keys for idempotent requests can only be used for the same endpoint they were \
             first used for ('{} {}' vs '{method} {path}'). Try using a key other than \
             '{key}' if you meant to execute a different request.",
            first.request.0, first.request.1
        )
    } else if first.request != *request {
        format!(
            "Keys for idempotent requests can only be used with the same parameters they \
             were first used with. Try using a key other than '{key}' if you meant to \
             execute a different request."
        )
    } else {
        return HttpResponse::Ok()
            .insert_header(("idempotent-replayed", "true"))
            .json(&first.answer);
    };
    ApiError {
        status: 400,
        kind: "idempotency_error",
        code: None,
        param: None,
        message,
    }
    .response()
}

/// Stripe's hosted payment page, reduced to one button: GET shows the amount, POST pays,
/// delivers the signed event to the app and redirects to the success URL.
async fn hosted_page(state: &web::Data<State>, method: &str, id: &str) -> HttpResponse {
    let session = state.lock().session_mut(id).map(|s| s.clone());
    let Some(session) = session.filter(|s| s["status"] == "open") else {
        return HttpResponse::NotFound().body("no open checkout session");
    };
    if method == "GET" {
        let amount = session["amount_total"].as_i64().unwrap_or(0);
        let page = format!(
            "<!doctype html><meta name=viewport content=\"width=device-width\">\
             <title>Stripe test checkout</title><p id=amount>CNY {}.{:02}</p>\
             <form method=post><button id=pay type=submit>Pay</button></form>",
            amount / 100,
            amount % 100
        );
        return HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(page);
    }
    let completed = state.complete(id, None);
    let target = state
        .webhook_target
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if let Some(app) = target {
        let mut event = fixture("event");
        event["id"] = json!(format!("evt_test_{}", next_n()));
        event["type"] = json!("checkout.session.completed");
        event["data"] = json!({ "object": completed });
        event["created"] = json!(now());
        let body = event.to_string();
        let signature = sign(&state.webhook_secret, &body, now());
        // Blocking HTTP off the server's async thread, as Stripe posts from elsewhere.
        let delivered = web::block(move || {
            reqwest::blocking::Client::new()
                .post(format!("{app}/webhooks/stripe"))
                .header("content-type", "application/json; charset=utf-8")
                .header("stripe-signature", signature)
                .body(body)
                .send()
                .map(|r| r.status().as_u16())
        })
        .await;
        if !matches!(delivered, Ok(Ok(200))) {
            return HttpResponse::BadGateway().body(format!("webhook delivery: {delivered:?}"));
        }
    }
    let success = session["success_url"].as_str().unwrap_or("/").to_string();
    HttpResponse::SeeOther()
        .insert_header(("location", success))
        .finish()
}

fn no_such_session(id: &str) -> ApiError {
    ApiError::invalid(404, format!("No such checkout.session: '{id}'"))
        .code("resource_missing")
        .param("session")
}

/// Form parameters in bracket notation as nested objects: `a[b][0]=x` becomes
/// `{"a":{"b":{"0":"x"}}}` (list indices stay object keys; see [`list`]).
fn nest(params: &[(String, String)]) -> Result<Map<String, Value>, ApiError> {
    let mut root = Map::new();
    for (key, value) in params {
        let bad = || ApiError::invalid(400, format!("Invalid parameter name: {key}")).param(key);
        let (head, mut rest) = match key.find('[') {
            Some(i) => key.split_at(i),
            None => (key.as_str(), ""),
        };
        let mut path = vec![head.to_string()];
        while !rest.is_empty() {
            let end = rest
                .find(']')
                .filter(|_| rest.starts_with('['))
                .ok_or_else(bad)?;
            path.push(rest[1..end].to_string());
            rest = &rest[end + 1..];
        }
        let mut map = &mut root;
        let last = path.len() - 1;
        for (i, segment) in path.into_iter().enumerate() {
            // `a[]=x&a[]=y` appends.
            let segment = if segment.is_empty() {
                map.len().to_string()
            } else {
                segment
            };
            if i == last {
                if map.get(&segment).is_some_and(Value::is_object) {
                    return Err(bad());
                }
                map.insert(segment, json!(value));
                break;
            }
            map = map
                .entry(segment)
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .ok_or_else(bad)?;
        }
    }
    Ok(root)
}

/// The items of a list parameter (`name[0]`, `name[1]`, …) in index order.
fn list<'a>(params: &'a Map<String, Value>, name: &str) -> Result<Vec<&'a Value>, ApiError> {
    let Some(value) = params.get(name) else {
        return Ok(Vec::new());
    };
    let items = value
        .as_object()
        .ok_or_else(|| ApiError::invalid(400, format!("Invalid array: {name}")).param(name))?;
    let mut indexed = Vec::new();
    for (index, item) in items {
        let index: usize = index.parse().map_err(|_| {
            ApiError::invalid(400, format!("Invalid array index: {name}[{index}]")).param(name)
        })?;
        indexed.push((index, item));
    }
    indexed.sort_by_key(|(index, _)| *index);
    Ok(indexed.into_iter().map(|(_, item)| item).collect())
}

fn string(params: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match params.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(400, format!("Invalid string: {name}")).param(name)),
    }
}

fn integer(params: &Map<String, Value>, name: &str) -> Result<Option<i64>, ApiError> {
    let Some(text) = string(params, name)? else {
        return Ok(None);
    };
    text.parse().map(Some).map_err(|_| {
        ApiError::invalid(400, format!("Invalid integer: {text}"))
            .code("parameter_invalid_integer")
            .param(name)
    })
}

/// `metadata[key]=value` as an object of strings (`metadata=` clears: an empty object).
fn metadata(params: &Map<String, Value>) -> Result<Value, ApiError> {
    match params.get("metadata") {
        None => Ok(json!({})),
        Some(Value::String(s)) if s.is_empty() => Ok(json!({})),
        Some(Value::Object(map)) if map.values().all(Value::is_string) => {
            Ok(Value::Object(map.clone()))
        }
        Some(_) => Err(
            ApiError::invalid(400, "Invalid metadata: values must be strings").param("metadata"),
        ),
    }
}

fn create_session(
    state: &State,
    inner: &mut Inner,
    form: &[(String, String)],
) -> Result<Value, ApiError> {
    let params = nest(form)?;
    let mode = string(&params, "mode")?.ok_or_else(|| ApiError::missing("mode"))?;
    let mut currency = string(&params, "currency")?.map(|c| c.to_lowercase());
    let items = list(&params, "line_items")?;
    if mode == "payment" && items.is_empty() {
        return Err(ApiError::missing("line_items"));
    }
    let mut total: i64 = 0;
    for (i, item) in items.iter().enumerate() {
        let name = format!("line_items[{i}]");
        let item = item
            .as_object()
            .ok_or_else(|| ApiError::invalid(400, format!("Invalid object: {name}")))?;
        // This server knows no Prices: every line item brings its price_data.
        let price = item
            .get("price_data")
            .and_then(Value::as_object)
            .ok_or_else(|| ApiError::missing(&format!("{name}[price_data]")))?;
        let unit_amount = integer(price, "unit_amount")?
            .ok_or_else(|| ApiError::missing(&format!("{name}[price_data][unit_amount]")))?;
        let quantity = integer(item, "quantity")?
            .ok_or_else(|| ApiError::missing(&format!("{name}[quantity]")))?;
        let item_currency = string(price, "currency")?
            .ok_or_else(|| ApiError::missing(&format!("{name}[price_data][currency]")))?
            .to_lowercase();
        if unit_amount < 0 || quantity < 1 {
            return Err(ApiError::invalid(
                400,
                format!("{name}: unit_amount must be ≥ 0 and quantity ≥ 1"),
            )
            .param(&name));
        }
        match &currency {
            Some(c) if *c != item_currency => {
                return Err(ApiError::invalid(
                    400,
                    format!("{name} is in {item_currency}, the session in {c}"),
                )
                .param(&format!("{name}[price_data][currency]")));
            }
            Some(_) => {}
            None => currency = Some(item_currency),
        }
        total = unit_amount
            .checked_mul(quantity)
            .and_then(|amount| total.checked_add(amount))
            .ok_or_else(|| ApiError::invalid(400, "Amount too large").code("amount_too_large"))?;
    }
    let currency = currency.ok_or_else(|| ApiError::missing("currency"))?;
    let created = now();
    // Stripe accepts 30 minutes to 24 hours from now (a few seconds of slack here).
    let expires_at = match integer(&params, "expires_at")? {
        Some(at) if at < created + 30 * 60 - 10 || at > created + 24 * 3600 + 10 => {
            return Err(ApiError::invalid(
                400,
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from \
                 Checkout Session creation.",
            )
            .param("expires_at"));
        }
        Some(at) => at,
        None => created + 24 * 3600,
    };
    let payment_method_types = list(&params, "payment_method_types")?;
    if payment_method_types.iter().any(|t| !t.is_string()) {
        return Err(
            ApiError::invalid(400, "Invalid payment_method_types").param("payment_method_types")
        );
    }

    let id = format!("cs_test_{}", next_n());
    let mut session = fixture("checkout.session");
    session["id"] = json!(id);
    session["object"] = json!("checkout.session");
    session["mode"] = json!(mode);
    session["status"] = json!("open");
    session["payment_status"] = json!("unpaid");
    session["payment_intent"] = Value::Null;
    session["currency"] = json!(currency);
    session["amount_subtotal"] = json!(total);
    session["amount_total"] = json!(total);
    // No discounts, shipping, tax or currency conversion: nothing added to the items.
    session["total_details"] =
        json!({ "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 });
    session["shipping_cost"] = Value::Null;
    session["currency_conversion"] = Value::Null;
    // Nobody has filled in the payment page yet.
    session["customer_details"] = Value::Null;
    session["client_reference_id"] = json!(string(&params, "client_reference_id")?);
    session["customer_email"] = json!(string(&params, "customer_email")?);
    session["success_url"] = json!(string(&params, "success_url")?);
    session["cancel_url"] = json!(string(&params, "cancel_url")?);
    session["metadata"] = metadata(&params)?;
    if !payment_method_types.is_empty() {
        session["payment_method_types"] = json!(payment_method_types);
    }
    session["expires_at"] = json!(expires_at);
    session["url"] = json!(format!("{}/pay/{id}", state.base));
    session["livemode"] = json!(false);
    session["created"] = json!(created);
    inner.sessions.push(session.clone());
    Ok(session)
}

fn create_refund(inner: &mut Inner, form: &[(String, String)]) -> Result<Value, ApiError> {
    let params = nest(form)?;
    let payment_intent =
        string(&params, "payment_intent")?.ok_or_else(|| ApiError::missing("payment_intent"))?;
    let (charge, paid, currency) = match inner.payments.get(&payment_intent) {
        Some(p) => (p.charge.clone(), p.amount, p.currency.clone()),
        None => {
            return Err(ApiError::invalid(
                400,
                format!("No such payment_intent: '{payment_intent}'"),
            )
            .code("resource_missing")
            .param("payment_intent"));
        }
    };
    let remaining = paid - inner.refunded(&payment_intent);
    if remaining <= 0 {
        return Err(
            ApiError::invalid(400, format!("Charge {charge} has already been refunded."))
                .code("charge_already_refunded"),
        );
    }
    let amount = integer(&params, "amount")?.unwrap_or(remaining);
    if amount <= 0 {
        return Err(
            ApiError::invalid(400, "This value must be greater than or equal to 1.")
                .param("amount"),
        );
    }
    if amount > remaining {
        return Err(ApiError::invalid(
            400,
            format!(
                "Refund amount ({amount} {currency}) is greater than unrefunded amount on \
                 charge ({remaining} {currency})"
            ),
        )
        .param("amount"));
    }
    let reason = string(&params, "reason")?;
    if let Some(reason) = &reason {
        if !["duplicate", "fraudulent", "requested_by_customer"].contains(&reason.as_str()) {
            return Err(ApiError::invalid(400, format!("Invalid reason: {reason}")).param("reason"));
        }
    }
    let mut refund = fixture("refund");
    refund["id"] = json!(format!("re_test_{}", next_n()));
    refund["amount"] = json!(amount);
    refund["currency"] = json!(currency);
    refund["payment_intent"] = json!(payment_intent);
    refund["charge"] = json!(charge);
    refund["status"] = json!("succeeded");
    refund["reason"] = json!(reason);
    refund["metadata"] = metadata(&params)?;
    refund["created"] = json!(now());
    inner.refunds.push(refund.clone());
    Ok(refund)
}

// ---------------------------------------------------------------------------------------
// The server against async-stripe 0.41, the client library the app uses.

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

fn client(server: &StripeServer) -> stripe::Client {
    stripe::Client::from_url(server.base.as_str(), server.secret_key.clone())
}

fn line_item(
    name: &str,
    unit_amount: i64,
    quantity: u64,
) -> stripe::CreateCheckoutSessionLineItems {
    stripe::CreateCheckoutSessionLineItems {
        price_data: Some(stripe::CreateCheckoutSessionLineItemsPriceData {
            currency: stripe::Currency::CNY,
            product_data: Some(stripe::CreateCheckoutSessionLineItemsPriceDataProductData {
                name: name.to_string(),
                ..Default::default()
            }),
            unit_amount: Some(unit_amount),
            ..Default::default()
        }),
        quantity: Some(quantity),
        ..Default::default()
    }
}

/// Order 7's checkout: 2 × ¥12.50 + 1 × ¥8.00 = ¥33.00.
async fn create_order_session(
    client: &stripe::Client,
) -> Result<stripe::CheckoutSession, stripe::StripeError> {
    use stripe::CreateCheckoutSessionPaymentMethodTypes as Method;
    let mut params = stripe::CreateCheckoutSession::new();
    params.mode = Some(stripe::CheckoutSessionMode::Payment);
    params.line_items = Some(vec![
        line_item("大同黄花 200 g", 1250, 2),
        line_item("小米 1 kg", 800, 1),
    ]);
    params.client_reference_id = Some("order-7");
    params.customer_email = Some("buyer@example.com");
    params.metadata = Some(HashMap::from([("order_id".to_string(), "7".to_string())]));
    params.success_url = Some("https://market.example/orders/7/paid?session={CHECKOUT_SESSION_ID}");
    params.cancel_url = Some("https://market.example/orders/7");
    params.payment_method_types = Some(vec![Method::Card, Method::Alipay, Method::WechatPay]);
    stripe::CheckoutSession::create(client, params).await
}

fn request_error(
    result: Result<impl std::fmt::Debug, stripe::StripeError>,
) -> stripe::RequestError {
    match result {
        Err(stripe::StripeError::Stripe(error)) => error,
        other => panic!("expected an error reply from Stripe, got {other:?}"),
    }
}

#[test]
fn creates_a_checkout_session_from_the_fixture() {
    let server = StripeServer::start();
    let session = block_on(create_order_session(&client(&server))).expect("session created");

    assert!(session.id.as_str().starts_with("cs_test_"));
    assert_eq!(session.amount_total, Some(3300));
    assert_eq!(session.amount_subtotal, Some(3300));
    assert_eq!(session.currency, Some(stripe::Currency::CNY));
    assert_eq!(session.mode, stripe::CheckoutSessionMode::Payment);
    assert_eq!(session.status, Some(stripe::CheckoutSessionStatus::Open));
    assert_eq!(
        session.payment_status,
        stripe::CheckoutSessionPaymentStatus::Unpaid
    );
    assert!(session.payment_intent.is_none());
    assert_eq!(session.client_reference_id.as_deref(), Some("order-7"));
    assert_eq!(session.customer_email.as_deref(), Some("buyer@example.com"));
    let metadata = session.metadata.clone().expect("metadata");
    assert_eq!(metadata.get("order_id").map(String::as_str), Some("7"));
    assert_eq!(
        session.payment_method_types,
        ["card", "alipay", "wechat_pay"]
    );
    let url = session.url.clone().expect("payment page url");
    assert!(url.starts_with(&server.base), "{url}");
    assert!(session.expires_at > session.created + 23 * 3600);
    assert!(!session.livemode);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let (method, path, params) = &requests[0];
    assert_eq!(
        (method.as_str(), path.as_str()),
        ("POST", "/v1/checkout/sessions")
    );
    for (key, value) in [
        ("mode", "payment"),
        ("line_items[0][price_data][currency]", "cny"),
        ("line_items[0][price_data][unit_amount]", "1250"),
        (
            "line_items[0][price_data][product_data][name]",
            "大同黄花 200 g",
        ),
        ("line_items[0][quantity]", "2"),
        ("line_items[1][price_data][unit_amount]", "800"),
        ("line_items[1][quantity]", "1"),
        ("client_reference_id", "order-7"),
        ("metadata[order_id]", "7"),
        ("payment_method_types[0]", "card"),
        ("payment_method_types[1]", "alipay"),
        ("payment_method_types[2]", "wechat_pay"),
        (
            "success_url",
            "https://market.example/orders/7/paid?session={CHECKOUT_SESSION_ID}",
        ),
    ] {
        assert!(
            params.iter().any(|(k, v)| k == key && v == value),
            "{key}={value} in {params:?}"
        );
    }
    // No top-level currency was sent: the session takes the line items' one.
    assert!(!params.iter().any(|(k, _)| k == "currency"));

    let stored = server.sessions();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"], session.id.as_str());
    assert_eq!(stored[0]["amount_total"], 3300);
    assert_eq!(
        server.session(session.id.as_str()).as_ref(),
        Some(&stored[0])
    );
    assert_eq!(server.session("cs_test_missing"), None);
    // Fields nobody overwrote are the fixture's own.
    let fixture = fixture("checkout.session");
    assert_eq!(stored[0]["custom_text"], fixture["custom_text"]);
    assert_eq!(stored[0]["automatic_tax"], fixture["automatic_tax"]);
}

#[test]
fn retrieves_sessions_as_last_updated_and_refuses_unknown_ones() {
    let server = StripeServer::start();
    let client = client(&server);
    block_on(async {
        let created = create_order_session(&client)
            .await
            .expect("session created");
        let open = stripe::CheckoutSession::retrieve(&client, &created.id, &[])
            .await
            .expect("session retrieved");
        assert_eq!(open.id, created.id);
        assert_eq!(open.status, Some(stripe::CheckoutSessionStatus::Open));
        assert_eq!(open.amount_total, Some(3300));

        server.completed_session(created.id.as_str(), None);
        let paid = stripe::CheckoutSession::retrieve(&client, &created.id, &[])
            .await
            .expect("session retrieved");
        assert_eq!(paid.status, Some(stripe::CheckoutSessionStatus::Complete));
        assert_eq!(
            paid.payment_status,
            stripe::CheckoutSessionPaymentStatus::Paid
        );
        let pi = paid.payment_intent.as_ref().map(|pi| pi.id().to_string());
        assert!(
            pi.as_deref().is_some_and(|pi| pi.starts_with("pi_test_")),
            "{pi:?}"
        );
        assert!(paid.url.is_none());
        let customer = paid.customer_details.expect("customer details once paid");
        assert_eq!(customer.email.as_deref(), Some("buyer@example.com"));

        let missing: stripe::CheckoutSessionId = "cs_test_missing".parse().expect("id");
        let error = request_error(stripe::CheckoutSession::retrieve(&client, &missing, &[]).await);
        assert_eq!(error.http_status, 404);
        assert_eq!(error.error_type, stripe::ErrorType::InvalidRequest);
        assert_eq!(error.code, Some(stripe::ErrorCode::ResourceMissing));

        let other = create_order_session(&client)
            .await
            .expect("session created")
            .id;
        let expired = stripe::CheckoutSession::expire(&client, &other)
            .await
            .expect("expired");
        assert_eq!(expired.status, Some(stripe::CheckoutSessionStatus::Expired));
        let again = request_error(stripe::CheckoutSession::expire(&client, &other).await);
        assert_eq!(again.http_status, 400);
    });
    assert_eq!(server.sessions().len(), 2);
    let first = server.sessions()[0]["id"].as_str().expect("id").to_string();
    let retrieve = (
        "GET".to_string(),
        format!("/v1/checkout/sessions/{first}"),
        vec![],
    );
    assert!(server.requests().contains(&retrieve));
    let expired = server.expired_session(server.sessions()[0]["id"].as_str().expect("id"));
    assert_eq!(expired["status"], "expired");
    assert_eq!(expired["payment_status"], "unpaid");
}

#[test]
fn refunds_what_was_paid_and_no_more() {
    let server = StripeServer::start();
    let client = client(&server);
    block_on(async {
        let session = create_order_session(&client)
            .await
            .expect("session created");
        let paid = server.completed_session(session.id.as_str(), None);
        let pi: stripe::PaymentIntentId = paid["payment_intent"]
            .as_str()
            .expect("payment intent")
            .parse()
            .expect("payment intent id");

        let mut params = stripe::CreateRefund::new();
        params.payment_intent = Some(pi.clone());
        params.amount = Some(1000);
        params.reason = Some(stripe::RefundReasonFilter::RequestedByCustomer);
        params.metadata = Some(HashMap::from([("order_id".to_string(), "7".to_string())]));
        let refund = stripe::Refund::create(&client, params)
            .await
            .expect("refund");
        assert!(refund.id.as_str().starts_with("re_test_"));
        assert_eq!(refund.amount, 1000);
        assert_eq!(refund.currency, stripe::Currency::CNY);
        assert_eq!(refund.status.as_deref(), Some("succeeded"));
        assert_eq!(
            refund.payment_intent.as_ref().map(|p| p.id()),
            Some(pi.clone())
        );
        assert!(
            refund
                .charge
                .as_ref()
                .is_some_and(|c| c.id().as_str().starts_with("ch_test_"))
        );
        let metadata = refund.metadata.expect("metadata");
        assert_eq!(metadata.get("order_id").map(String::as_str), Some("7"));

        // ¥23.00 remain: ¥23.01 is too much.
        let mut params = stripe::CreateRefund::new();
        params.payment_intent = Some(pi.clone());
        params.amount = Some(2301);
        let error = request_error(stripe::Refund::create(&client, params).await);
        assert_eq!(error.http_status, 400);
        assert_eq!(error.error_type, stripe::ErrorType::InvalidRequest);

        // Without an amount: the rest.
        let mut params = stripe::CreateRefund::new();
        params.payment_intent = Some(pi.clone());
        let rest = stripe::Refund::create(&client, params)
            .await
            .expect("refund of the rest");
        assert_eq!(rest.amount, 2300);

        let mut params = stripe::CreateRefund::new();
        params.payment_intent = Some(pi.clone());
        let error = request_error(stripe::Refund::create(&client, params).await);
        assert_eq!(error.code, Some(stripe::ErrorCode::ChargeAlreadyRefunded));

        let mut params = stripe::CreateRefund::new();
        params.payment_intent = Some("pi_test_unknown".parse().expect("id"));
        let error = request_error(stripe::Refund::create(&client, params).await);
        assert_eq!(error.code, Some(stripe::ErrorCode::ResourceMissing));
    });
    let refunds = server.refunds();
    assert_eq!(refunds.len(), 2);
    assert_eq!(refunds[0]["amount"], 1000);
    assert_eq!(refunds[0]["reason"], "requested_by_customer");
    assert_eq!(refunds[1]["amount"], 2300);
    assert_eq!(refunds[0]["charge"], refunds[1]["charge"]);
}

#[test]
fn signed_events_parse_and_bad_signatures_do_not() {
    let server = StripeServer::start();
    let session = block_on(create_order_session(&client(&server))).expect("session created");
    let now = now();

    let completed = server.completed_session(session.id.as_str(), None);
    let pi = completed["payment_intent"]
        .as_str()
        .expect("payment intent")
        .to_string();
    let event = server.event("checkout.session.completed", completed);
    let body = serde_json::to_string(&event).expect("json");
    let signature = server.signature(&body, now);
    let parsed = stripe::Webhook::construct_event(&body, &signature, &server.webhook_secret)
        .expect("signed event is accepted");
    assert!(parsed.id.as_str().starts_with("evt_test_"));
    assert_eq!(parsed.type_, stripe::EventType::CheckoutSessionCompleted);
    match parsed.data.object {
        stripe::EventObject::CheckoutSession(paid) => {
            assert_eq!(paid.id, session.id);
            assert_eq!(paid.amount_total, Some(3300));
            assert_eq!(
                paid.payment_status,
                stripe::CheckoutSessionPaymentStatus::Paid
            );
            assert_eq!(
                paid.payment_intent.map(|p| p.id().to_string()),
                Some(pi.clone())
            );
        }
        other => panic!("expected a checkout session, got {other:?}"),
    }

    let wrong = stripe::Webhook::construct_event(&body, &signature, "whsec_not_the_secret");
    assert!(
        matches!(wrong, Err(stripe::WebhookError::BadSignature)),
        "{wrong:?}"
    );
    let stale = server.signature(&body, now - 600);
    let old = stripe::Webhook::construct_event(&body, &stale, &server.webhook_secret);
    assert!(
        matches!(old, Err(stripe::WebhookError::BadTimestamp(_))),
        "{old:?}"
    );
    let tampered = body.replace("3300", "3301");
    let forged = stripe::Webhook::construct_event(&tampered, &signature, &server.webhook_secret);
    assert!(
        matches!(forged, Err(stripe::WebhookError::BadSignature)),
        "{forged:?}"
    );

    let charge = server.refunded_charge(&pi, 3300, 1000);
    let event = server.event("charge.refunded", charge);
    let body = serde_json::to_string(&event).expect("json");
    let parsed = stripe::Webhook::construct_event(
        &body,
        &server.signature(&body, now),
        &server.webhook_secret,
    )
    .expect("signed charge event is accepted");
    assert_eq!(parsed.type_, stripe::EventType::ChargeRefunded);
    match parsed.data.object {
        stripe::EventObject::Charge(charge) => {
            assert!(charge.id.as_str().starts_with("ch_test_"));
            assert_eq!(charge.amount, 3300);
            assert_eq!(charge.amount_refunded, 1000);
            assert!(!charge.refunded);
            assert_eq!(charge.currency, stripe::Currency::CNY);
            assert_eq!(
                charge.payment_intent.map(|p| p.id().to_string()),
                Some(pi.clone())
            );
        }
        other => panic!("expected a charge, got {other:?}"),
    }
    let full = server.refunded_charge(&pi, 3300, 3300);
    assert_eq!(full["refunded"], true);
}

/// A stand-in for the app's webhook endpoint: 200 with the event id when the signature
/// holds, 400 otherwise.
struct WebhookReceiver {
    base: String,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl WebhookReceiver {
    fn start(secret: &str) -> WebhookReceiver {
        async fn receive(
            req: HttpRequest,
            body: String,
            secret: web::Data<String>,
        ) -> HttpResponse {
            let signature = req
                .headers()
                .get("stripe-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            match stripe::Webhook::construct_event(&body, signature, &secret) {
                Ok(event) if req.path() == "/webhooks/stripe" => {
                    HttpResponse::Ok().body(event.id.to_string())
                }
                Ok(_) => HttpResponse::NotFound().finish(),
                Err(e) => HttpResponse::BadRequest().body(e.to_string()),
            }
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let secret = web::Data::new(secret.to_string());
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(secret.clone())
                        .default_service(web::to(receive))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .expect("listen")
                .run();
                let _ = tx.send(server.handle());
                let _ = server.await;
            });
        });
        let handle = rx.recv().expect("receiver starts");
        WebhookReceiver {
            base,
            handle,
            thread: Some(thread),
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn delivers_signed_events_to_a_webhook() {
    let server = StripeServer::start();
    let receiver = WebhookReceiver::start(&server.webhook_secret);
    let session = block_on(create_order_session(&client(&server))).expect("session created");
    let event = server.event(
        "checkout.session.expired",
        server.expired_session(session.id.as_str()),
    );
    let (status, body) = server.deliver(&receiver.base, &event, now());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, event["id"].as_str().expect("id"));
    let (status, body) = server.deliver(&format!("{}/", receiver.base), &event, now() - 600);
    assert_eq!(status, 400, "{body}");
}

#[test]
fn fails_on_demand_and_refuses_bad_keys_and_bad_params() {
    let server = StripeServer::start();
    block_on(async {
        server.fail_next(500);
        let error = request_error(create_order_session(&client(&server)).await);
        assert_eq!(error.http_status, 500);
        assert_eq!(error.error_type, stripe::ErrorType::Api);
        create_order_session(&client(&server))
            .await
            .expect("the next request succeeds");

        let stranger = stripe::Client::from_url(server.base.as_str(), "sk_test_someone_else");
        let error = request_error(create_order_session(&stranger).await);
        assert_eq!(error.http_status, 401);
    });
    assert_eq!(server.sessions().len(), 1);
    assert_eq!(server.requests().len(), 3);

    let http = reqwest::blocking::Client::new();
    for form in [
        "mode=payment&line_items[0][price_data][currency]=cny&line_items[0][price_data][unit_amount]=abc&line_items[0][quantity]=1",
        "mode=payment&line_items[0][price_data][currency]=cny&line_items[0][quantity]=1",
        "mode=payment&line_items[0]=x&line_items[0][quantity]=1",
        "mode=payment&line_items[x][price_data][currency]=cny",
        "mode=payment&metadata[a][b]=c&line_items[0][price_data][currency]=cny&line_items[0][price_data][unit_amount]=1&line_items[0][quantity]=1",
        "mode=payment&line_items[0][price_data][currency]=cny&line_items[0][price_data][unit_amount]=9223372036854775807&line_items[0][quantity]=2",
        "mode=payment&expires_at=1&line_items[0][price_data][currency]=cny&line_items[0][price_data][unit_amount]=1&line_items[0][quantity]=1",
        "mode=payment&line_items[0",
    ] {
        let response = http
            .post(format!("{}/v1/checkout/sessions", server.base))
            .bearer_auth(&server.secret_key)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .expect("POST");
        assert_eq!(response.status().as_u16(), 400, "{form}");
        let body: Value = response.json().expect("Stripe error body");
        assert_eq!(body["error"]["type"], "invalid_request_error", "{form}");
    }
    let response = http
        .get(format!("{}/v1/customers", server.base))
        .bearer_auth(&server.secret_key)
        .send()
        .expect("GET");
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(server.sessions().len(), 1);
}

#[test]
fn a_key_used_again_replays_the_same_request_and_refuses_another() {
    let server = StripeServer::start();
    let keyed = |key: &str| {
        client(&server).with_strategy(stripe::RequestStrategy::Idempotent(key.to_string()))
    };
    block_on(async {
        let first = create_order_session(&keyed("checkout-a"))
            .await
            .expect("session created");
        // The same request with the same key: the first answer again, no new session.
        let again = create_order_session(&keyed("checkout-a"))
            .await
            .expect("replayed");
        assert_eq!(again.id, first.id);
        assert_eq!(server.sessions().len(), 1);

        // The same key with other parameters: refused as Stripe does.
        let mut params = stripe::CreateCheckoutSession::new();
        params.mode = Some(stripe::CheckoutSessionMode::Payment);
        params.line_items = Some(vec![line_item("小米 1 kg", 800, 1)]);
        params.expires_at = Some(now() + 3600);
        let error = request_error(
            stripe::CheckoutSession::create(&keyed("checkout-a"), params.clone()).await,
        );
        assert_eq!(error.http_status, 400);
        assert_eq!(error.error_type, stripe::ErrorType::IdempotencyError);
        assert!(
            error
                .message
                .as_deref()
                .is_some_and(|m| m.contains("same parameters")),
            "{error:?}"
        );
        // The same key on another endpoint: refused too.
        let mut refund = stripe::CreateRefund::new();
        refund.payment_intent = Some("pi_test_unknown".parse().expect("id"));
        let error = request_error(stripe::Refund::create(&keyed("checkout-a"), refund).await);
        assert_eq!(error.error_type, stripe::ErrorType::IdempotencyError);

        // Another key: a new session.
        let other = stripe::CheckoutSession::create(&keyed("checkout-b"), params)
            .await
            .expect("a new key makes a new session");
        assert_ne!(other.id, first.id);
    });
    assert_eq!(server.sessions().len(), 2);
    assert_eq!(server.idempotency_keys(), ["checkout-a", "checkout-b"]);
    // A refusal is not remembered as the key's answer: the raw replay still matches.
    let (_, _, params) = server.requests()[0].clone();
    let response = reqwest::blocking::Client::new()
        .post(format!("{}/v1/checkout/sessions", server.base))
        .bearer_auth(&server.secret_key)
        .header("idempotency-key", "checkout-a")
        .form(&params)
        .send()
        .expect("POST");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let body: Value = response.json().expect("session");
    assert_eq!(body["id"], server.sessions()[0]["id"]);
}
