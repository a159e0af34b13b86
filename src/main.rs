//! The `village-market` command: parse the command line, load the configuration,
//! start tracing, and hand over to the library.

use std::io::Read;
use std::net::TcpListener;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use village_market::app::Services;
use village_market::config::{Config, ConfigArgs};
use village_market::domain::accounts::{self, NewAccount};
use village_market::domain::actor::Role;
use village_market::domain::actor::Who;
use village_market::domain::admin::{self, CountyForm};
use village_market::domain::error::DomainError;
use village_market::domain::{demo, now_utc};
use village_market::i18n::Lang;
use village_market::{AppState, db, start_server};

#[derive(Parser)]
#[command(name = "village-market", version, about = "村货集市 Village Market")]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (the default).
    Serve {
        /// Load the demo data first into an empty database (on the demo's own database,
        /// start as usual; any other data stops it with one line).
        #[arg(long)]
        demo: bool,
    },
    /// Run pending database migrations and exit.
    Migrate,
    /// Load the demo data into an empty database (nothing changes when it is already
    /// there; a database with other data is refused).
    Demo,
    /// Recompute every monthly total from the ledger and check that the money adds up;
    /// prints each difference and exits non-zero if there is any.
    Verify,
    /// Issue the canteens' monthly statements that are due now and exit (every server
    /// process does this by itself every 30 seconds; a statement is never issued twice).
    IssueStatements,
    /// Copy a live SQLite database into the new file PATH (PostgreSQL: use pg_dump).
    Backup {
        /// The copy to write; an existing file is never overwritten.
        path: std::path::PathBuf,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage counties (区县), which every village belongs to.
    County {
        #[command(subcommand)]
        command: CountyCommand,
    },
}

#[derive(Subcommand)]
enum CountyCommand {
    /// Add a county, listed after the others.
    Add {
        /// Its web name: lower-case letters, digits and hyphens.
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name_zh: String,
        #[arg(long)]
        name_en: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account; the password is read from standard input.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = ["admin", "team", "canteen", "cadre"])]
        role: String,
        /// Shown in the page header; defaults to the email.
        #[arg(long)]
        name: Option<String>,
        /// A village (slug) the account is bound to; repeat for several (team).
        #[arg(long = "village")]
        villages: Vec<String>,
        /// A cadre's county (slug); without it and --village, the whole city.
        #[arg(long)]
        county: Option<String>,
        /// A canteen buyer's organisation, by name.
        #[arg(long)]
        organization: Option<String>,
        /// zh-CN or en.
        #[arg(long, default_value = "zh-CN")]
        locale: String,
    },
}

fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn")),
        )
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("village-market: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let config = Config::from_args(cli.config).map_err(|e| e.to_string())?;
    // The server gets a pool; a one-shot command one plain connection, closed when its
    // arm ends: a pool's threads could still be opening a connection as the process
    // exits, which crashed one run in twenty on PostgreSQL.
    let conn = || db::open_connection(&config.database_url).map_err(|e| e.to_string());
    match cli.command.unwrap_or(Command::Serve { demo: false }) {
        Command::Migrate => {
            drop(conn()?);
            println!("migrations are up to date on {}", config.database_url);
            Ok(())
        }
        Command::Demo => load_demo(&config, &mut conn()?),
        Command::Backup { path } => {
            db::backup(&config.database_url, &path).map_err(|e| e.to_string())?;
            println!("{} copied into {}", config.database_url, path.display());
            Ok(())
        }
        Command::IssueStatements => {
            let started = std::time::Instant::now();
            let issued = village_market::domain::canteen::statements::issue_due(
                &mut conn()?,
                config.collective_share_bp,
                now_utc(),
            )
            .map_err(describe)?;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            println!("issued {issued} statement(s) in {ms:.1} ms");
            Ok(())
        }
        Command::Verify => {
            let problems = village_market::domain::ledger::verify(&mut conn()?)
                .map_err(|e| format!("verify: {e}"))?;
            for p in &problems {
                println!("{p}");
            }
            if problems.is_empty() {
                println!("ledger and totals agree on {}", config.database_url);
                Ok(())
            } else {
                Err(format!(
                    "{} difference(s) between the ledger and its totals",
                    problems.len()
                ))
            }
        }
        Command::User {
            command:
                UserCommand::Add {
                    email,
                    role,
                    name,
                    villages,
                    county,
                    organization,
                    locale,
                },
        } => {
            let role = Role::parse(&role).ok_or("role: unknown")?;
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .map_err(|e| format!("password: {e}"))?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let new = NewAccount {
                display_name: name.unwrap_or_else(|| email.clone()),
                email,
                role,
                password,
                lang: Lang::parse(&locale).ok_or("locale: use zh-CN or en")?,
                village_slugs: villages,
                county_slug: county,
                organization,
            };
            let id =
                accounts::create_account(&mut conn()?, &new, &Who::tool("command line"), now_utc())
                    .map_err(describe)?;
            println!("created {} account {} (id {id})", role.as_str(), new.email);
            Ok(())
        }
        Command::County {
            command:
                CountyCommand::Add {
                    slug,
                    name_zh,
                    name_en,
                },
        } => {
            let form = CountyForm {
                slug,
                name_zh,
                name_en,
            };
            let who = Who::tool("command line");
            let id =
                admin::create_county(&mut conn()?, &who, &form, now_utc()).map_err(describe)?;
            println!("created county {} (id {id})", form.slug);
            Ok(())
        }
        Command::Serve { demo } => {
            let pool = db::open_server_pool(&config.database_url, config.pool_size)
                .map_err(|e| e.to_string())?;
            if demo {
                let mut conn = pool
                    .get()
                    .map_err(|e| format!("database {}: {e}", config.database_url))?;
                load_demo(&config, &mut conn)?;
            }
            serve(config, pool)
        }
    }
}

/// A refusal as one line for the terminal, naming each field.
fn describe(e: DomainError) -> String {
    match e {
        DomainError::Invalid(errors) => accounts::describe(&errors, Lang::En),
        other => other.to_string(),
    }
}

fn load_demo(config: &Config, conn: &mut db::DbConn) -> Result<(), String> {
    let password = config.demo_password().map_err(|e| e.to_string())?;
    let report = demo::load(conn, &password, now_utc()).map_err(|e| format!("demo data: {e}"))?;
    let bp = config.collective_share_bp;
    let history = village_market::domain::demo_history::load(conn, bp, now_utc())
        .map_err(|e| format!("demo orders: {e}"))?;
    let canteen = village_market::domain::demo_canteen::load(conn, bp, now_utc())
        .map_err(|e| format!("demo canteen: {e}"))?;
    let live = village_market::domain::demo_live::load(conn, bp, now_utc())
        .map_err(|e| format!("demo livestreams: {e}"))?;
    if report.is_empty() && history.orders == 0 && canteen.orders == 0 && live.sessions == 0 {
        println!("demo data: already loaded, nothing changed");
    } else {
        println!("demo data: loaded {report:?}, {history:?}, {canteen:?}, {live:?}");
    }
    if config.demo_password.is_none() {
        println!(
            "demo accounts (admin@, team@, canteen@, approver@, cadre@example.com) password: {password}"
        );
    }
    Ok(())
}

fn serve(config: Config, pool: db::Pool) -> Result<(), String> {
    let bind = config.bind.clone();
    let listener = TcpListener::bind(&bind).map_err(|e| format!("BIND {bind}: {e}"))?;
    let database = config.database_url.to_string();
    let state = AppState::new(Services::new(config, pool).map_err(|e| e.to_string())?);
    actix_web::rt::System::new().block_on(async move {
        let server = start_server(state, listener, village_market::config::cores())
            .map_err(|e| e.to_string())?;
        tracing::info!("serving on http://{bind} with {database}");
        server.await.map_err(|e| e.to_string())
    })
}
