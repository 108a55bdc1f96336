//! The EAA sync end to end: the domain's engine, the HTTP client, EdgeGrid, and the
//! stand-in EAA server over real HTTP, on the embedded store (writes counted).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eaa_client::edgegrid::EdgeGridCredentials;
use eaa_client::standin::{self, Delayed, Fixture, FixtureDirectory, FixtureGroup, StandinConfig, StandinHandle};
use eaa_client::{ClientConfig, ClientConnector, EaaClient, EaaCredentials, StaticCredentials};
use embedded_store::EmbeddedStore;
use item_store::{CountingStore, ItemStore, RoundTrips};
use provisioning::mfa::{DeviceType, NewDevice, UserSummary};
use provisioning::{
    Caller, EaaDirectory, EaaError, Error, GROUPS, IntegrationKind, Progress, Provisioning, Settings, SyncOutcome, SyncSummary, USERS,
    UserStatus,
};
use scim::projection::AttributeSelection;
use serde_json::{Value, json};

type Service = Provisioning<Arc<CountingStore<EmbeddedStore>>>;

const BUDGET: Duration = Duration::from_secs(600);

fn user(id: &str, name: &str) -> Value {
    json!({"user_uuid_url": id, "username": name, "first_name": name, "last_name": "Doe", "email": format!("{name}@corp.example"),
           "display_name": "", "phone_num": "+15550100", "upn": format!("{name}@corp.example"), "status": 1, "modified_at": "2024-02-01T10:00:00"})
}

fn upn(name: &str) -> String {
    format!("{name}@corp.example")
}

/// Directory `d1`: `sales` (ann, bob, cat), `eng` (cat, dan), `ops` (eve), unselected `idle` (fay).
fn fixture() -> Fixture {
    let group = |id: &str, users: &[(&str, &str)]| FixtureGroup {
        uuid_url: id.into(),
        name: format!("{id}-group"),
        users: users.iter().map(|(id, name)| user(id, name)).collect(),
    };
    Fixture {
        directories: vec![FixtureDirectory {
            uuid_url: "d1".into(),
            name: "Corp AD".into(),
            groups: vec![
                group("sales", &[("u-ann", "ann"), ("u-bob", "bob"), ("u-cat", "cat")]),
                group("eng", &[("u-cat", "cat"), ("u-dan", "dan")]),
                group("ops", &[("u-eve", "eve")]),
                group("idle", &[("u-fay", "fay")]),
            ],
        }],
    }
}

struct Setup {
    service: Service,
    admin: Caller,
    tenant: String,
    integration: String,
    client: EaaClient,
    standin: StandinHandle,
}

fn client_for(addr: std::net::SocketAddr, config: &StandinConfig, client: ClientConfig) -> EaaClient {
    let credentials =
        EaaCredentials { host: addr.to_string(), edgegrid: config.credentials.clone(), contract_id: config.contract_id.clone() };
    EaaClient::new(credentials, ClientConfig { scheme: "http", ..client }).expect("client")
}

fn test_client_config() -> ClientConfig {
    ClientConfig {
        requests_per_minute: 100_000,
        page_size: 2,
        max_retries: 1,
        backoff: Duration::from_millis(1),
        ..ClientConfig::default()
    }
}

async fn setup_with(fixture: Fixture, settings: Settings, standin_config: StandinConfig, client: ClientConfig, groups: &[&str]) -> Setup {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let store = EmbeddedStore::open(dir.join("items.redb")).expect("store");
    let service = Provisioning::new(Arc::new(CountingStore::new(store)));
    let tenant = service.create_tenant("Contoso", None).await.expect("tenant").tenant;
    let admin = Caller::admin(&tenant);
    let created = service.create_integration(&admin, IntegrationKind::Eaa, "EAA", settings).await.expect("EAA integration");
    let (addr, standin) = standin::spawn(fixture, standin_config.clone()).await.expect("stand-in");
    // The reference is checked when it is set: something must be stored under it.
    let stored = EaaCredentials {
        host: format!("http://{addr}"),
        edgegrid: standin_config.credentials.clone(),
        contract_id: standin_config.contract_id.clone(),
    };
    let references = StaticCredentials([(format!("{tenant}/secret-ref"), stored)].into_iter().collect());
    let connector = ClientConnector { credentials: references, config: client.clone() };
    service.set_eaa_credentials(&admin, "secret-ref", &connector).await.expect("credentials");
    let client = client_for(addr, &standin_config, client);
    service.associate_eaa_directory(&admin, &client, "d1").await.expect("directory");
    for group in groups {
        service.associate_eaa_group(&admin, &client, "d1", group).await.expect("group");
    }
    Setup { service, admin, tenant, integration: created.integration.id, client, standin }
}

async fn setup(settings: Settings) -> Setup {
    setup_with(fixture(), settings, StandinConfig::for_tests(), test_client_config(), &["sales", "eng", "ops"]).await
}

impl Setup {
    async fn sync(&self) -> SyncSummary {
        match self.service.eaa_sync_step(&self.tenant, &self.client, BUDGET).await.expect("sync") {
            Progress::Done(summary) => summary,
            other => panic!("sync did not finish: {other:?}"),
        }
    }

    async fn users(&self) -> BTreeMap<String, UserSummary> {
        let (users, next) = self.service.list_user_summaries(&self.admin, &Default::default(), None, 1000).await.expect("users");
        assert!(next.is_none());
        users.into_iter().map(|u| (u.user_name.clone(), u)).collect()
    }

    async fn group_members(&self, name: &str) -> Option<Vec<String>> {
        let query = scim::list::ListQuery::from_params([("filter", format!("displayName eq \"{name}\"").as_str())], 10).ok()?;
        let found = self.service.list(&self.admin, &GROUPS, &query).await.expect("groups");
        let id = found.resources.first()?.get("id")?.as_str()?.to_string();
        let group = self.service.get(&self.admin, &GROUPS, &id, &AttributeSelection::default()).await.expect("group");
        let mut members: Vec<String> = group
            .get("members")
            .and_then(Value::as_array)
            .map(|m| m.iter().filter_map(|v| v["value"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        members.sort();
        Some(members)
    }

    async fn id_of(&self, name: &str) -> String {
        self.users().await.get(&upn(name)).map(|u| u.id.clone()).unwrap_or_else(|| panic!("no user {name}"))
    }
}

fn counts(summary: &SyncSummary) -> [u64; 6] {
    let c = summary.counts;
    [c.created, c.updated, c.suspended, c.removed, c.unchanged, c.failed]
}

#[tokio::test]
async fn full_sync_then_a_resync_without_change_writes_nothing() {
    let s = setup(Settings { send_enrollment_emails: true, ..Settings::default() }).await;
    let first = s.sync().await;
    assert_eq!(counts(&first), [5, 0, 0, 0, 0, 0], "{first:?}");
    assert_eq!(first.outcome, SyncOutcome::Succeeded);
    let users = s.users().await;
    assert_eq!(users.keys().cloned().collect::<Vec<_>>(), ["ann", "bob", "cat", "dan", "eve"].map(upn));
    let ann = &users[&upn("ann")];
    assert_eq!(ann.source, provisioning::Source::Integration(s.integration.clone()));
    assert_eq!(ann.status, UserStatus::Unenrolled);
    assert_eq!(ann.resource["name"]["givenName"], "ann");
    assert_eq!(ann.resource["externalId"], "u-ann");
    assert_eq!(ann.resource["phoneNumbers"][0]["value"], "+15550100");
    // Enrollment emails through the create path's outbox: one per new user.
    assert_eq!(s.service.pending_emails(100).await.expect("outbox").len(), 5);
    let mut eng = vec![s.id_of("cat").await, s.id_of("dan").await];
    eng.sort();
    assert_eq!(s.group_members("eng-group").await, Some(eng));
    assert_eq!(s.group_members("idle-group").await, None);

    let status = s.service.eaa_sync_status(&s.admin).await.expect("status");
    assert_eq!(status.last.as_ref(), Some(&first));
    assert!(status.in_progress.is_none());

    s.service.store().take();
    let second = s.sync().await;
    let writes = s.service.store().take();
    assert_eq!(counts(&second), [0, 0, 0, 0, 5, 0]);
    // Only the lease (put, delete) and the summary (put).
    assert_eq!((writes.put, writes.delete, writes.transact), (2, 1, 0), "{writes:?}");
}

#[tokio::test]
async fn changes_in_eaa_are_applied() {
    let s = setup(Settings::default()).await;
    s.sync().await;
    let ann_device = s.id_of("ann").await;
    s.service
        .add_device(&s.admin, &ann_device, NewDevice { device_name: "phone".into(), device_type: DeviceType::Push, platform: "iOS".into() })
        .await
        .expect("device");
    let bob = s.id_of("bob").await;
    s.standin.update(|f| {
        let sales = f.group_mut("sales").expect("sales");
        sales.users[0]["first_name"] = json!("Annie");
        sales.users[2]["status"] = json!(0);
        sales.users.retain(|u| u["user_uuid_url"] != "u-bob");
        let eng = f.group_mut("eng").expect("eng");
        eng.users[0]["status"] = json!(0);
    });
    let summary = s.sync().await;
    assert_eq!(counts(&summary), [0, 1, 1, 1, 2, 0], "{summary:?}");
    let users = s.users().await;
    assert_eq!(users[&upn("ann")].resource["name"]["givenName"], "Annie");
    // The change keeps the record, its devices and MFA state.
    assert_eq!((users[&upn("ann")].id.as_str(), users[&upn("ann")].status), (ann_device.as_str(), UserStatus::Active));
    assert_eq!(users[&upn("cat")].status, UserStatus::ProvisioningDisabled);
    assert_eq!(users[&upn("cat")].resource["active"], false);
    assert!(!users.contains_key(&upn("bob")));
    assert!(s.service.user_summary(&s.admin, &bob).await.is_err());
    assert!(!s.group_members("sales-group").await.expect("sales").contains(&bob));
    // Enabled again: restored.
    s.standin.update(|f| {
        f.group_mut("sales").expect("sales").users[1]["status"] = json!(1);
        f.group_mut("eng").expect("eng").users[0]["status"] = json!(1);
    });
    let summary = s.sync().await;
    assert_eq!(summary.counts.updated, 1);
    assert_eq!(s.users().await[&upn("cat")].status, UserStatus::Unenrolled);
}

#[tokio::test]
async fn deselecting_a_group_removes_its_users_and_devices_but_keeps_those_in_another_group() {
    let s = setup(Settings::default()).await;
    s.sync().await;
    let ann = s.id_of("ann").await;
    let cat = s.id_of("cat").await;
    for id in [&ann, &cat] {
        s.service
            .add_device(&s.admin, id, NewDevice { device_name: "key".into(), device_type: DeviceType::SecurityKey, platform: "".into() })
            .await
            .expect("device");
    }
    s.service.dissociate_eaa_group(&s.admin, "d1", "sales").await.expect("deselect");
    let summary = s.sync().await;
    assert_eq!(counts(&summary), [0, 1, 0, 2, 2, 0], "{summary:?}");
    let users = s.users().await;
    assert_eq!(users.keys().cloned().collect::<Vec<_>>(), ["cat", "dan", "eve"].map(upn));
    assert_eq!(users[&upn("cat")].device_count, 1);
    assert!(matches!(s.service.list_devices(&s.admin, &ann).await, Err(Error::Scim(e)) if e.status == 404));
    assert_eq!(s.group_members("sales-group").await, None);
    // Selected again: the users come back as new users, to enroll again.
    s.service.associate_eaa_group(&s.admin, &s.client, "d1", "sales").await.expect("reselect");
    let summary = s.sync().await;
    assert_eq!(summary.counts.created, 2);
    let users = s.users().await;
    assert_ne!(users[&upn("ann")].id, ann);
    assert_eq!((users[&upn("ann")].status, users[&upn("ann")].device_count), (UserStatus::Unenrolled, 0));
}

#[tokio::test]
async fn manual_users_are_claimed_only_with_the_switch_and_scim_users_never() {
    let s = setup(Settings::default()).await;
    let manual = s.service.create(&s.admin, &USERS, &json!({"userName": upn("ann"), "displayName": "Manual Ann"})).await.expect("manual");
    let manual_id = manual.resource["id"].as_str().expect("id").to_string();
    let scim = s.service.create_integration(&s.admin, IntegrationKind::Scim, "Entra", Settings::default()).await.expect("scim");
    let entra = Caller::integration(&s.tenant, &scim.integration.id, Settings::default());
    let scim_user =
        s.service.create(&entra, &USERS, &json!({"userName": upn("bob"), "displayName": "Entra Bob"})).await.expect("scim user");

    let summary = s.sync().await;
    assert_eq!(counts(&summary), [3, 0, 0, 0, 0, 2], "{summary:?}");
    assert_eq!(summary.outcome, SyncOutcome::CompletedWithErrors);
    assert!(summary.errors.iter().any(|e| e.contains("include manually provisioned users")), "{:?}", summary.errors);
    let users = s.users().await;
    assert_eq!(
        (users[&upn("ann")].source.clone(), users[&upn("ann")].resource["displayName"].clone()),
        (provisioning::Source::Manual, json!("Manual Ann"))
    );
    assert_eq!(users[&upn("bob")].source, provisioning::Source::Integration(scim.integration.id.clone()));

    s.service
        .update_settings(&s.admin, &s.integration, Settings { include_manual_users: true, ..Settings::default() })
        .await
        .expect("switch on");
    let summary = s.sync().await;
    assert_eq!(counts(&summary), [1, 0, 0, 0, 3, 1], "{summary:?}");
    let users = s.users().await;
    let ann = &users[&upn("ann")];
    assert_eq!((ann.id.as_str(), ann.source.clone()), (manual_id.as_str(), provisioning::Source::Integration(s.integration.clone())));
    assert_eq!(ann.resource["displayName"], "ann Doe");
    let bob = &users[&upn("bob")];
    assert_eq!(
        (bob.source.clone(), bob.resource["displayName"].clone()),
        (provisioning::Source::Integration(scim.integration.id), json!("Entra Bob"))
    );
    assert_eq!(bob.id, scim_user.resource["id"].as_str().expect("id"));
}

#[tokio::test]
async fn rate_limits_are_waited_out() {
    let config = StandinConfig { requests_per_window: 3, window: Duration::from_millis(700), ..StandinConfig::for_tests() };
    let s = setup_with(fixture(), Settings::default(), config, test_client_config(), &["sales", "eng", "ops"]).await;
    let summary = s.sync().await;
    assert!(s.standin.rate_limited() > 0, "the stand-in answered 429");
    assert_eq!(summary.counts.created, 5);
}

#[tokio::test]
async fn client_paces_itself_and_bad_signatures_are_refused() {
    let config = StandinConfig::for_tests();
    let (addr, standin) = standin::spawn(fixture(), config.clone()).await.expect("stand-in");
    let paced = client_for(addr, &config, ClientConfig { requests_per_minute: 2, ..test_client_config() });
    paced.directories(0).await.expect("first");
    paced.directories(0).await.expect("second");
    // A third request within the minute waits for the window: it has not gone out yet.
    assert!(tokio::time::timeout(Duration::from_millis(300), paced.directories(0)).await.is_err());
    assert_eq!(standin.requests(), 2);

    let mut wrong = config.clone();
    wrong.credentials = EdgeGridCredentials { client_secret: "d3Jvbmc=".into(), ..config.credentials.clone() };
    let forger = client_for(addr, &wrong, test_client_config());
    assert!(matches!(forger.directories(0).await, Err(EaaError::Unauthorized(_))));
}

#[tokio::test]
async fn a_sync_failing_halfway_resumes_and_converges() {
    let s = setup(Settings::default()).await;
    s.standin.fail_after(Some(3));
    let error = s.service.eaa_sync_step(&s.tenant, &s.client, BUDGET).await.expect_err("EAA fails");
    assert!(error.is_retryable(), "{error:?}");
    let status = s.service.eaa_sync_status(&s.admin).await.expect("status");
    assert_eq!(status.last.as_ref().map(|l| l.outcome), Some(SyncOutcome::Failed));
    assert!(status.in_progress.is_some());
    assert!(s.users().await.is_empty());

    s.standin.fail_after(None);
    let summary = s.sync().await;
    assert_eq!(counts(&summary), [5, 0, 0, 0, 0, 0]);
    assert!(s.service.eaa_sync_status(&s.admin).await.expect("status").in_progress.is_none());
    assert_eq!(s.sync().await.counts.unchanged, 5);
}

#[tokio::test]
async fn users_written_before_their_sync_state_are_adopted_not_duplicated() {
    let s = setup(Settings::default()).await;
    s.sync().await;
    let before = s.users().await;
    // As if every step had stopped between a user's write and its state's.
    let store = s.service.store();
    let states = item_store::Query::partition(provisioning::storage::keys::eaa_state_partition(&s.tenant, "U"));
    let page = store.query(&states).await.expect("states");
    assert_eq!(page.items.len(), 5);
    for item in page.items {
        store.delete(&item.key, item_store::Condition::None).await.expect("delete state");
    }
    let summary = s.sync().await;
    assert_eq!(summary.counts.failed, 0, "{summary:?}");
    let after = s.users().await;
    assert_eq!(
        before.values().map(|u| (&u.user_name, &u.id)).collect::<Vec<_>>(),
        after.values().map(|u| (&u.user_name, &u.id)).collect::<Vec<_>>()
    );
    assert_eq!(s.sync().await.counts.unchanged, 5);
}

#[tokio::test]
async fn steps_with_no_budget_left_continue_from_their_checkpoints() {
    let mut big = fixture();
    big.group_mut("ops").expect("ops").users = (0..250).map(|i| user(&format!("u-{i:04}"), &format!("user{i:04}"))).collect();
    let s = setup_with(big, Settings::default(), StandinConfig::for_tests(), test_client_config(), &["sales", "eng", "ops"]).await;
    let mut steps = 0;
    let summary = loop {
        steps += 1;
        match s.service.eaa_sync_step(&s.tenant, &s.client, Duration::ZERO).await.expect("step") {
            Progress::Done(summary) => break summary,
            Progress::Continue(checkpoint) => assert!(steps < 1000, "no progress: {checkpoint:?}"),
            Progress::Busy => panic!("nobody else holds the lease"),
        }
    };
    assert!(steps > 100, "one page or one batch per step: {steps}");
    assert_eq!(counts(&summary), [254, 0, 0, 0, 0, 0]);
    assert_eq!(s.users().await.len(), 254);
    assert_eq!(s.sync().await.counts.unchanged, 254);
}

#[tokio::test]
async fn one_sync_at_a_time_and_one_eaa_integration_per_tenant() {
    let s = setup(Settings::default()).await;
    // Every page late, so that two steps overlap.
    let slow = Delayed { inner: &s.client, delay: Duration::from_millis(50) };
    let (a, b) = tokio::join!(s.service.eaa_sync_step(&s.tenant, &slow, BUDGET), async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        s.service.eaa_sync_step(&s.tenant, &slow, BUDGET).await
    });
    assert!(matches!(a, Ok(Progress::Done(_))), "{a:?}");
    assert!(matches!(b, Ok(Progress::Busy)), "{b:?}");
    // Released: the next one runs.
    assert!(matches!(s.service.eaa_sync_step(&s.tenant, &slow, BUDGET).await, Ok(Progress::Done(_))));

    let second = s.service.create_integration(&s.admin, IntegrationKind::Eaa, "EAA 2", Settings::default()).await;
    assert!(matches!(second, Err(Error::Scim(e)) if e.status == 409));
    let targets = s.service.eaa_sync_targets().await.expect("targets");
    assert_eq!(targets.len(), 1);
    assert_eq!((targets[0].tenant.as_str(), targets[0].integration.as_str()), (s.tenant.as_str(), s.integration.as_str()));
    assert_eq!(targets[0].credentials_ref.as_deref(), Some("secret-ref"));
    let config = s.service.eaa_config(&s.admin).await.expect("config");
    assert!(config.has_credentials);
    assert_eq!(config.directories[0].groups.len(), 3);
}

/// 100,000 users in one group, synced against the stand-in (its limit set high: a real
/// EAA's 25 requests/minute make 400 pages of 250 take 16 minutes, i.e. two Lambda
/// invocations with a checkpoint between). Run with
/// `cargo test --release -p eaa-client --test eaa_sync -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "takes minutes; run explicitly for the figures"]
async fn hundred_thousand_users() {
    let mut big = Fixture::default();
    big.directories.push(FixtureDirectory {
        uuid_url: "d1".into(),
        name: "Corp AD".into(),
        groups: vec![FixtureGroup {
            uuid_url: "all".into(),
            name: "All".into(),
            users: (0..100_000).map(|i| user(&format!("u-{i:06}"), &format!("user{i:06}"))).collect(),
        }],
    });
    let client = ClientConfig { requests_per_minute: 1_000_000, ..ClientConfig::default() };
    let s = setup_with(big, Settings::default(), StandinConfig::for_tests(), client, &["all"]).await;
    for round in ["first sync", "no-change resync"] {
        s.service.store().take();
        let started = Instant::now();
        let summary = s.sync().await;
        let RoundTrips { get, put, delete, transact, query } = s.service.store().take();
        println!(
            "{round}: {:?}, {:?}; store: {put} puts, {delete} deletes, {transact} transactions, {get} gets, {query} queries; EAA requests so far {}",
            started.elapsed(),
            summary.counts,
            s.standin.requests()
        );
    }
}

#[tokio::test]
async fn dissociating_the_directory_removes_its_users_and_only_admins_configure() {
    let s = setup(Settings::default()).await;
    s.sync().await;
    let integration = Caller::integration(&s.tenant, &s.integration, Settings::default());
    assert!(matches!(s.service.eaa_config(&integration).await, Err(Error::Forbidden(_))));
    assert!(matches!(s.service.associate_eaa_group(&s.admin, &s.client, "d1", "nope").await, Err(Error::Scim(e)) if e.status == 404));
    let (choices, next) = s.service.eaa_directory_groups(&s.admin, &s.client, "d1", 0).await.expect("groups");
    assert_eq!((choices.len(), next), (2, Some(2)), "the client's page size is 2");
    assert!(choices.iter().all(|c| c.selected));
    s.service.dissociate_eaa_directory(&s.admin, "d1").await.expect("dissociate");
    let summary = s.sync().await;
    assert_eq!(summary.counts.removed, 5);
    assert!(s.users().await.is_empty());
    assert_eq!(s.group_members("sales-group").await, None);
}
