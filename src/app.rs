//! The services a running server shares — its configuration, the database pool, the
//! payment providers, the templates and the mailer — wired once at start-up. The web layer and the
//! background loops (`jobs`) each hold a `Services`; neither reaches into the other.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, ConfigError};
use crate::db::{self, Backend, DbConn, Pool};
use crate::error::AppError;
use crate::mail::Mailer;
use crate::payments::Payments;
use crate::templates::Templates;

#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub pool: Pool,
    pub backend: Backend,
    pub payments: Payments,
    /// Pages and mail alike are rendered from these.
    pub templates: Arc<Templates>,
    pub mailer: Arc<Mailer>,
    /// Visits to livestream links not yet written (the jobs loop writes them).
    pub visits: Arc<crate::domain::live::Visits>,
    /// One permit per pooled connection: database work waits here, as a parked future,
    /// rather than as a blocking thread each. Without it a rush of requests became as many
    /// threads queueing on the pool's lock, and their waking and sleeping took more CPU
    /// than the queries (a flash sale over HTTP, issue #11).
    db_turns: Arc<tokio::sync::Semaphore>,
}

impl Services {
    pub fn new(config: Config, pool: Pool) -> Result<Self, ConfigError> {
        let templates = Arc::new(Templates::load().map_err(|e| ConfigError::Invalid {
            name: "templates",
            reason: e.to_string(),
        })?);
        Ok(Services {
            backend: config.database_url.backend(),
            payments: Payments::from_config(&config)?,
            mailer: Arc::new(Mailer::from_config(&config, templates.clone())?),
            templates,
            config: Arc::new(config),
            db_turns: Arc::new(tokio::sync::Semaphore::new(pool.max_size() as usize)),
            pool,
            visits: Arc::default(),
        })
    }

    /// What placing a canteen order needs from the shop's settings, for the sheet and for
    /// standing orders alike.
    pub fn canteen_rules(&self) -> crate::domain::canteen::ordering::Rules {
        crate::domain::canteen::ordering::Rules {
            shop_methods: self.payments.methods(),
            reservation_minutes: self.config.reservation_minutes,
            approval_hold_hours: self.config.approval_hold_hours,
        }
    }

    /// Runs blocking database work with a pooled connection, off the async workers.
    pub async fn db<T, E, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<AppError> + Send + 'static,
    {
        // Never closed, so the wait only ends with a permit.
        let _turn = self.db_turns.acquire().await.map_err(AppError::internal)?;
        db::blocking(&self.pool, move |conn| f(conn).map_err(Into::into)).await
    }

    /// Whether the database answers within `wait`; the reason when it does not.
    pub async fn database_reachable(&self, wait: Duration) -> Result<(), String> {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get_timeout(wait).map_err(|e| e.to_string())?;
            db::ping(&mut conn).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}
