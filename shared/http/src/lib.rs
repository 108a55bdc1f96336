//! One router from HTTP requests to the provisioning domain, used by every Lambda function
//! and by the local server: `http::Request<Bytes>` in, `http::Response<Bytes>` out.
//!
//! - SCIM 2.0 per integration under `/scim/v2/{integration}` (see `scim_routes`), authenticated
//!   by that integration's token only.
//! - The admin API under `/admin/v1` (see `admin`), authenticated by a tenant admin key.
//! - The enrollment link's endpoint `/enroll/{token}` (see `enroll_routes`), when the
//!   router has an [`EnrollmentConfig`]; the signed token is its only credential.
//!
//! Every response is `application/scim+json` (except the enrollment page a browser gets
//! from `/enroll/{token}`); every failure (unknown path, wrong method,
//! bad JSON, oversized body, store throttling) is a SCIM error body. Each request runs in
//! one `tracing` span carrying its request id; tokens and the Authorization header are
//! never logged.

mod admin;
mod admin_lists;
mod context;
mod enroll_page;
mod enroll_routes;
mod request;
mod response;
mod scim_routes;
mod strict_json;

use std::sync::Arc;

use bytes::Bytes;
use http::header::HeaderValue;
use http::request::Parts;
use http::{Request, Response};
use item_store::ItemStore;
use provisioning::Provisioning;
use provisioning::enrollment::EnrollmentConfig;
use tracing::Instrument;

use crate::context::Context;
pub use crate::context::EaaAccess;
pub use crate::request::{Ingress, public_base_url};
use crate::request::{logged_path, request_id, segments};
pub use crate::response::SCIM_JSON;
use crate::response::{Failure, Outcome};
pub use crate::scim_routes::MAX_RESULTS;

/// Request bodies larger than this are refused with 413 (Entra's largest requests, group
/// member PATCHes, stay far below).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The router: stateless apart from the domain service, the enrollment configuration and
/// the way to EAA it holds (see `context`).
pub struct Router<S> {
    context: Context<S>,
}

impl<S> Clone for Router<S> {
    fn clone(&self) -> Self {
        Router { context: self.context.clone() }
    }
}

impl<S: ItemStore> Router<S> {
    /// A router without `/enroll` (see [`Router::with_enrollment`]).
    pub fn new(service: Arc<Provisioning<S>>) -> Self {
        Router { context: Context { service, enrollment: None, eaa: None } }
    }

    /// The same router also serving the admin API's EAA routes that call EAA.
    pub fn with_eaa(mut self, access: EaaAccess) -> Self {
        self.context.eaa = Some(access);
        self
    }

    /// The same router also serving enrollment links checked with `config`.
    pub fn with_enrollment(mut self, config: EnrollmentConfig) -> Self {
        self.context.enrollment = Some(Arc::new(config));
        self
    }

    pub fn service(&self) -> &Provisioning<S> {
        &self.context.service
    }

    /// Answers one request. Never panics on request data and always answers.
    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let request_id = request_id(&request);
        let path = logged_path(request.uri().path());
        let span = tracing::info_span!("request", request_id = %request_id, method = %request.method(), path = %path);
        async {
            let started = std::time::Instant::now();
            let (parts, body) = request.into_parts();
            let mut response = match self.route(&parts, &body).await {
                Ok(reply) => reply.into_response(),
                Err(failure) => failure.into_response(&request_id),
            };
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert("x-request-id", value);
            }
            tracing::info!(status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "answered");
            response
        }
        .instrument(span)
        .await
    }

    /// The 400 answer for a request the front end could not even turn into an HTTP
    /// request (a malformed gateway event).
    pub fn malformed(&self, detail: &str) -> Response<Bytes> {
        let id = uuid::Uuid::new_v4().to_string();
        Failure::from(scim::ScimError::invalid_syntax(detail)).into_response(&id)
    }

    /// The 413 answer for a body the front end stopped reading past [`MAX_BODY_BYTES`].
    pub fn too_large(&self, request: &Request<()>) -> Response<Bytes> {
        let request_id = request_id(request);
        let mut response = Failure::too_large(MAX_BODY_BYTES).into_response(&request_id);
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
        response
    }

    async fn route(&self, parts: &Parts, body: &Bytes) -> Outcome {
        if body.len() > MAX_BODY_BYTES {
            return Err(Failure::too_large(MAX_BODY_BYTES));
        }
        let path = parts.uri.path();
        let segments = match segments(path) {
            Some(segments) => segments,
            None => return Err(Failure::not_found(path)),
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match segments.as_slice() {
            ["scim", "v2", integration, rest @ ..] => scim_routes::handle(&self.context, parts, body, integration, rest).await,
            ["admin", "v1", rest @ ..] => admin::handle(&self.context, parts, body, rest).await,
            ["enroll", token] => enroll_routes::handle(&self.context, parts, body, token).await,
            _ => Err(Failure::not_found(path)),
        }
    }
}
