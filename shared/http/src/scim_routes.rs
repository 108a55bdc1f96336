//! SCIM 2.0 (RFC 7644) under `/scim/v2/{integration}`: Users, Groups, `/.search`, and the
//! discovery documents. One generic path serves both resource types.

use bytes::Bytes;
use http::request::Parts;
use http::{Method, StatusCode};
use item_store::ItemStore;
use provisioning::{Actor, Caller, GROUPS, TypeDescriptor, USERS};
use scim::list::{ListQuery, ListResponse, page};
use scim::projection::AttributeSelection;
use scim::{ScimError, ScimType, discovery};
use serde_json::Value;

use crate::context::Context;
use crate::request::{SEGMENT, json_body, param, query_params, scim_base_url};
use crate::response::{Failure, Outcome, Reply};

/// The most resources one list page returns (`count` is capped to it; advertised in
/// `/ServiceProviderConfig`).
pub const MAX_RESULTS: usize = 100;

fn descriptor(name: &str) -> Option<&'static TypeDescriptor> {
    [&USERS, &GROUPS].into_iter().find(|d| d.resource_type.endpoint.trim_start_matches('/').eq_ignore_ascii_case(name))
}

pub(crate) async fn handle<S: ItemStore>(context: &Context<S>, parts: &Parts, body: &Bytes, integration: &str, rest: &[&str]) -> Outcome {
    // Authenticate before routing, so that an unauthenticated client learns nothing about
    // which integrations or endpoints exist.
    let caller = context.authenticate(parts).await?;
    match &caller.actor {
        Actor::Integration { id, .. } if id == integration => {}
        // Another integration's token, another tenant's, or an admin key: the same 401 as
        // an unknown token.
        _ => return Err(Failure::unauthorized()),
    }
    let base = scim_base_url(parts, integration);
    let method = &parts.method;
    let scim = Scim { context, caller: &caller, base: &base, parts };
    match rest {
        [".search"] => match *method {
            Method::POST => scim.search_all(body).await,
            _ => Err(Failure::method_not_allowed("POST")),
        },
        [name] if name.eq_ignore_ascii_case("ServiceProviderConfig") => {
            discovery_get(method, || Some(discovery::service_provider_config(&base, MAX_RESULTS)))
        }
        [name] if name.eq_ignore_ascii_case("ResourceTypes") => discovery_get(method, || Some(discovery::resource_types_document(&base))),
        [name, id] if name.eq_ignore_ascii_case("ResourceTypes") => discovery_get(method, || discovery::resource_type_document(&base, id)),
        [name] if name.eq_ignore_ascii_case("Schemas") => discovery_get(method, || Some(discovery::schemas_document(&base))),
        [name, id] if name.eq_ignore_ascii_case("Schemas") => discovery_get(method, || discovery::schema_document(&base, id)),
        // RFC 7644 §3.11: a provider without `/Me` answers 501; `/Bulk` likewise, as
        // ServiceProviderConfig says `bulk.supported: false`.
        [name, ..] if name.eq_ignore_ascii_case("Me") => Err(Failure::not_implemented(
            "the Me endpoint is not supported: a token belongs to a provisioning integration, not to a user; read the user by its id at Users",
        )),
        [name] if name.eq_ignore_ascii_case("Bulk") => Err(Failure::not_implemented(
            "bulk operations are not supported (ServiceProviderConfig: bulk.supported is false): send each operation as its own request",
        )),
        [name, rest @ ..] => match (descriptor(name), rest) {
            (Some(d), []) => match *method {
                Method::GET => scim.list_get(d).await,
                Method::POST => scim.create(d, body).await,
                _ => Err(Failure::method_not_allowed("GET, POST")),
            },
            (Some(d), [".search"]) => match *method {
                Method::POST => scim.search(d, body).await,
                _ => Err(Failure::method_not_allowed("POST")),
            },
            (Some(d), [id]) => match *method {
                Method::GET => scim.get(d, id).await,
                Method::PUT => scim.replace(d, id, body).await,
                Method::PATCH => scim.patch(d, id, body).await,
                Method::DELETE => scim.delete(d, id).await,
                _ => Err(Failure::method_not_allowed("GET, PUT, PATCH, DELETE")),
            },
            _ => Err(Failure::not_found(parts.uri.path())),
        },
        [] => Err(Failure::not_found(parts.uri.path())),
    }
}

fn discovery_get(method: &Method, document: impl FnOnce() -> Option<Value>) -> Outcome {
    if method != Method::GET {
        return Err(Failure::method_not_allowed("GET"));
    }
    document().map(Reply::ok).ok_or_else(|| ScimError::not_found("no such discovery document").into())
}

struct Scim<'a, S> {
    context: &'a Context<S>,
    caller: &'a Caller,
    base: &'a str,
    parts: &'a Parts,
}

impl<S: ItemStore> Scim<'_, S> {
    fn selection(&self) -> Result<AttributeSelection, Failure> {
        let params = query_params(self.parts)?;
        Ok(AttributeSelection::parse(param(&params, "attributes"), param(&params, "excludedAttributes"))?)
    }

    fn if_match(&self) -> Option<&str> {
        self.parts.headers.get(http::header::IF_MATCH).and_then(|v| v.to_str().ok())
    }

    /// `{base}/Users/{id}` for a resource of this type.
    fn location(&self, descriptor: &TypeDescriptor, id: &str) -> String {
        format!("{}{}/{}", self.base, descriptor.resource_type.endpoint, percent_encoding::utf8_percent_encode(id, SEGMENT))
    }

    /// Adds `meta.location` (the domain leaves it to this layer, which knows the URL)
    /// when the projection kept `meta`, and makes the `$ref`s of members and groups
    /// absolute; returns the location.
    fn locate(&self, descriptor: &TypeDescriptor, resource: &mut Value) -> Option<String> {
        for attribute in ["members", "groups"] {
            let references = resource.get_mut(attribute).and_then(Value::as_array_mut).into_iter().flatten();
            for reference in references.filter_map(|element| element.get_mut("$ref")) {
                if let Some(path) = reference.as_str().filter(|path| path.starts_with('/')) {
                    *reference = Value::String(format!("{}{path}", self.base));
                }
            }
        }
        let id = resource.get("id").and_then(Value::as_str)?.to_string();
        let location = self.location(descriptor, &id);
        if let Some(meta) = resource.get_mut("meta").and_then(Value::as_object_mut) {
            meta.insert("location".into(), Value::String(location.clone()));
        }
        Some(location)
    }

    fn list_reply(&self, mut response: ListResponse, descriptor: Option<&TypeDescriptor>) -> Outcome {
        for resource in &mut response.resources {
            let own = descriptor.or_else(|| {
                let type_name = resource.pointer("/meta/resourceType").and_then(Value::as_str)?;
                [&USERS, &GROUPS].into_iter().find(|d| d.name() == type_name)
            });
            if let Some(d) = own {
                self.locate(d, resource);
            }
        }
        Ok(Reply::ok(response.into_json()))
    }

    async fn list_get(&self, descriptor: &TypeDescriptor) -> Outcome {
        let params = query_params(self.parts)?;
        let query = ListQuery::from_params(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), MAX_RESULTS)?;
        let response = self.context.service.list(self.caller, descriptor, &query).await?;
        self.list_reply(response, Some(descriptor))
    }

    async fn search(&self, descriptor: &TypeDescriptor, body: &Bytes) -> Outcome {
        let query = ListQuery::from_search_body(&json_body(body)?, MAX_RESULTS)?;
        let response = self.context.service.list(self.caller, descriptor, &query).await?;
        self.list_reply(response, Some(descriptor))
    }

    /// `POST /.search` at the base: Users then Groups, one index page over both. A type
    /// whose schema the filter does not fit contributes nothing (unless neither fits).
    async fn search_all(&self, body: &Bytes) -> Outcome {
        let query = ListQuery::from_search_body(&json_body(body)?, MAX_RESULTS)?;
        if query.cursor.is_some() {
            return Err(ScimError::invalid_value("cursor pagination is per resource type: search /Users/.search or /Groups/.search").into());
        }
        // Each type is asked for everything up to the end of the requested page.
        let mut each = query.clone();
        each.start_index = 1;
        each.count = query.start_index.saturating_add(query.count).saturating_sub(1).min(MAX_RESULTS * 2);
        let mut found = Vec::new();
        let mut total = 0usize;
        let mut filter_error = None;
        for descriptor in [&USERS, &GROUPS] {
            match self.context.service.list(self.caller, descriptor, &each).await {
                Ok(response) => {
                    total += response.total_results.unwrap_or(response.resources.len());
                    found.extend(response.resources);
                }
                Err(provisioning::Error::Scim(error)) if error.scim_type == Some(ScimType::InvalidFilter) => filter_error = Some(error),
                Err(error) => return Err(error.into()),
            }
        }
        if let Some(error) = filter_error
            && total == 0
            && found.is_empty()
        {
            return Err(error.into());
        }
        let mut response = page(found, query.start_index, query.count);
        response.total_results = Some(total);
        self.list_reply(response, None)
    }

    async fn get(&self, descriptor: &TypeDescriptor, id: &str) -> Outcome {
        let mut resource = self.context.service.get(self.caller, descriptor, id, &self.selection()?).await?;
        self.locate(descriptor, &mut resource);
        let etag = resource.pointer("/meta/version").and_then(Value::as_str).map(str::to_string);
        Ok(Reply::ok(resource).etag(etag))
    }

    /// The answer to a write: the resource as written, projected, with its location and
    /// version.
    fn written(
        &self,
        descriptor: &TypeDescriptor,
        selection: &AttributeSelection,
        written: provisioning::Written,
        status: StatusCode,
    ) -> Outcome {
        let mut resource = written.projected(descriptor, selection);
        let location = self.location(descriptor, written.resource.get("id").and_then(Value::as_str).unwrap_or_default());
        self.locate(descriptor, &mut resource);
        let reply = Reply::json(status, resource).etag(Some(scim::etag::etag(written.version)));
        Ok(if status == StatusCode::CREATED { reply.location(Some(location)) } else { reply })
    }

    // The query is checked before the write: a write must not happen and then fail.
    async fn create(&self, descriptor: &TypeDescriptor, body: &Bytes) -> Outcome {
        let selection = self.selection()?;
        let written = self.context.service.create(self.caller, descriptor, &json_body(body)?).await?;
        self.written(descriptor, &selection, written, StatusCode::CREATED)
    }

    async fn replace(&self, descriptor: &TypeDescriptor, id: &str, body: &Bytes) -> Outcome {
        let selection = self.selection()?;
        let written = self.context.service.replace(self.caller, descriptor, id, &json_body(body)?, self.if_match()).await?;
        self.written(descriptor, &selection, written, StatusCode::OK)
    }

    /// A group PATCH answers 204 unless the client asked for attributes the write knows
    /// without reading the whole membership back (e.g. `excludedAttributes=members`).
    async fn patch(&self, descriptor: &TypeDescriptor, id: &str, body: &Bytes) -> Outcome {
        let selection = self.selection()?;
        let written = self.context.service.patch(self.caller, descriptor, id, &json_body(body)?, self.if_match()).await?;
        if written.lacks_members(descriptor, &selection) {
            return Ok(Reply::no_content().etag(Some(scim::etag::etag(written.version))));
        }
        self.written(descriptor, &selection, written, StatusCode::OK)
    }

    async fn delete(&self, descriptor: &TypeDescriptor, id: &str) -> Outcome {
        self.context.service.delete(self.caller, descriptor, id, self.if_match()).await?;
        Ok(Reply::no_content())
    }
}
