//! Email (ARCHITECTURE §6.4): the outbox worker and its transports. Messages wait in
//! `email_outbox`, written by `domain::notify` in the transaction of their event; the
//! worker of any process claims the due ones, renders them from
//! `templates/email/<name>/{subject,body.txt,body.html}.hbs` in the recipient's
//! language, and sends them over SMTP — or, with `SMTP_URL` unset, writes them as `.eml`
//! files under the data folder. A failure is retried with back-off; SMTP being down
//! delays mail and never loses it.

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

/// Messages one worker claims at a time.
const BATCH: i64 = 20;
/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a claimed message is held by one worker before another may take it: longer
/// than the worker can spend on a whole batch, so that a message still waiting its turn
/// is never taken (and sent) by a second worker.
const LEASE: Duration = Duration::from_secs(BATCH as u64 * SMTP_TIMEOUT.as_secs() + 60);

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    base_url: String,
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
            retry_base: chrono::Duration::seconds(i64::from(config.mail_retry_seconds)),
            html,
            plain: Templates::plain().map_err(|e| invalid("templates", &e))?,
        })
    }

    /// The message as it will be sent: subject, plain-text and HTML parts.
    pub fn render(&self, message: &OutboxMessage) -> Result<Message, SendError> {
        let permanent = |e: &dyn std::fmt::Display| SendError::Permanent(e.to_string());
        let mut data: Value = serde_json::from_str(&message.data).map_err(|e| permanent(&e))?;
        data["lang"] = json!(message.locale);
        data["base_url"] = json!(self.base_url);
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
            .from(self.from.clone())
            .to(to)
            .subject(subject.trim())
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| permanent(&e))
    }

    pub async fn send(&self, message: &OutboxMessage) -> Result<(), SendError> {
        let email = self.render(message)?;
        let transient = |e: &dyn std::fmt::Display| SendError::Transient(e.to_string());
        match &self.transport {
            Transport::Smtp(t) => t.send(email).await.map(drop).map_err(|e| transient(&e)),
            Transport::Files(t) => t.send(email).await.map(drop).map_err(|e| transient(&e)),
        }
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

/// Claims the due messages (see `db::outbox::claim_due`).
pub fn claim(conn: &mut DbConn, now: NaiveDateTime) -> diesel::QueryResult<Vec<OutboxMessage>> {
    let lease = chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::minutes(6));
    crate::db::write_transaction(conn, |conn| {
        outbox::claim_due(conn, now, now + lease, BATCH)
    })
}
