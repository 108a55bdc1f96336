//! `scim-local [--port N] [--data-dir DIR] [--eaa-sync-interval D] [--seat-limit N|none]`: the whole
//! API on 127.0.0.1 (see the crate docs).

use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;
use std::time::Duration;

use provisioning::{Caller, Provisioning};
use scim_http::{EaaAccess, Router};
use scim_local::{
    ConnectionLimits, admin_file_connector, eaa_credentials_dir, enrollment_config, ensure_credentials, file_connector, open_store,
    outbox_dir, serve, shutdown_signal, spawn_eaa_scheduler, spawn_mailer, spawn_source_moves,
};

const USAGE: &str = "usage: scim-local [--port N (default 8080, 0 = any free port)] [--data-dir DIR (default ./.scim-local)] \
[--eaa-sync-interval DURATION (default 6h; e.g. 30s, 5m)] [--seat-limit N|none (the tenant's seat limit, kept across restarts)] \
[--head-timeout DURATION (default 10s; also the keep-alive idle timeout)] [--body-timeout DURATION (default 30s)] \
[--max-connections N (default 512)]";

struct Args {
    port: u16,
    data_dir: PathBuf,
    eaa_sync_interval: Duration,
    /// The operator's seat limit for the local tenant: `Some(None)` removes it, `None`
    /// leaves it as it is.
    seat_limit: Option<Option<u64>>,
    limits: ConnectionLimits,
}

/// A duration flag's value: `30s`, `5m`, `6h`; never zero.
fn duration(flag: &str, value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{flag} must be a duration such as 30s, 5m or 6h\n{USAGE}"))
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 8080,
        data_dir: PathBuf::from(".scim-local"),
        eaa_sync_interval: Duration::from_secs(6 * 3600),
        seat_limit: None,
        limits: ConnectionLimits::default(),
    };
    let mut input = std::env::args().skip(1);
    while let Some(arg) = input.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (arg, None),
        };
        let mut value = || inline.clone().or_else(|| input.next()).ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        match name.as_str() {
            "--port" => args.port = value()?.parse().map_err(|_| format!("--port must be a number from 0 to 65535\n{USAGE}"))?,
            "--data-dir" => args.data_dir = PathBuf::from(value()?),
            "--eaa-sync-interval" => args.eaa_sync_interval = duration(&name, &value()?)?,
            "--head-timeout" => args.limits.head_timeout = duration(&name, &value()?)?,
            "--body-timeout" => args.limits.body_timeout = duration(&name, &value()?)?,
            "--max-connections" => {
                args.limits.max_connections = value()?
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--max-connections must be a number above 0\n{USAGE}"))?
            }
            "--seat-limit" => {
                let text = value()?;
                args.seat_limit = Some(match text.as_str() {
                    "none" => None,
                    number => Some(number.parse().map_err(|_| format!("--seat-limit must be a number of users or none\n{USAGE}"))?),
                })
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    // Fails only when a subscriber is already installed, which is then the one to use.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .try_init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("scim-local: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> std::io::Result<()> {
    let store = open_store(&args.data_dir)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let service = Arc::new(Provisioning::new(store));
    let config = enrollment_config(&args.data_dir, &origin)?;
    let connector = file_connector(&args.data_dir);
    let (scheduler, trigger) = spawn_eaa_scheduler(Arc::clone(&service), Arc::clone(&connector), args.eaa_sync_interval);
    let access = EaaAccess { connector: admin_file_connector(&args.data_dir), trigger: Arc::new(trigger) };
    let router = Router::new(Arc::clone(&service)).with_enrollment(config.clone()).with_eaa(access);
    let credentials = ensure_credentials(&service, &args.data_dir, &origin).await?;
    let tenant = Caller::admin(&credentials.tenant_id);
    if let Some(limit) = args.seat_limit {
        service.set_seat_limit(&tenant, limit).await.map_err(|e| std::io::Error::other(e.detail()))?;
    }
    let seats = service.seats(&tenant.tenant).await.map_err(|e| std::io::Error::other(e.detail()))?;
    let moves = spawn_source_moves(Arc::clone(&service));
    let mailer = spawn_mailer(service, config, &args.data_dir);
    println!("SCIM Tenant URL:   {}", credentials.scim_base_url);
    println!("SCIM Secret Token: {}", credentials.scim_token);
    println!("Admin API:         {}", credentials.admin_base_url);
    println!("Admin key:         {}", credentials.admin_key);
    println!("(saved in {})", scim_local::credentials_path(&args.data_dir).display());
    match seats.limit {
        Some(limit) => println!("Seats:             {} of {limit} used (--seat-limit N|none changes the limit)", seats.used),
        None => println!("Seats:             no limit (--seat-limit N sets one)"),
    }
    println!("Enrollment emails: {} (.eml files)", outbox_dir(&args.data_dir).display());
    println!(
        "EAA credentials:   {}/{}/<reference>.json (synced every {})",
        eaa_credentials_dir(&args.data_dir).display(),
        credentials.tenant_id,
        humantime::format_duration(args.eaa_sync_interval)
    );
    println!("listening on {origin}; Ctrl-C stops");
    serve(listener, router, args.limits, shutdown_signal()).await;
    // The mailer, the source moves and the EAA scheduler hold the service too: stop them and wait until
    // their tasks are gone.
    mailer.abort();
    let _ = mailer.await;
    moves.abort();
    let _ = moves.await;
    scheduler.abort();
    let _ = scheduler.await;
    // The router (and with it the store) is dropped here: the embedded store finishes its
    // queued writes and closes the file before the process exits.
    tracing::info!("stopped");
    Ok(())
}
