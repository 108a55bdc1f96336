//! The enrollment link's endpoint, `/enroll/{token}`: no `Authorization` header, the
//! signed single-use token in the path is the credential. `GET` shows what the link
//! enrolls (JSON, or the enrollment page for a browser: see [`crate::enroll_page`]),
//! `POST` registers a device through it (once).
//!
//! A refused link ([`EnrollError`]) is a SCIM error body with its status, its stable
//! `code` (`invalidLink`, `expiredLink`, `usedLink`, ..) and a message meant for the user;
//! only store failures take the common path (retryable ones keep their `Retry-After`,
//! internal ones are logged and hidden). The token never reaches the log: the request
//! span records the path with the token replaced (see `Router::handle`).

use bytes::Bytes;
use http::request::Parts;
use http::{Method, StatusCode};
use item_store::ItemStore;
use provisioning::enrollment::{EnrollDeviceRequest, EnrollError};
use scim::ScimError;
use serde_json::json;

use crate::context::Context;
use crate::enroll_page;
use crate::request::json_body;
use crate::response::{Failure, Outcome, Reply};

/// Longest device name and platform accepted: both are shown to admins, and a device item
/// must stay far below the store's item size limit.
const MAX_DEVICE_TEXT: usize = 200;

pub(crate) async fn handle<S: ItemStore>(context: &Context<S>, parts: &Parts, body: &Bytes, token: &str) -> Outcome {
    let Some(config) = context.enrollment.as_deref() else {
        // A function or server without the link key cannot check links: say so plainly
        // (and without echoing the token) rather than pretending the link is bad.
        return Err(ScimError::not_found("enrollment links are not served by this endpoint").into());
    };
    match parts.method {
        Method::GET if enroll_page::prefers_html(&parts.headers) => match context.service.describe_enrollment(config, token).await {
            Ok(info) => Ok(Reply::html(StatusCode::OK, enroll_page::enrollment(&info))),
            Err(EnrollError::Store(error)) => Err(error.into()),
            Err(error) => {
                let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
                Ok(Reply::html(status, enroll_page::refused(&error.message())))
            }
        },
        Method::GET => match context.service.describe_enrollment(config, token).await {
            Ok(info) => Ok(Reply::ok(json!(info))),
            Err(error) => refused(error),
        },
        Method::POST => {
            let request = device_request(body)?;
            match context.service.enroll_device(config, token, request.into()).await {
                Ok(device) => Ok(Reply::json(StatusCode::CREATED, json!(device))),
                Err(error) => refused(error),
            }
        }
        _ => Err(Failure::method_not_allowed("GET, POST")),
    }
}

/// The body of a `POST`: `{"deviceName","deviceType","platform"}`, checked before the
/// link is spent on it.
fn device_request(body: &Bytes) -> Result<EnrollDeviceRequest, Failure> {
    let value = json_body(body)?;
    let mut request: EnrollDeviceRequest = serde_json::from_value(value).map_err(|e| {
        ScimError::invalid_value(format!(
            "the body must be {{\"deviceName\": text, \"deviceType\": PUSH, PHONE_ONLY, SECURITY_KEY, TOTP or HARDWARE_TOKEN, \"platform\": text}}: {e}"
        ))
    })?;
    request.device_name = request.device_name.trim().to_string();
    request.platform = request.platform.trim().to_string();
    if request.device_name.is_empty() {
        return Err(ScimError::invalid_value("deviceName must not be empty").into());
    }
    if request.device_name.chars().count() > MAX_DEVICE_TEXT || request.platform.chars().count() > MAX_DEVICE_TEXT {
        return Err(ScimError::invalid_value(format!("deviceName and platform are at most {MAX_DEVICE_TEXT} characters")).into());
    }
    Ok(request)
}

/// A refused link as a SCIM error body with the link's `code`; store failures as usual.
fn refused(error: EnrollError) -> Outcome {
    if let EnrollError::Store(error) = error {
        return Err(error.into());
    }
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut body = ScimError::new(status.as_u16(), None, error.message()).to_json();
    if let Some(object) = body.as_object_mut() {
        object.insert("code".into(), error.code().into());
    }
    Ok(Reply::json(status, body))
}
