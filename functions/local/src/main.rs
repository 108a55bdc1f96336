//! `scim-local [--port N] [--data-dir DIR]`: the whole API on 127.0.0.1 (see the crate docs).

use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use provisioning::Provisioning;
use scim_http::Router;
use scim_local::{enrollment_config, ensure_credentials, open_store, outbox_dir, serve, shutdown_signal, spawn_mailer};

const USAGE: &str = "usage: scim-local [--port N (default 8080, 0 = any free port)] [--data-dir DIR (default ./.scim-local)]";

struct Args {
    port: u16,
    data_dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { port: 8080, data_dir: PathBuf::from(".scim-local") };
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
    let router = Router::new(Arc::clone(&service)).with_enrollment(config.clone());
    let credentials = ensure_credentials(&service, &args.data_dir, &origin).await?;
    let mailer = spawn_mailer(service, config, &args.data_dir);
    println!("SCIM Tenant URL:   {}", credentials.scim_base_url);
    println!("SCIM Secret Token: {}", credentials.scim_token);
    println!("Admin API:         {}", credentials.admin_base_url);
    println!("Admin key:         {}", credentials.admin_key);
    println!("(saved in {})", scim_local::credentials_path(&args.data_dir).display());
    println!("Enrollment emails: {} (.eml files)", outbox_dir(&args.data_dir).display());
    println!("listening on {origin}; Ctrl-C stops");
    serve(listener, router, shutdown_signal()).await;
    // The mailer holds the service too: stop it and wait until its task is gone.
    mailer.abort();
    let _ = mailer.await;
    // The router (and with it the store) is dropped here: the embedded store finishes its
    // queued writes and closes the file before the process exits.
    tracing::info!("stopped");
    Ok(())
}
