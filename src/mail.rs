//! Email (ARCHITECTURE §6.4): the outbox worker and its transports. Messages wait in
//! `email_outbox`, written by `domain::notify` in the transaction of their event; the
//! worker of any process claims the due ones, renders them from
//! `templates/email/<name>/{subject,body.txt,body.html}.hbs` in the recipient's
//! language, and sends them over SMTP — or, with `SMTP_URL` unset, writes them as `.eml`
//! files under the data folder. A failure is retried with back-off; SMTP being down
//! delays mail and never loses it. A worker claims one message at a time, for about one
//! send, and each message's Message-ID comes from its row, so a process killed mid-send
//! holds back only that message, briefly, and a copy sent twice is recognisable.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{Value, json};

use crate::config::{Config, ConfigError};
use crate::db::DbConn;
use crate::db::outbox::{self, OutboxMessage};
use crate::templates::Templates;

/// How long one SMTP command may wait for the server.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the sending of one message may take in all; after that it counts as a
/// transient failure and is tried again later.
pub const SEND_LIMIT: Duration = Duration::from_secs(30);
/// How long a claimed message is held by the worker that claimed it: a worker claims one
/// message at a time, so the lease covers one send (`SEND_LIMIT`) with room to record
/// the result. A process killed mid-send leaves that one message held no longer than
/// this; then any worker sends it.
pub const LEASE: Duration = Duration::from_secs(SEND_LIMIT.as_secs() + 15);

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    base_url: String,
    /// The right-hand side of every Message-ID: the host of `BASE_URL`.
    message_id_host: String,
    retry_base: chrono::Duration,
    /// The pages' registry (HTML-escaped), shared: the HTML part is rendered with it.
    html: Arc<Templates>,
    plain: Templates,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The message can never be sent as it is (a template or an address is wrong).
    #[error("cannot build the message: {0}")]
    Permanent(String),
    #[error("sending failed: {0}")]
    Transient(String),
}

impl Mailer {
    pub fn from_config(config: &Config, html: Arc<Templates>) -> Result<Self, ConfigError> {
        let invalid = |name: &'static str, e: &dyn std::fmt::Display| ConfigError::Invalid {
            name,
            reason: e.to_string(),
        };
        let transport = match &config.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| invalid("SMTP_URL", &e))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
            ),
            None => {
                let dir = config.data_dir.join("mail");
                std::fs::create_dir_all(&dir).map_err(|source| ConfigError::DataDir {
                    path: dir.display().to_string(),
                    source,
                })?;
                Transport::Files(AsyncFileTransport::<Tokio1Executor>::new(dir))
            }
        };
        Ok(Self {
            transport,
            from: config
                .mail_from
                .parse()
                .map_err(|e| invalid("MAIL_FROM", &e))?,
            base_url: config.base_url.clone(),
            message_id_host: url::Url::parse(&config.base_url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| "village-market.local".to_string()),
            retry_base: chrono::Duration::seconds(i64::from(config.mail_retry_seconds)),
            html,
            plain: Templates::plain().map_err(|e| invalid("templates", &e))?,
        })
    }

    /// The Message-ID of an outbox message, derived from its row: every attempt to send
    /// it carries the same one, so a copy sent again after a crash (the server had it,
    /// the process died before recording that) can be recognised and dropped downstream.
    pub fn message_id(&self, message: &OutboxMessage) -> String {
        format!(
            "<outbox-{}.{}@{}>",
            message.id,
            message.created_at.format("%Y%m%d%H%M%S"),
            self.message_id_host
        )
    }

    /// The message as it will be sent: subject, plain-text and HTML parts. Whatever a
    /// stored row holds, this answers (a malformed row is `Permanent`), never panics.
    pub fn render(&self, message: &OutboxMessage) -> Result<Message, SendError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.build(message)))
            .unwrap_or_else(|_| Err(SendError::Permanent("rendering the message failed".into())))
    }

    fn build(&self, message: &OutboxMessage) -> Result<Message, SendError> {
        let permanent = |e: &dyn std::fmt::Display| SendError::Permanent(e.to_string());
        let parsed: Value = serde_json::from_str(&message.data).map_err(|e| permanent(&e))?;
        let Value::Object(mut data) = parsed else {
            return Err(SendError::Permanent(
                "the message's data is not a JSON object".into(),
            ));
        };
        data.insert("lang".into(), json!(message.locale));
        data.insert("base_url".into(), json!(self.base_url));
        let data = Value::Object(data);
        let name = &message.template;
        let subject = self
            .plain
            .render(&format!("email/{name}/subject"), &data)
            .map_err(|e| permanent(&e))?;
        let text = self
            .plain
            .render(&format!("email/{name}/body.txt"), &data)
            .map_err(|e| permanent(&e))?;
        let html = self
            .html
            .render(&format!("email/{name}/body.html"), &data)
            .map_err(|e| permanent(&e))?;
        let to: Mailbox = message.recipient.parse().map_err(|e| permanent(&e))?;
        Message::builder()
            .message_id(Some(self.message_id(message)))
            .from(self.from.clone())
            .to(to)
            .subject(subject.trim())
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| permanent(&e))
    }

    /// Renders and sends one message, within `SEND_LIMIT`.
    pub async fn send(&self, message: &OutboxMessage) -> Result<(), SendError> {
        let email = self.render(message)?;
        let transient = |e: &dyn std::fmt::Display| SendError::Transient(e.to_string());
        let sending = async {
            match &self.transport {
                Transport::Smtp(t) => t.send(email).await.map(drop).map_err(|e| transient(&e)),
                Transport::Files(t) => t.send(email).await.map(drop).map_err(|e| transient(&e)),
            }
        };
        tokio::time::timeout(SEND_LIMIT, sending)
            .await
            .unwrap_or_else(|_| Err(SendError::Transient("sending took too long".into())))
    }

    /// When a message that failed `attempts` times is tried again: the base delay,
    /// doubled per attempt, at most an hour. A message that could not be sent is never
    /// given up (ARCHITECTURE §6.4: SMTP down delays mail, never loses it).
    pub fn retry_at(&self, attempts: i32, now: NaiveDateTime) -> NaiveDateTime {
        let factor = 1_i32 << attempts.clamp(1, 12).saturating_sub(1);
        let delay = (self.retry_base * factor).min(chrono::Duration::hours(1));
        now + delay
    }
}

/// Claims the next due message for one send (`LEASE`; see `db::outbox::claim_due`).
pub fn claim(conn: &mut DbConn, now: NaiveDateTime) -> diesel::QueryResult<Option<OutboxMessage>> {
    let lease = chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::seconds(45));
    crate::db::write_transaction(conn, |conn| outbox::claim_due(conn, now, now + lease, 1))
        .map(|claimed| claimed.into_iter().next())
}
