//! The load generator against the real local server (its library: the same hyper server,
//! router and embedded store as the `scim-local` binary) over real HTTP, with tiny sizes:
//! every operation kind must be counted, with nothing failed or skipped.

use std::sync::Arc;
use std::time::Duration;

use provisioning::Provisioning;
use scim_loadgen::interference::InterferenceOptions;
use scim_loadgen::{Kind, Options};

struct Local {
    base_url: String,
    token: String,
    /// An integration that reads every user (what an aggregation needs).
    reader_url: String,
    reader_token: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

async fn start_local(data_dir: &std::path::Path) -> Local {
    let store = scim_local::open_store(data_dir).expect("store opens");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listener");
    let origin = format!("http://{}", listener.local_addr().expect("address"));
    let service = Arc::new(Provisioning::new(store));
    let credentials = scim_local::ensure_credentials(&service, data_dir, &origin).await.expect("credentials");
    let admin = provisioning::Caller::admin(&credentials.tenant_id);
    let settings = provisioning::Settings { read_all_users: true, ..provisioning::Settings::default() };
    let reader = service.create_integration(&admin, provisioning::IntegrationKind::Scim, "Aggregation", settings).await.expect("reader");
    let reader_url = format!("{}/{}", credentials.scim_base_url.rsplit_once('/').expect("base url").0, reader.integration.id);
    let router = scim_http::Router::new(service);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(scim_local::serve(listener, router, scim_local::ConnectionLimits::default(), async move {
        let _ = stopped.await;
    }));
    Local { base_url: credentials.scim_base_url, token: credentials.scim_token, reader_url, reader_token: reader.token, stop, server }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_cycle_against_the_local_server_counts_every_operation_without_errors() {
    let data = tempfile::tempdir().expect("temporary folder");
    let local = start_local(data.path()).await;
    let options = Options {
        url: local.base_url.clone(),
        token: local.token.clone(),
        concurrency: 3,
        users: 7,
        groups: 2,
        members_per_batch: 2,
        timeout: Duration::from_secs(30),
        label: "scim-local".to_string(),
    };
    let report = scim_loadgen::run(&options).await.expect("the run completes");
    let table = report.table();
    for kind in Kind::ALL {
        let k = report.kind(kind).unwrap_or_else(|| panic!("{} missing\n{table}", kind.name()));
        let expected = match kind {
            Kind::TestConnection => 1,
            // Group 0 gets users 0, 2, 4, 6 (2 batches of 2), group 1 users 1, 3, 5 (2 + 1).
            Kind::GroupAddMembers => 4,
            Kind::GroupMatchAbsent | Kind::GroupCreate | Kind::GroupMatchPresent | Kind::GroupDelete => 2,
            _ => 7,
        };
        assert_eq!(k.count, expected, "{}\n{table}", kind.name());
        assert!(k.errors.is_empty(), "{}: {:?}\n{table}", kind.name(), k.errors);
        assert_eq!(k.skipped, 0, "{}\n{table}", kind.name());
        assert_eq!(k.latency_us.len(), expected, "{}: one latency per request", kind.name());
    }
    assert_eq!(report.requests(), 1 + 7 * 8 + 2 * 4 + 4);
    let json = report.json();
    assert_eq!(json["operations"].as_array().map(Vec::len), Some(Kind::ALL.len()));
    assert_eq!(json["errors"], 0);

    // The run cleaned up after itself: the users and groups it made are gone.
    let again = scim_loadgen::run(&Options { users: 1, groups: 1, ..options.clone() }).await.expect("second run");
    assert_eq!(again.errors(), 0, "{}", again.table());

    let _ = local.stop.send(());
    let _ = local.server.await;
}

#[tokio::test]
async fn a_server_that_refuses_everything_is_counted_not_fatal() {
    // Something that is not a SCIM server at all: every answer is a failure, with its status.
    let data = tempfile::tempdir().expect("temporary folder");
    let local = start_local(data.path()).await;
    let options = Options {
        url: local.base_url.clone(),
        token: "wrong-token".to_string(),
        concurrency: 2,
        users: 3,
        groups: 1,
        members_per_batch: 5,
        timeout: Duration::from_secs(30),
        label: "bad token".to_string(),
    };
    let report = scim_loadgen::run(&options).await.expect("the run completes");
    let matches = report.kind(Kind::UserMatchAbsent).expect("user-match-absent");
    assert_eq!(matches.errors.get("401"), Some(&3), "{}", report.table());
    let creates = report.kind(Kind::UserCreate).expect("user-create");
    assert_eq!(creates.errors.get("401"), Some(&3));
    // Nothing was created, so what needs an id was skipped, not sent.
    assert_eq!(report.kind(Kind::UserPatch).map(|k| (k.count, k.skipped)), Some((0, 3)));
    assert_eq!(report.kind(Kind::UserDelete).map(|k| (k.count, k.skipped)), Some((0, 3)));

    // Nobody listening: connection failures are counted too.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("address").port();
    let report =
        scim_loadgen::run(&Options { url: format!("http://127.0.0.1:{closed}/scim/v2/x"), ..options }).await.expect("the run completes");
    let test_connection = report.kind(Kind::TestConnection).expect("test-connection");
    assert_eq!(test_connection.error_count(), 1, "{}", report.table());
    assert!(test_connection.errors.keys().all(|reason| reason.starts_with("connect")), "{:?}", test_connection.errors);

    let _ = local.stop.send(());
    let _ = local.server.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interference_fills_the_tenant_once_and_measures_every_probe() {
    let data = tempfile::tempdir().expect("temporary folder");
    let local = start_local(data.path()).await;
    let options = InterferenceOptions {
        url: local.reader_url.clone(),
        token: local.reader_token.clone(),
        users: 30,
        fill_concurrency: 3,
        concurrency: 2,
        background: vec![2],
        seconds: 0.2,
        timeout: Duration::from_secs(30),
    };
    let report = scim_loadgen::interference::interference(&options).await.expect("the run completes");
    let table = report.table();
    assert_eq!(report.created, 30, "{table}");
    assert_eq!(report.phases.len(), 1 + scim_loadgen::interference::probes(30).len(), "{table}");
    for phase in &report.phases {
        assert!(phase.matches.count() > 0 && phase.pages.count() > 0, "{table}");
        assert_eq!(phase.probe.is_some(), phase.probe_answers.count() > 0, "{table}");
        let answered = |statuses: &std::collections::BTreeMap<String, u64>| statuses.keys().all(|s| s == "200" || s == "400");
        assert!(answered(&phase.matches.statuses) && answered(&phase.pages.statuses) && answered(&phase.probe_answers.statuses), "{table}");
    }
    assert_eq!(report.json()["phases"].as_array().map(Vec::len), Some(report.phases.len()));
    // The users are there now: a second run creates none.
    let again = scim_loadgen::interference::interference(&InterferenceOptions { background: vec![], ..options }).await.expect("again");
    assert_eq!((again.created, again.phases.len()), (0, 1));

    let _ = local.stop.send(());
    let _ = local.server.await;
}
