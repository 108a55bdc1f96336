//! The stand-in EAA server for the local demo:
//!
//! ```sh
//! cargo run -p eaa-client --bin eaa-standin -- FIXTURE.json [ADDR] [REQUESTS_PER_MINUTE]
//! ```
//!
//! FIXTURE.json is `{"directories":[{"uuid_url":..,"name":..,"groups":[{"uuid_url":..,"name":..,"users":[{..EAA user..}]}]}]}`.
//! ADDR defaults to 127.0.0.1:8099, the limit to EAA's 25 requests a minute. The test
//! credentials and contract id it accepts are printed at start.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use eaa_client::standin::{self, Fixture, StandinConfig};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: eaa-standin FIXTURE.json [ADDR] [REQUESTS_PER_MINUTE]");
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
    println!("stand-in EAA on http://{bound} ({per_minute} requests/minute)");
    println!("host={bound} contract_id={}", config.contract_id);
    println!(
        "client_token={} client_secret={} access_token={}",
        config.credentials.client_token, config.credentials.client_secret, config.credentials.access_token
    );
    // Serves until interrupted.
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
