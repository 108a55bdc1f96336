//! `scim-loadgen`: see the crate docs and `scim-loadgen --help`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use scim_loadgen::interference::{self, InterferenceOptions};
use scim_loadgen::{Options, coldstart};

const USAGE: &str = "\
usage:
  scim-loadgen [run] --url URL --token TOKEN [--concurrency 8] [--users 1000] [--groups 10]
               [--members-per-batch 50] [--timeout-secs 30] [--label NAME] [--threads 1] [--json]
      Replays an Entra ID provisioning cycle against the SCIM base URL (http:// only) and
      prints count, errors, ops/s and p50/p99/max latency per operation (--json: as JSON).
      Exit status 1 when any operation failed.
  scim-loadgen coldstart --binary PATH/scim-local [--runs 10] [--json]
      Starts scim-local on a free port, time until the first 200 to an authenticated filter
      query; the first start on an empty data folder, then --runs restarts.
  scim-loadgen lambda-coldstart --binary PATH/scim-FUNCTION --event events/X.json [--runs 10]
               [--env NAME=VALUE]... [--json]
      Starts a Lambda function binary against a loopback Runtime API emulator (which also
      answers DynamoDB calls with empty results), time until it posts the event's response.
  scim-loadgen interference --url URL --token TOKEN [--users 100000] [--fill-concurrency 16]
               [--concurrency 4] [--background 1,32] [--seconds 10] [--threads 1] [--json]
      Fills the tenant to --users users, then measures Entra match queries and an aggregation
      (index pages of 100 in sequence) alone and while --background clients loop on each
      expensive request (deep pages, filters without an index, sorting, oversized lookups).
      TOKEN must read every user (an integration with \"read all users\").";

fn value(input: &mut impl Iterator<Item = String>, name: &str) -> Result<String, String> {
    input.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
}

fn number<T: std::str::FromStr>(text: String, name: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("{name} must be a number, not {text:?}"))
}

enum Command {
    Run { options: Options, threads: usize, json: bool },
    ColdStart { binary: PathBuf, runs: usize, json: bool },
    LambdaColdStart { binary: PathBuf, event: PathBuf, runs: usize, env: Vec<(String, String)>, json: bool },
    Interference { options: InterferenceOptions, threads: usize, json: bool },
}

fn parse(args: Vec<String>) -> Result<Command, String> {
    let mut input = args.into_iter().peekable();
    let command = match input.peek().map(String::as_str) {
        Some("run") | Some("coldstart") | Some("lambda-coldstart") | Some("interference") => input.next().unwrap_or_default(),
        _ => "run".to_string(),
    };
    let mut options = Options::default();
    let (mut threads, mut json, mut runs) = (1usize, false, 10usize);
    let (mut binary, mut event, mut env) = (None, None, Vec::new());
    let (mut fill_concurrency, mut background, mut seconds, mut users) = (16usize, vec![1usize, 32], 10f64, None);
    while let Some(arg) = input.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, v)) if name.starts_with("--") && name != "--env" => (name.to_string(), Some(v.to_string())),
            _ => (arg, None),
        };
        let mut take = |n: &str| match inline.clone() {
            Some(v) => Ok(v),
            None => value(&mut input, n),
        };
        match name.as_str() {
            "--url" => options.url = take("--url")?,
            "--token" => options.token = take("--token")?,
            "--concurrency" => options.concurrency = number(take("--concurrency")?, "--concurrency")?,
            "--users" => users = Some(number(take("--users")?, "--users")?),
            "--fill-concurrency" => fill_concurrency = number(take("--fill-concurrency")?, "--fill-concurrency")?,
            "--background" => {
                background = take("--background")?
                    .split(',')
                    .filter(|n| !n.trim().is_empty())
                    .map(|n| number(n.trim().to_string(), "--background"))
                    .collect::<Result<_, _>>()?;
            }
            "--seconds" => seconds = number(take("--seconds")?, "--seconds")?,
            "--groups" => options.groups = number(take("--groups")?, "--groups")?,
            "--members-per-batch" => options.members_per_batch = number(take("--members-per-batch")?, "--members-per-batch")?,
            "--timeout-secs" => options.timeout = Duration::from_secs(number(take("--timeout-secs")?, "--timeout-secs")?),
            "--label" => options.label = take("--label")?,
            "--threads" => threads = number(take("--threads")?, "--threads")?,
            "--runs" => runs = number(take("--runs")?, "--runs")?,
            "--binary" => binary = Some(PathBuf::from(take("--binary")?)),
            "--event" => event = Some(PathBuf::from(take("--event")?)),
            "--env" => {
                let pair = value(&mut input, "--env")?;
                let (k, v) = pair.split_once('=').ok_or_else(|| format!("--env takes NAME=VALUE, not {pair:?}"))?;
                env.push((k.to_string(), v.to_string()));
            }
            "--json" => json = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    match command.as_str() {
        "interference" => {
            if options.url.is_empty() || options.concurrency == 0 || threads == 0 {
                return Err(format!("interference needs --url, and --concurrency and --threads of at least 1\n{USAGE}"));
            }
            let options = InterferenceOptions {
                url: options.url,
                token: options.token,
                users: users.unwrap_or(100_000),
                fill_concurrency,
                concurrency: options.concurrency,
                background,
                seconds,
                timeout: options.timeout,
            };
            Ok(Command::Interference { options, threads, json })
        }
        "coldstart" => Ok(Command::ColdStart { binary: binary.ok_or(format!("coldstart needs --binary\n{USAGE}"))?, runs, json }),
        "lambda-coldstart" => Ok(Command::LambdaColdStart {
            binary: binary.ok_or(format!("lambda-coldstart needs --binary\n{USAGE}"))?,
            event: event.ok_or(format!("lambda-coldstart needs --event\n{USAGE}"))?,
            runs,
            env,
            json,
        }),
        _ => {
            if let Some(users) = users {
                options.users = users;
            }
            if options.url.is_empty() {
                return Err(format!("--url is required\n{USAGE}"));
            }
            if options.members_per_batch == 0 || options.concurrency == 0 || threads == 0 {
                return Err("--members-per-batch, --concurrency and --threads must be at least 1".to_string());
            }
            Ok(Command::Run { options, threads, json })
        }
    }
}

fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()
    }
}

fn main() -> ExitCode {
    let command = match parse(std::env::args().skip(1).collect()) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let threads = match &command {
        Command::Run { threads, .. } | Command::Interference { threads, .. } => *threads,
        _ => 1,
    };
    let runtime = match runtime(threads) {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("scim-loadgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(command)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("scim-loadgen: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Run { options, json, .. } => {
            let report = scim_loadgen::run(&options).await?;
            if json {
                println!("{}", report.json());
            } else {
                print!("{}", report.table());
            }
            Ok(if report.errors() == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Interference { options, json, .. } => {
            let report = interference::interference(&options).await?;
            if json {
                println!("{}", report.json());
            } else {
                print!("{}", report.table());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::ColdStart { binary, runs, json } => {
            let starts = coldstart::local(&binary, runs).await?;
            let r = &starts.restarts;
            if json {
                let doc = serde_json::json!({"binary": binary.display().to_string(), "firstStartMs": starts.first_ms,
                    "restartsMs": r.ms, "medianMs": r.median(), "minMs": r.min(), "maxMs": r.max()});
                println!("{doc}");
            } else {
                println!("{}: first start (empty data folder) {:.1} ms", binary.display(), starts.first_ms);
                let each: Vec<String> = r.ms.iter().map(|ms| format!("{ms:.1}")).collect();
                println!(
                    "{} restarts: median {:.1} ms, min {:.1} ms, max {:.1} ms ({})",
                    r.ms.len(),
                    r.median(),
                    r.min(),
                    r.max(),
                    each.join(" ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::LambdaColdStart { binary, event, runs, env, json } => {
            let event_bytes = coldstart::read_event(&event)?;
            let starts = coldstart::lambda(&binary, event_bytes, runs, &env).await?;
            let summary = coldstart::Starts { ms: starts.iter().map(|s| s.ms).collect() };
            let outcomes: Vec<String> = starts.iter().map(coldstart::LambdaStart::describe).collect();
            if json {
                let doc = serde_json::json!({"binary": binary.display().to_string(), "event": event.display().to_string(),
                    "startsMs": summary.ms, "medianMs": summary.median(), "minMs": summary.min(), "maxMs": summary.max(), "outcomes": outcomes});
                println!("{doc}");
            } else {
                println!(
                    "{} with {}: {} starts, median {:.1} ms, min {:.1} ms, max {:.1} ms; first outcome: {}",
                    binary.display(),
                    event.display(),
                    summary.ms.len(),
                    summary.median(),
                    summary.min(),
                    summary.max(),
                    outcomes.first().map(String::as_str).unwrap_or("-")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
