//! The stand-in EAA server for the local demo:
//!
//! ```sh
//! cargo run -p eaa-client --bin eaa-standin -- FIXTURE.json [ADDR] [REQUESTS_PER_MINUTE] [--credentials-out FILE]
//! ```
//!
//! FIXTURE.json is `{"directories":[{"uuid_url":..,"name":..,"groups":[{"uuid_url":..,"name":..,"users":[{..EAA user..}]}]}]}`.
//! ADDR defaults to 127.0.0.1:8099, the limit to EAA's 25 requests a minute. The
//! credentials document it accepts (the JSON an SSM parameter or the local server's
//! credentials file holds) is printed at start, and written to FILE if given.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use eaa_client::standin::{self, Fixture, StandinConfig};

const USAGE: &str = "usage: eaa-standin FIXTURE.json [ADDR] [REQUESTS_PER_MINUTE] [--credentials-out FILE]";

#[tokio::main]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let credentials_out = match args.iter().position(|a| a == "--credentials-out") {
        Some(at) if at + 1 < args.len() => {
            let file = args.remove(at + 1);
            args.remove(at);
            Some(file)
        }
        Some(_) => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
        None => None,
    };
    let Some(path) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let fixture: Fixture =
        match std::fs::read(path).map_err(|e| e.to_string()).and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string())) {
            Ok(fixture) => fixture,
            Err(error) => {
                eprintln!("eaa-standin: cannot read {path}: {error}");
                return ExitCode::from(2);
            }
        };
    let addr: SocketAddr = match args.get(1).map(|a| a.parse()).unwrap_or(Ok(SocketAddr::from(([127, 0, 0, 1], 8099)))) {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("eaa-standin: bad address: {error}");
            return ExitCode::from(2);
        }
    };
    let per_minute = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(25);
    let config = StandinConfig { requests_per_window: per_minute, window: Duration::from_secs(60), ..StandinConfig::for_tests() };
    let (bound, _server) = match standin::spawn_on(addr, fixture, config.clone()).await {
        Ok(started) => started,
        Err(error) => {
            eprintln!("eaa-standin: cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let document = serde_json::json!({
        "host": format!("http://{bound}"),
        "clientToken": config.credentials.client_token,
        "clientSecret": config.credentials.client_secret,
        "accessToken": config.credentials.access_token,
        "contractId": config.contract_id,
    });
    println!("stand-in EAA on http://{bound} ({per_minute} requests/minute)");
    println!("credentials: {document}");
    if let Some(file) = credentials_out {
        let written = std::path::Path::new(&file)
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&file, document.to_string()));
        if let Err(error) = written {
            eprintln!("eaa-standin: cannot write {file}: {error}");
            return ExitCode::FAILURE;
        }
        println!("(written to {file})");
    }
    // Serves until interrupted.
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
