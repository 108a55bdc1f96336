//! The Lambda glue: API Gateway HTTP API events (payload v2) to router
//! requests and back, the runtime loop, JSON tracing and the DynamoDB store from the
//! environment — so that each function's `main` is a few lines.
//!
//! The `enroll` function serves `/enroll/{token}` ([`serve_enroll`]); the `mailer`
//! function takes DynamoDB Stream events instead of HTTP ([`serve_mailer`]). Both read
//! the link key from SSM once, at cold start.
//!
//! The `eaa-sync` function takes the schedule's and manual sync events
//! ([`serve_eaa_sync`], [`eaa_sync`]).
//!
//! The admin function ([`serve_admin`]) also reaches EAA (directory and group selection)
//! and starts the sync function for "sync now". It also answers a direct invoke `{"bootstrap": {"tenantName": "..",
//! "seatLimit": null}}` with a new tenant and its admin key, and the operator's
//! `{"seatLimit": {"tenantId": "..", "limit": 500}}` with the tenant's seats; its
//! one-minute schedule finishes integration deletions in the background. Only a
//! principal allowed `lambda:InvokeFunction` can send these: API Gateway only ever sends
//! HTTP events.

pub mod eaa_sync;
pub mod stream;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use aws_adapters::lambda_invoke::{LambdaSyncTrigger, SYNC_FUNCTION_ENV};
use aws_adapters::{DynamoDbStore, SdkConfig, SesMailer, load_sdk_config};
use bytes::Bytes;
use eaa_client::{ClientConfig, ClientConnector};
use item_store::ItemStore;
pub use lambda_http::Error;
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Body, LambdaEvent, service_fn};
use provisioning::eaa::{EaaConnector, SyncTrigger};
use provisioning::enrollment::EnrollmentConfig;
use provisioning::enrollment::delivery::OutboxMailer;
use provisioning::{Caller, Provisioning};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use scim_http::{EaaAccess, Ingress, Router};

/// Which one-off events besides HTTP requests a function accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Events {
    HttpOnly,
    /// HTTP requests and the bootstrap invoke (the admin function).
    HttpAndBootstrap,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Bootstrap {
    tenant_name: String,
    #[serde(default)]
    seat_limit: Option<u64>,
}

/// The operator's `{"seatLimit": {"tenantId": "..", "limit": 500}}` (`null` removes the limit).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SeatLimit {
    tenant_id: String,
    limit: Option<u64>,
}

/// A function's whole `main`: JSON tracing, the DynamoDB store from `TABLE_NAME`, the
/// router, and the runtime loop.
pub async fn serve(events: Events) -> Result<(), Error> {
    init_tracing();
    let aws = load_sdk_config().await;
    let store = store_from_env(&aws)?;
    let router = Router::new(Arc::new(Provisioning::new(store)));
    // Boxed: the runtime's service future nests deeply enough to exceed the compiler's
    // layout depth limit when inlined into this one.
    Box::pin(run(router, events)).await
}

/// The `enroll` function's `main`: as [`serve`], with the router serving enrollment links
/// ([`enrollment_from_env`]).
pub async fn serve_enroll() -> Result<(), Error> {
    init_tracing();
    let aws = load_sdk_config().await;
    let config = enrollment_from_env(&aws).await?;
    let store = store_from_env(&aws)?;
    let router = Router::new(Arc::new(Provisioning::new(store))).with_enrollment(config);
    Box::pin(run(router, Events::HttpOnly)).await
}

/// The `mailer` function's `main`: DynamoDB Stream batches of outbox records, sent through
/// SES (`SES_SENDER`, `SES_CONFIGURATION_SET`), answered with the partial batch failures.
pub async fn serve_mailer() -> Result<(), Error> {
    init_tracing();
    let aws = load_sdk_config().await;
    let config = enrollment_from_env(&aws).await?;
    let store = store_from_env(&aws)?;
    let ses = SesMailer::from_env(&aws)?;
    let mailer = Arc::new(OutboxMailer::new(Arc::new(Provisioning::new(store)), ses, config));
    Box::pin(lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let mailer = Arc::clone(&mailer);
        async move { stream::handle_stream(&mailer, event.payload).await }
    })))
    .await
}

/// The admin function's `main`: as [`serve`] with the bootstrap invoke, and the EAA
/// routes that call EAA (credentials from SSM under `EAA_CREDENTIALS_PARAMETER_PREFIX`)
/// or start a sync (the function named by `EAA_SYNC_FUNCTION`).
pub async fn serve_admin() -> Result<(), Error> {
    init_tracing();
    let aws = load_sdk_config().await;
    let store = store_from_env(&aws)?;
    let access = EaaAccess {
        connector: ssm_eaa_connector(&aws, ClientConfig::for_admin_requests())?,
        trigger: Arc::new(LambdaSyncTrigger::from_env(&aws, SYNC_FUNCTION_ENV)?),
    };
    let router = Router::new(Arc::new(Provisioning::new(store))).with_eaa(access);
    Box::pin(run(router, Events::HttpAndBootstrap)).await
}

/// The `eaa-sync` function's `main`: the schedule's and manual events
/// ([`eaa_sync::handle_eaa_sync`]), the EAA credentials from SSM
/// (`EAA_CREDENTIALS_PARAMETER_PREFIX`), continuations as asynchronous invokes of itself.
pub async fn serve_eaa_sync() -> Result<(), Error> {
    init_tracing();
    let aws = load_sdk_config().await;
    let store = store_from_env(&aws)?;
    let continuation: Arc<dyn SyncTrigger> = Arc::new(LambdaSyncTrigger::from_env(&aws, "AWS_LAMBDA_FUNCTION_NAME")?);
    let sync = Arc::new(eaa_sync::EaaSync {
        service: Provisioning::new(store),
        connector: ssm_eaa_connector(&aws, ClientConfig::default())?,
        continuation: Some(continuation),
    });
    Box::pin(lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let sync = Arc::clone(&sync);
        // Lambda's deadline as an `Instant`, which the budget arithmetic uses.
        let left = event.context.deadline().duration_since(SystemTime::now()).unwrap_or_default();
        // Boxed for the same reason as in `serve`: the sync's future is deep.
        async move { Box::pin(eaa_sync::handle_eaa_sync(&sync, event.payload, Instant::now() + left)).await }
    })))
    .await
}

/// EAA over HTTPS with each tenant's credentials from SSM.
fn ssm_eaa_connector(aws: &SdkConfig, config: ClientConfig) -> Result<Arc<dyn EaaConnector>, Error> {
    let credentials = aws_adapters::ssm::SsmEaaCredentials::from_env(aws)?;
    Ok(Arc::new(ClientConnector { credentials, config }))
}

/// The enrollment settings from the environment (`ENROLLMENT_LINK_BASE`, `PRODUCT_NAME`,
/// `ENROLLMENT_LINK_TTL_HOURS`) and the link key from the SSM SecureString named by
/// `ENROLLMENT_KEY_PARAMETER`. A missing setting fails the cold start with what to set,
/// rather than every request later.
pub async fn enrollment_from_env(aws: &SdkConfig) -> Result<EnrollmentConfig, Error> {
    let key = aws_adapters::ssm::link_key_from_env(aws).await?;
    Ok(EnrollmentConfig::from_lookup(key, |name| std::env::var(name).ok()).map_err(|e| e.detail())?)
}

/// JSON logs for CloudWatch, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        // Fails only when a subscriber is already installed, which is then the one to use.
        .try_init();
}

/// The DynamoDB store on the table named by `TABLE_NAME`, with the function role's
/// credentials (`aws`).
pub fn store_from_env(aws: &SdkConfig) -> Result<DynamoDbStore, Error> {
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set: the template gives every function the table name")?;
    Ok(DynamoDbStore::from_config(aws, table))
}

/// Runs the Lambda runtime loop: every event goes through [`handle_event`].
pub async fn run<S: ItemStore + 'static>(router: Router<S>, events: Events) -> Result<(), Error> {
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let router = router.clone();
        async move { handle_event(&router, event.payload, events).await }
    }))
    .await
}

/// One invocation: an API Gateway event answered with an API Gateway (payload v2)
/// response, or (admin function) a bootstrap event answered with the new admin key.
pub async fn handle_event<S: ItemStore>(router: &Router<S>, event: Value, events: Events) -> Result<Value, Error> {
    if let Some(bootstrap) = event.get("bootstrap") {
        if events != Events::HttpAndBootstrap {
            return Err("this function does not accept bootstrap events; invoke the admin function".into());
        }
        let bootstrap: Bootstrap = serde_json::from_value(bootstrap.clone())?;
        let name = bootstrap.tenant_name.trim();
        if name.is_empty() {
            return Err("bootstrap.tenantName must not be empty".into());
        }
        let created = router.service().create_tenant(name, bootstrap.seat_limit).await.map_err(|e| e.detail())?;
        tracing::info!(tenant = %created.tenant, "bootstrap created a tenant and its admin key");
        return Ok(json!({ "tenantId": created.tenant, "adminKey": created.admin_key }));
    }
    if event.get("source").and_then(Value::as_str) == Some("aws.events") {
        if events != Events::HttpAndBootstrap {
            return Err("this function has no schedule; the admin function's finishes integration deletions".into());
        }
        // Boxed, like every large future here: the invocation's future stays small.
        return Ok(Box::pin(continue_source_moves(router.service(), Instant::now() + SOURCE_MOVES_BUDGET)).await);
    }
    if let Some(seat_limit) = event.get("seatLimit") {
        if events != Events::HttpAndBootstrap {
            return Err("this function does not accept seatLimit events; invoke the admin function".into());
        }
        return Box::pin(set_seat_limit(router, seat_limit)).await;
    }
    let request: LambdaRequest = serde_json::from_value(event)?;
    // lambda_http builds the request with `expect`: a raw query string with characters a
    // URI may not hold (a client's unencoded `"`), or a bad Host header, would panic in
    // there. Answer 400 instead of failing the invocation.
    let converted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lambda_http::Request::from(request)));
    let response = match converted {
        Ok(request) => Box::pin(router.handle(into_router_request(request))).await,
        Err(_) => router.malformed("the request line is malformed: percent-encode the path and query string"),
    };
    Ok(gateway_response(response))
}

/// How long one scheduled invocation of the admin function works on pending source
/// moves (its timeout is 25 s; each pass is bounded by its examined items).
const SOURCE_MOVES_BUDGET: std::time::Duration = std::time::Duration::from_secs(15);

/// Listing items one pass lets each pending job examine.
const SOURCE_MOVES_EXAMINED: usize = 500;

/// The admin function's one-minute schedule: steps the pending integration deletions and
/// user moves (`tenancy::source_moves`) until `until`, or until none is left.
async fn continue_source_moves<S: ItemStore>(service: &Provisioning<S>, until: Instant) -> Value {
    let mut passes = 0u32;
    while Instant::now() < until {
        match service.continue_source_moves(SOURCE_MOVES_EXAMINED).await {
            Ok(0) => break,
            Ok(_) => passes += 1,
            Err(error) => {
                tracing::warn!(detail = %error.detail(), "source moves: pass failed; the next schedule goes on");
                return json!({"sourceMoves": {"passes": passes, "error": error.detail()}});
            }
        }
    }
    json!({"sourceMoves": {"passes": passes}})
}

/// The operator sets, changes or removes a tenant's seat limit (a tenant's admins cannot).
async fn set_seat_limit<S: ItemStore>(router: &Router<S>, event: &Value) -> Result<Value, Error> {
    let request: SeatLimit = serde_json::from_value(event.clone())?;
    let service = router.service();
    service.tenant(&request.tenant_id).await.map_err(|e| e.detail())?;
    let seats = service.set_seat_limit(&Caller::admin(&request.tenant_id), request.limit).await.map_err(|e| e.detail())?;
    let used = match seats.limit {
        Some(_) => seats.used,
        None => service.tenant_overview(&Caller::admin(&request.tenant_id)).await.map_err(|e| e.detail())?.seats_used,
    };
    tracing::info!(tenant = %request.tenant_id, limit = ?seats.limit, used, "the operator set the seat limit");
    Ok(json!({ "tenantId": request.tenant_id, "seats": {"used": used, "limit": seats.limit} }))
}

/// A lambda_http request as the router wants it: the body as bytes, the stage taken out
/// of the path (lambda_http puts it in) and kept for the public URLs, the request id and
/// domain from API Gateway's request context.
pub fn into_router_request(request: lambda_http::Request) -> http::Request<Bytes> {
    let (mut parts, body) = request.into_parts();
    let mut ingress = Ingress { scheme: Some("https"), ..Ingress::default() };
    if let Some(RequestContext::ApiGatewayV2(context)) = parts.extensions.get::<RequestContext>() {
        ingress.request_id = context.request_id.clone();
        ingress.domain = context.domain_name.clone();
        if let Some(stage) = context.stage.as_deref().filter(|s| !s.is_empty() && *s != "$default") {
            let prefix = format!("/{stage}");
            let path = parts.uri.path();
            if path == prefix || path.starts_with(&format!("{prefix}/")) {
                let rest = &path[prefix.len()..];
                let rest = if rest.is_empty() { "/" } else { rest };
                let path_and_query = match parts.uri.query() {
                    Some(query) => format!("{rest}?{query}"),
                    None => rest.to_string(),
                };
                if let Ok(uri) = path_and_query.parse() {
                    parts.uri = uri;
                }
            }
            ingress.stage_prefix = prefix;
        }
    }
    parts.extensions.insert(ingress);
    let bytes = match body {
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    http::Request::from_parts(parts, bytes)
}

/// The API Gateway HTTP API (payload v2) response for a router response. Bodies are
/// JSON text; repeated headers are joined with commas, as payload v2 requires.
pub fn gateway_response(response: http::Response<Bytes>) -> Value {
    let (parts, body) = response.into_parts();
    let mut headers = Map::new();
    for name in parts.headers.keys() {
        let values: Vec<&str> = parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        headers.insert(name.as_str().to_string(), Value::String(values.join(",")));
    }
    let mut gateway = json!({ "statusCode": parts.status.as_u16(), "headers": headers, "isBase64Encoded": false });
    if !body.is_empty()
        && let Some(object) = gateway.as_object_mut()
    {
        object.insert("body".into(), Value::String(String::from_utf8_lossy(&body).into_owned()));
    }
    gateway
}
