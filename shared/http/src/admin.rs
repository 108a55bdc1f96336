//! The admin API under `/admin/v1`, for a tenant's administrators (Bearer admin key):
//! integrations, manual users, devices, enrollment email resends, the provisioning log
//! and the EAA integration (credentials reference, directory and group selection, sync
//! now, sync status). Responses are camelCase
//! JSON objects (documented in the README); failures are SCIM error bodies like
//! everywhere else.

use bytes::Bytes;
use http::request::Parts;
use http::{Method, StatusCode};
use item_store::ItemStore;
use provisioning::enrollment::ResendRequest;
use provisioning::mfa::UserSummary;
use provisioning::tenancy::{Integration, MoveTarget, SourceMove, TenantOverview};
use provisioning::{Actor, Caller, EaaConfig, EaaDirectory, IntegrationKind, Settings, Source, SyncStatus, USERS, WithToken};
use scim::ScimError;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::admin_lists::{log_query, user_query};
use crate::context::{Context, EaaAccess};
use crate::request::{json_body, param, public_base_url, query_params, scim_base_url};
use crate::response::{Failure, Outcome, Reply};

pub(crate) async fn handle<S: ItemStore>(context: &Context<S>, parts: &Parts, body: &Bytes, rest: &[&str]) -> Outcome {
    let caller = match context.authenticate(parts).await {
        Ok(caller) if caller.actor == Actor::Admin => caller,
        // An integration token is not an admin key: the same 401 as an unknown one.
        Ok(_) => return Err(Failure::unauthorized_admin()),
        Err(failure) if failure.error.status == 401 => return Err(Failure::unauthorized_admin()),
        Err(failure) => return Err(failure),
    };
    let admin = Admin { context, caller: &caller, parts };
    let method = &parts.method;
    match rest {
        ["integrations"] => match *method {
            Method::GET => admin.list_integrations().await,
            Method::POST => admin.create_integration(body).await,
            _ => Err(Failure::method_not_allowed("GET, POST")),
        },
        ["integrations", id] => match *method {
            Method::GET => admin.integration(id).await,
            Method::PATCH => admin.update_integration(id, body).await,
            Method::DELETE => admin.delete_integration(id).await,
            _ => Err(Failure::method_not_allowed("GET, PATCH, DELETE")),
        },
        ["integrations", id, "move-users"] => match *method {
            Method::POST => admin.move_integration_users(id, body).await,
            _ => Err(Failure::method_not_allowed("POST")),
        },
        ["jobs", id] => match *method {
            Method::GET => Ok(Reply::ok(job_json(&context.service.source_move(&caller, id).await?))),
            _ => Err(Failure::method_not_allowed("GET")),
        },
        ["integrations", id, "token"] => match *method {
            Method::POST => admin.rotate_token(id).await,
            _ => Err(Failure::method_not_allowed("POST")),
        },
        ["users"] => match *method {
            Method::GET => admin.list_users().await,
            Method::POST => admin.create_user(body).await,
            _ => Err(Failure::method_not_allowed("GET, POST")),
        },
        ["users", id] => match *method {
            Method::GET => Ok(Reply::ok(user_json(context.service.user_summary(&caller, id).await?))),
            Method::PATCH => admin.move_user(id, body).await,
            Method::DELETE => {
                context.service.delete(&caller, &USERS, id, None).await?;
                Ok(Reply::no_content())
            }
            _ => Err(Failure::method_not_allowed("GET, PATCH, DELETE")),
        },
        ["users", id, "devices"] => match *method {
            Method::GET => {
                let devices = context.service.list_devices(&caller, id).await?;
                Ok(Reply::ok(json!({ "devices": devices })))
            }
            _ => Err(Failure::method_not_allowed("GET")),
        },
        ["email-enrollments"] => match *method {
            Method::POST => admin.resend_enrollment_emails(body).await,
            _ => Err(Failure::method_not_allowed("POST")),
        },
        ["log"] => match *method {
            Method::GET => admin.log().await,
            _ => Err(Failure::method_not_allowed("GET")),
        },
        ["tenant"] => match *method {
            Method::GET => Ok(Reply::ok(tenant_json(context.service.tenant_overview(&caller).await?))),
            _ => Err(Failure::method_not_allowed("GET")),
        },
        // EAA provisioning: the configuration is read and changed here; listing EAA's
        // directories and groups and selecting them call EAA (`EaaAccess`).
        ["eaa"] => match *method {
            Method::GET => Ok(Reply::ok(eaa_json(context.service.eaa_config(&caller).await?))),
            Method::PUT => admin.set_eaa_credentials(body).await,
            _ => Err(Failure::method_not_allowed("GET, PUT")),
        },
        ["eaa", "directories"] => match *method {
            Method::GET => admin.eaa_directories().await,
            _ => Err(Failure::method_not_allowed("GET")),
        },
        ["eaa", "directories", id] => match *method {
            Method::POST => {
                let eaa = admin.eaa_directory().await?;
                Ok(Reply::ok(eaa_json(context.service.associate_eaa_directory(&caller, eaa.as_ref(), id).await?)))
            }
            Method::DELETE => Ok(Reply::ok(eaa_json(context.service.dissociate_eaa_directory(&caller, id).await?))),
            _ => Err(Failure::method_not_allowed("POST, DELETE")),
        },
        ["eaa", "directories", id, "groups"] => match *method {
            Method::GET => admin.eaa_groups(id).await,
            _ => Err(Failure::method_not_allowed("GET")),
        },
        ["eaa", "directories", id, "groups", group] => match *method {
            Method::POST => {
                let eaa = admin.eaa_directory().await?;
                Ok(Reply::ok(eaa_json(context.service.associate_eaa_group(&caller, eaa.as_ref(), id, group).await?)))
            }
            Method::DELETE => Ok(Reply::ok(eaa_json(context.service.dissociate_eaa_group(&caller, id, group).await?))),
            _ => Err(Failure::method_not_allowed("POST, DELETE")),
        },
        ["eaa", "sync"] => match *method {
            Method::GET => Ok(Reply::ok(sync_status_json(context.service.eaa_sync_status(&caller).await?))),
            Method::POST => admin.sync_now().await,
            _ => Err(Failure::method_not_allowed("GET, POST")),
        },
        _ => Err(Failure::not_found(parts.uri.path())),
    }
}

struct Admin<'a, S> {
    context: &'a Context<S>,
    caller: &'a Caller,
    parts: &'a Parts,
}

impl<S: ItemStore> Admin<'_, S> {
    fn integration_json(&self, integration: &Integration) -> Value {
        let mut body = json!({
            "id": integration.id,
            "name": integration.name,
            "kind": integration.kind.as_str(),
            "settings": integration.settings,
            "created": integration.created,
            "version": integration.version,
            "lastUsed": integration.last_used.and_then(|at| OffsetDateTime::from_unix_timestamp(at).ok()).and_then(|at| at.format(&Rfc3339).ok()),
        });
        // Only a SCIM integration has a SCIM endpoint (EAA integrations pull instead).
        if integration.kind == IntegrationKind::Scim
            && let Some(object) = body.as_object_mut()
        {
            object.insert("scimBaseUrl".into(), scim_base_url(self.parts, &integration.id).into());
        }
        body
    }

    /// The integration plus its token: the only time the token is shown.
    fn with_token(&self, created: &WithToken) -> Value {
        let mut body = self.integration_json(&created.integration);
        if let Some(object) = body.as_object_mut() {
            object.insert("token".into(), created.token.clone().into());
        }
        body
    }

    async fn list_integrations(&self) -> Outcome {
        let integrations = self.context.service.list_integrations(self.caller).await?;
        Ok(Reply::ok(json!({ "integrations": integrations.iter().map(|i| self.integration_json(i)).collect::<Vec<_>>() })))
    }

    async fn integration(&self, id: &str) -> Outcome {
        Ok(Reply::ok(self.integration_json(&self.context.service.integration(self.caller, id).await?)))
    }

    async fn create_integration(&self, body: &Bytes) -> Outcome {
        let body = json_body(body)?;
        let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
        let kind = match body.get("kind").and_then(Value::as_str) {
            None => IntegrationKind::Scim,
            Some(kind) if kind.eq_ignore_ascii_case("SCIM") => IntegrationKind::Scim,
            Some(kind) if kind.eq_ignore_ascii_case("EAA") => IntegrationKind::Eaa,
            Some(other) => return Err(ScimError::invalid_value(format!("kind {other:?} must be \"SCIM\" or \"EAA\"")).into()),
        };
        let settings = merge_settings(Settings::default(), body.get("settings"))?;
        let created = self.context.service.create_integration(self.caller, kind, name, settings).await?;
        let location = format!("{}/admin/v1/integrations/{}", public_base_url(self.parts), created.integration.id);
        Ok(Reply::json(StatusCode::CREATED, self.with_token(&created)).location(Some(location)))
    }

    /// `PATCH {"name": .., "settings": {..}}`: a rename, switches changed; any other field
    /// (unknown, or read-only like `kind`, `id`, `created`) is refused by name, never
    /// silently ignored.
    async fn update_integration(&self, id: &str, body: &Bytes) -> Outcome {
        let body = json_body(body)?;
        let fields = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_value("the body must be a JSON object: {\"name\": .., \"settings\": {..}}"))?;
        let refused: Vec<&str> = fields.keys().map(String::as_str).filter(|key| !["name", "settings"].contains(key)).collect();
        if !refused.is_empty() {
            return Err(ScimError::invalid_value(format!(
                "cannot change {}: an integration's name and settings can be changed, nothing else",
                refused.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ")
            ))
            .into());
        }
        let name = match body.get("name") {
            None => None,
            Some(Value::String(name)) => Some(name.as_str()),
            Some(_) => return Err(ScimError::invalid_value("name must be a string").into()),
        };
        let settings = match body.get("settings") {
            None => None,
            Some(patch) => Some(merge_settings(self.context.service.integration(self.caller, id).await?.settings, Some(patch))?),
        };
        let updated = self.context.service.update_integration(self.caller, id, name, settings).await?;
        Ok(Reply::ok(self.integration_json(&self.context.service.integration(self.caller, &updated.id).await?)))
    }

    /// `DELETE /integrations/{id}[?users=release|delete]`: the integration is gone at
    /// once; its users and groups are released to manual (default) or removed. 200 with
    /// the counts when that finished within the request, else 202 with the job so far
    /// and its `Location` (it goes on in the background).
    async fn delete_integration(&self, id: &str) -> Outcome {
        let params = query_params(self.parts)?;
        let users = match param(&params, "users") {
            None | Some("release") => MoveTarget::Manual,
            Some("delete") => MoveTarget::Delete,
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "users={other:?}: use users=release (the default: users and groups become manual) or users=delete (removed with their devices)"
                ))
                .into());
            }
        };
        let job = self.context.service.delete_integration(self.caller, id, users, INLINE_EXAMINED).await?;
        Ok(self.job_reply(&job))
    }

    /// `POST /integrations/{id}/move-users {"source": {"type":"manual"} | {"type":"integration","integrationId":".."}}`.
    async fn move_integration_users(&self, id: &str, body: &Bytes) -> Outcome {
        let to = source_field(&json_body(body)?)?;
        let job = self.context.service.move_integration_users(self.caller, id, to, INLINE_EXAMINED).await?;
        Ok(self.job_reply(&job))
    }

    /// 200 with a finished job, 202 with its `Location` while it goes on.
    fn job_reply(&self, job: &SourceMove) -> Reply {
        if job.done() {
            return Reply::ok(job_json(job));
        }
        let location = format!("{}/admin/v1/jobs/{}", public_base_url(self.parts), job.id);
        Reply::json(StatusCode::ACCEPTED, job_json(job)).location(Some(location))
    }

    /// `PATCH /users/{id} {"source": ..}`: moves one user to manual or to an integration.
    async fn move_user(&self, id: &str, body: &Bytes) -> Outcome {
        let to = source_field(&json_body(body)?)?;
        self.context.service.move_user(self.caller, id, to).await?;
        Ok(Reply::ok(user_json(self.context.service.user_summary(self.caller, id).await?)))
    }

    async fn rotate_token(&self, id: &str) -> Outcome {
        let rotated = self.context.service.rotate_token(self.caller, id).await?;
        Ok(Reply::ok(self.with_token(&rotated)))
    }

    async fn list_users(&self) -> Outcome {
        let (filter, page) = user_query(self.parts)?;
        let (users, next) = self.context.service.list_user_summaries(self.caller, &filter, page.cursor.as_deref(), page.limit).await?;
        Ok(Reply::ok(json!({ "users": users.into_iter().map(user_json).collect::<Vec<_>>(), "nextCursor": next })))
    }

    /// A manually provisioned user: the body is a SCIM User resource.
    async fn create_user(&self, body: &Bytes) -> Outcome {
        let written = self.context.service.create(self.caller, &USERS, &json_body(body)?).await?;
        let id = written.resource.get("id").and_then(Value::as_str).unwrap_or_default();
        let summary = self.context.service.user_summary(self.caller, id).await?;
        let location = format!("{}/admin/v1/users/{id}", public_base_url(self.parts));
        Ok(Reply::json(StatusCode::CREATED, user_json(summary)).location(Some(location)))
    }

    /// `{"userIds":[...]}`: queues a new enrollment email per user (the mailer sends it);
    /// users that cannot be sent one are listed with the reason, not failed as a whole.
    async fn resend_enrollment_emails(&self, body: &Bytes) -> Outcome {
        let request: ResendRequest = serde_json::from_value(json_body(body)?)
            .map_err(|e| ScimError::invalid_value(format!("the body must be {{\"userIds\": [user ids]}}: {e}")))?;
        let result = self.context.service.resend_enrollment_emails(self.caller, &request.user_ids).await?;
        Ok(Reply::ok(json!(result)))
    }

    /// `{"credentialsRef": ".."}`: the name, under the tenant's SSM path, of the EAA API
    /// credentials parameter (README, "EAA provisioning").
    async fn set_eaa_credentials(&self, body: &Bytes) -> Outcome {
        let body = json_body(body)?;
        let reference = body.get("credentialsRef").and_then(Value::as_str);
        let reference =
            reference.ok_or_else(|| ScimError::invalid_value("credentialsRef is required: the credentials parameter's name"))?;
        // The reference's shape is the admin's to fix even where EAA cannot be reached (400 before 501).
        provisioning::check_credentials_ref(reference)?;
        let connector = self.eaa_access()?.connector.as_ref();
        Ok(Reply::ok(eaa_json(self.context.service.set_eaa_credentials(self.caller, reference, connector).await?)))
    }

    fn eaa_access(&self) -> Result<&EaaAccess, Failure> {
        self.context.eaa.as_ref().ok_or_else(|| ScimError::new(501, None, "this deployment does not reach EAA from the admin API").into())
    }

    /// The tenant's EAA directory through the configured connector.
    async fn eaa_directory(&self) -> Result<Box<dyn EaaDirectory>, Failure> {
        let access = self.eaa_access()?;
        Ok(self.context.service.eaa_directory_for(self.caller, access.connector.as_ref()).await?)
    }

    /// `offset` of an EAA listing (from a previous answer's `nextOffset`).
    fn eaa_offset(&self) -> Result<u64, Failure> {
        match param(&query_params(self.parts)?, "offset") {
            None => Ok(0),
            Some(text) => {
                text.trim().parse().map_err(|_| ScimError::invalid_value(format!("offset {text:?} must be a whole number from 0")).into())
            }
        }
    }

    /// One page of EAA's directories, each with whether it is associated.
    async fn eaa_directories(&self) -> Outcome {
        let offset = self.eaa_offset()?;
        let eaa = self.eaa_directory().await?;
        let associated = self.context.service.eaa_config(self.caller).await?.directories;
        let (directories, next) = self.context.service.available_eaa_directories(self.caller, eaa.as_ref(), offset).await?;
        let directories = directories
            .into_iter()
            .map(|d| {
                let is_associated = associated.iter().any(|a| a.id == d.uuid_url);
                json!({"id": d.uuid_url, "name": d.name, "status": d.status, "userCount": d.user_count, "groupCount": d.group_count,
                       "associated": is_associated})
            })
            .collect::<Vec<_>>();
        Ok(Reply::ok(json!({ "directories": directories, "nextOffset": next })))
    }

    /// One page of an associated directory's groups, each with whether it is selected.
    async fn eaa_groups(&self, directory: &str) -> Outcome {
        let offset = self.eaa_offset()?;
        let eaa = self.eaa_directory().await?;
        let (groups, next) = self.context.service.eaa_directory_groups(self.caller, eaa.as_ref(), directory, offset).await?;
        let groups = groups
            .into_iter()
            .map(|c| json!({"id": c.group.uuid_url, "name": c.group.name, "userCount": c.group.user_count, "selected": c.selected}))
            .collect::<Vec<_>>();
        Ok(Reply::ok(json!({ "groups": groups, "nextOffset": next })))
    }

    /// Records the request and starts the sync function for this tenant (202). If it
    /// cannot be started, 503: the request stays recorded and the schedule syncs anyway.
    async fn sync_now(&self) -> Outcome {
        let access = self.eaa_access()?;
        let config = self.context.service.request_eaa_sync(self.caller).await?;
        if let Err(error) = access.trigger.trigger(&self.caller.tenant, &config.integration, 0).await {
            tracing::warn!(%error, "could not start the EAA sync");
            return Err(provisioning::Error::Retryable {
                throttled: false,
                retry_after: std::time::Duration::from_secs(30),
                detail: "the sync could not be started; retry after the delay, or wait for the next scheduled sync".into(),
            }
            .into());
        }
        Ok(Reply::json(StatusCode::ACCEPTED, eaa_json(config)))
    }

    async fn log(&self) -> Outcome {
        let (filter, page) = log_query(self.parts)?;
        let page = self.context.service.list_log(self.caller, &filter, page.cursor.as_deref(), page.limit).await?;
        Ok(Reply::ok(json!({ "entries": page.entries, "nextCursor": page.next })))
    }
}

/// Settings with the switches present in `patch` (camelCase booleans) changed; unknown
/// keys are refused so that a typo does not silently change nothing.
fn merge_settings(current: Settings, patch: Option<&Value>) -> Result<Settings, Failure> {
    let Some(patch) = patch.filter(|p| !p.is_null()) else { return Ok(current) };
    let fields = patch.as_object().ok_or_else(|| ScimError::invalid_value("settings must be an object of booleans"))?;
    let mut merged: Map<String, Value> = match serde_json::to_value(current) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    for (name, value) in fields {
        if !merged.contains_key(name) {
            let known = merged.keys().cloned().collect::<Vec<_>>().join(", ");
            return Err(ScimError::invalid_value(format!("unknown setting {name:?}; the settings are {known}")).into());
        }
        if !value.is_boolean() {
            return Err(ScimError::invalid_value(format!("setting {name:?} must be true or false")).into());
        }
        merged.insert(name.clone(), value.clone());
    }
    serde_json::from_value(Value::Object(merged)).map_err(|e| ScimError::invalid_value(format!("settings: {e}")).into())
}

/// The EAA integration (never the credentials reference: only whether there is one).
fn eaa_json(config: EaaConfig) -> Value {
    json!({
        "integrationId": config.integration,
        "hasCredentials": config.has_credentials,
        "directories": config.directories,
        "syncRequestedAt": config.sync_requested_at,
    })
}

fn sync_status_json(status: SyncStatus) -> Value {
    json!({ "last": status.last, "inProgress": status.in_progress })
}

/// Listing items a deletion or move examines within its request; the rest goes on in
/// the background (a request must end well before API Gateway's 30 s).
const INLINE_EXAMINED: usize = 200;

/// The target of a move: a body `{"source": {"type": "manual"}}` or `{"source": {"type":
/// "integration", "integrationId": ".."}}`, nothing else (a field that is not `source` is
/// refused by name: nothing else of a user changes here).
fn source_field(body: &Value) -> Result<MoveTarget, Failure> {
    let shape = "{\"source\": {\"type\": \"manual\"}} or {\"source\": {\"type\": \"integration\", \"integrationId\": \"..\"}}";
    let fields = body.as_object().ok_or_else(|| ScimError::invalid_value(format!("the body must be {shape}")))?;
    let refused: Vec<String> = fields.keys().filter(|key| *key != "source").map(|k| format!("\"{k}\"")).collect();
    if !refused.is_empty() {
        return Err(ScimError::invalid_value(format!(
            "cannot change {} here: only a user's source is changed by PATCH /admin/v1/users/{{id}} ({shape})",
            refused.join(", ")
        ))
        .into());
    }
    let source = fields.get("source").ok_or_else(|| ScimError::invalid_value(format!("source is required: {shape}")))?;
    match serde_json::from_value::<MoveTarget>(source.clone()) {
        Ok(MoveTarget::Delete) | Err(_) => Err(ScimError::invalid_value(format!("source must be {shape}")).into()),
        Ok(target) => Ok(target),
    }
}

/// A deletion's or move's job: how many records were released, moved or removed so far.
fn job_json(job: &SourceMove) -> Value {
    json!({
        "id": job.id,
        "integrationId": job.integration,
        "integrationDeleted": job.integration_deleted,
        "to": job.to,
        "done": job.done(),
        "phase": job.phase,
        "moved": job.moved,
        "removed": job.removed,
        "failed": job.failed,
        "created": job.created,
        "finished": job.finished,
    })
}

/// The tenant with its seats and its users by source and status (README, "Seats").
fn tenant_json(tenant: TenantOverview) -> Value {
    let by_source: Vec<Value> = tenant
        .by_source
        .iter()
        .map(|(source, count)| {
            let mut entry = source_json(source);
            if let Some(object) = entry.as_object_mut() {
                object.insert("count".into(), (*count).into());
            }
            entry
        })
        .collect();
    let by_status: Map<String, Value> = tenant
        .by_status
        .iter()
        .filter_map(|(status, count)| Some((serde_json::to_value(status).ok()?.as_str()?.to_string(), (*count).into())))
        .collect();
    json!({
        "id": tenant.id,
        "name": tenant.name,
        "created": tenant.created,
        "seats": {"used": tenant.seats_used, "limit": tenant.seat_limit},
        "users": {"bySource": by_source, "byStatus": by_status, "complete": tenant.counts_complete},
    })
}

fn source_json(source: &Source) -> Value {
    match source {
        Source::Manual => json!({ "type": "manual" }),
        Source::Integration(id) => json!({ "type": "integration", "integrationId": id }),
    }
}

fn user_json(user: UserSummary) -> Value {
    let source = source_json(&user.source);
    json!({
        "id": user.id,
        "userName": user.user_name,
        "source": source,
        "status": user.status,
        "deviceCount": user.device_count,
        "created": user.created,
        "lastModified": user.last_modified,
        "resource": user.resource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_merge_only_known_booleans() {
        let merged = merge_settings(Settings::default(), Some(&json!({"readAllUsers": true}))).unwrap();
        assert!(merged.read_all_users && !merged.include_manual_users);
        assert_eq!(merge_settings(merged, None).unwrap(), merged);
        assert!(merge_settings(merged, Some(&json!({"readAll": true}))).is_err());
        assert!(merge_settings(merged, Some(&json!({"readAllUsers": "yes"}))).is_err());
    }
}
