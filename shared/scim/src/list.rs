//! List queries and responses (RFC 7644 sections 3.4.2 and 3.4.3, RFC 9865 cursors):
//! the query parameters or `/.search` body, sorting, index paging and the
//! `ListResponse` message.

use std::cmp::Ordering;
use std::num::IntErrorKind;

use serde_json::{Map, Number, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cursor;
use crate::error::{Result, ScimError};
use crate::filter::Filter;
use crate::path::AttrPath;
use crate::projection::AttributeSelection;
use crate::schema::{Attribute, AttributeType, Resolved, ResourceType};
use crate::schemas_member::check_message;

pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortOrder {
    #[default]
    Ascending,
    Descending,
}

impl SortOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Ascending => "ascending",
            SortOrder::Descending => "descending",
        }
    }
}

/// A request for cursor pagination (RFC 9865).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorRequest {
    /// `cursor` present but empty: the first page.
    First,
    /// The store position carried by a valid cursor of this same query.
    Resume(Vec<u8>),
}

/// A list query, from `GET` parameters or a `POST /.search` body.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub sort_by: Option<AttrPath>,
    pub sort_order: SortOrder,
    /// 1-based; meaningless when `cursor` is set.
    pub start_index: usize,
    /// At most the service's `max_results`; 0 asks for the total only.
    pub count: usize,
    pub cursor: Option<CursorRequest>,
    pub selection: AttributeSelection,
    /// The filter as the client sent it, for [`ListQuery::fingerprint`].
    filter_text: Option<String>,
}

/// The recognised parameters, as text, before interpretation.
#[derive(Default)]
struct RawParams {
    filter: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    start_index: Option<String>,
    count: Option<String>,
    cursor: Option<String>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

impl RawParams {
    /// Where a parameter goes, or `None` for names that are not list parameters:
    /// callers ignore those (RFC 7644 section 3.4.2: unknown parameters such as
    /// Entra's `aadOptscim062020` must not fail a query). Names are case-insensitive;
    /// a repeated parameter keeps its last value.
    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name.to_ascii_lowercase().as_str() {
            "filter" => &mut self.filter,
            "sortby" => &mut self.sort_by,
            "sortorder" => &mut self.sort_order,
            "startindex" => &mut self.start_index,
            "count" => &mut self.count,
            "cursor" => &mut self.cursor,
            "attributes" => &mut self.attributes,
            "excludedattributes" => &mut self.excluded_attributes,
            _ => return None,
        })
    }

    fn into_query(self, max_results: usize) -> Result<ListQuery> {
        if self.cursor.is_some() && self.start_index.is_some() {
            return Err(ScimError::invalid_value(
                "startIndex and cursor cannot be combined: use startIndex for index pagination or cursor for cursor pagination",
            ));
        }
        let filter_text = self.filter.map(|text| text.trim().to_string()).filter(|text| !text.is_empty());
        let filter = filter_text.as_deref().map(crate::filter::parse).transpose()?;
        let sort_by = match self.sort_by.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
            None => None,
            Some(text) => {
                Some(AttrPath::parse(text).ok_or_else(|| ScimError::invalid_value(format!("sortBy {text:?} is not an attribute path")))?)
            }
        };
        let sort_order = match self.sort_order.as_deref().map(str::trim) {
            None => SortOrder::Ascending,
            Some(text) if text.eq_ignore_ascii_case("ascending") => SortOrder::Ascending,
            Some(text) if text.eq_ignore_ascii_case("descending") => SortOrder::Descending,
            Some(text) => {
                return Err(ScimError::invalid_value(format!("sortOrder {text:?} must be \"ascending\" or \"descending\"")));
            }
        };
        let start_index = match self.start_index.as_deref() {
            None => 1,
            Some(text) => to_usize(parse_integer("startIndex", text)?).max(1),
        };
        let count = match self.count.as_deref() {
            None => max_results,
            Some(text) => to_usize(parse_integer("count", text)?).min(max_results),
        };
        let selection = AttributeSelection::parse(self.attributes.as_deref(), self.excluded_attributes.as_deref())?;
        let mut query = ListQuery { filter, sort_by, sort_order, start_index, count, cursor: None, selection, filter_text };
        query.cursor = match self.cursor.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(CursorRequest::First),
            Some(token) => Some(CursorRequest::Resume(cursor::decode(token, query.fingerprint())?)),
        };
        Ok(query)
    }
}

/// An integer parameter; values beyond `i64` saturate (they are clamped anyway).
fn parse_integer(name: &str, text: &str) -> Result<i64> {
    text.trim().parse::<i64>().or_else(|error| match error.kind() {
        IntErrorKind::PosOverflow => Ok(i64::MAX),
        IntErrorKind::NegOverflow => Ok(i64::MIN),
        _ => Err(ScimError::invalid_value(format!("{name} {text:?} is not an integer"))),
    })
}

/// Negative values become 0.
fn to_usize(value: i64) -> usize {
    usize::try_from(value.max(0)).unwrap_or(usize::MAX)
}

impl ListQuery {
    /// From already URL-decoded query parameters. Names are case-insensitive and
    /// unknown ones ignored. `startIndex` below 1 becomes 1; `count` below 0 becomes
    /// 0 and above `max_results` (or absent) becomes `max_results`.
    pub fn from_params<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>, max_results: usize) -> Result<ListQuery> {
        let mut raw = RawParams::default();
        for (name, value) in params {
            if let Some(slot) = raw.slot(name) {
                *slot = Some(value.to_string());
            }
        }
        raw.into_query(max_results)
    }

    /// From a `POST /.search` body (RFC 7644 section 3.4.3): the same parameters as
    /// JSON members, `attributes` and `excludedAttributes` as arrays of strings (a
    /// comma-separated string is accepted too), `startIndex` and `count` as numbers
    /// or numeric strings. `null` members count as absent. `schemas`, when present,
    /// must list the SearchRequest URN.
    pub fn from_search_body(body: &Value, max_results: usize) -> Result<ListQuery> {
        let object = body.as_object().ok_or_else(|| ScimError::invalid_syntax("a search request must be a JSON object"))?;
        check_message(object, SEARCH_REQUEST_SCHEMA, "a search request")?;
        let mut raw = RawParams::default();
        for (name, value) in object {
            let list = is_list_member(name);
            let Some(slot) = raw.slot(name) else { continue };
            let text = match value {
                Value::Null => continue,
                Value::String(text) => text.clone(),
                Value::Number(number) if !list => number.to_string(),
                Value::Array(items) if list => items
                    .iter()
                    .map(|item| item.as_str().ok_or_else(|| ScimError::invalid_value(format!("{name} must be an array of strings"))))
                    .collect::<Result<Vec<&str>>>()?
                    .join(","),
                _ if list => return Err(ScimError::invalid_value(format!("{name} must be an array of strings"))),
                _ => return Err(ScimError::invalid_value(format!("{name} must be a string or a number"))),
            };
            *slot = Some(text);
        }
        raw.into_query(max_results)
    }

    /// Identifies the result set a cursor walks: the filter text, `sortBy` and
    /// `sortOrder`. Paging parameters and the attribute selection may change from
    /// page to page without invalidating a cursor.
    pub fn fingerprint(&self) -> u64 {
        let sort_by = self.sort_by.as_ref().map(|path| path.to_string().to_ascii_lowercase()).unwrap_or_default();
        cursor::fnv1a(&[self.filter_text.as_deref().unwrap_or("").as_bytes(), sort_by.as_bytes(), self.sort_order.as_str().as_bytes()])
    }
}

impl ListQuery {
    /// Answers the query over candidate resources held in memory (the storage layer's
    /// index hits, or a partition it read): filter, sort, index page, projection.
    pub fn answer(&self, resource_type: &ResourceType, candidates: Vec<Value>) -> ListResponse {
        let mut matching: Vec<Value> = match &self.filter {
            Some(filter) => candidates.into_iter().filter(|r| filter.matches(resource_type, r)).collect(),
            None => candidates,
        };
        if let Some(sort_by) = &self.sort_by {
            sort(resource_type, &mut matching, sort_by, self.sort_order);
        }
        let mut response = page(matching, self.start_index, self.count);
        for resource in &mut response.resources {
            *resource = self.selection.project(resource_type, resource);
        }
        response
    }
}

fn is_list_member(name: &str) -> bool {
    name.eq_ignore_ascii_case("attributes") || name.eq_ignore_ascii_case("excludedAttributes")
}

/// Sorts resources in place by `sort_by` (RFC 7644 section 3.4.2.3). A multi-valued
/// attribute sorts by its primary value, else its first; a complex attribute named
/// without a sub-attribute sorts by its `value`. Strings compare case-insensitively
/// unless `caseExact`, dateTimes as instants, numbers numerically. Resources without
/// a value come last ascending and first descending. Stable; an attribute the
/// resource type does not define leaves the order unchanged.
pub fn sort(resource_type: &ResourceType, resources: &mut [Value], sort_by: &AttrPath, order: SortOrder) {
    let Some(Resolved::Attribute { at, sub }) = resource_type.resolve(sort_by) else { return };
    let leaf = match sub {
        Some(sub) => sub,
        None if at.attribute.kind == AttributeType::Complex => match at.attribute.sub_attribute("value") {
            Some(value) => value,
            None => return,
        },
        None => at.attribute,
    };
    let key = |resource: &Value| -> Option<SortKey> {
        let mut value = at.get(resource)?;
        if at.attribute.multi_valued
            && let Some(elements) = value.as_array()
        {
            let primary = elements.iter().find(|e| e.get("primary").and_then(Value::as_bool) == Some(true));
            value = primary.or_else(|| elements.first())?;
        }
        if at.attribute.kind == AttributeType::Complex {
            value = value.get(leaf.name)?;
        }
        SortKey::of(leaf, value)
    };
    let mut keyed: Vec<(Option<SortKey>, Value)> = resources
        .iter_mut()
        .map(|resource| {
            let key = key(resource);
            (key, std::mem::take(resource))
        })
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        let ascending = match (a, b) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        match order {
            SortOrder::Ascending => ascending,
            SortOrder::Descending => ascending.reverse(),
        }
    });
    for (slot, (_, resource)) in resources.iter_mut().zip(keyed) {
        *slot = resource;
    }
}

/// A comparable attribute value. Values of different kinds (a malformed resource)
/// order by kind, so that sorting stays a total order.
enum SortKey {
    Bool(bool),
    Number(Number),
    Instant(i128),
    Text(String),
}

impl SortKey {
    fn of(attribute: &Attribute, value: &Value) -> Option<SortKey> {
        match value {
            Value::Bool(b) => Some(SortKey::Bool(*b)),
            Value::Number(n) => Some(SortKey::Number(n.clone())),
            Value::String(s) if attribute.kind == AttributeType::DateTime => Some(
                OffsetDateTime::parse(s, &Rfc3339)
                    .map(|instant| SortKey::Instant(instant.unix_timestamp_nanos()))
                    .unwrap_or_else(|_| SortKey::Text(s.clone())),
            ),
            Value::String(s) if attribute.case_exact => Some(SortKey::Text(s.clone())),
            Value::String(s) => Some(SortKey::Text(s.to_lowercase())),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            SortKey::Bool(_) => 0,
            SortKey::Number(_) => 1,
            SortKey::Instant(_) => 2,
            SortKey::Text(_) => 3,
        }
    }

    fn cmp(&self, other: &SortKey) -> Ordering {
        match (self, other) {
            (SortKey::Bool(a), SortKey::Bool(b)) => a.cmp(b),
            (SortKey::Number(a), SortKey::Number(b)) => match (a.as_i64(), b.as_i64()) {
                (Some(a), Some(b)) => a.cmp(&b),
                _ => a.as_f64().unwrap_or(f64::NAN).total_cmp(&b.as_f64().unwrap_or(f64::NAN)),
            },
            (SortKey::Instant(a), SortKey::Instant(b)) => a.cmp(b),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// Index pagination over an in-memory result set: the `count` resources from the
/// 1-based `start_index` (0 is read as 1), with `totalResults` counting them all.
pub fn page(resources: Vec<Value>, start_index: usize, count: usize) -> ListResponse {
    let total_results = resources.len();
    let resources: Vec<Value> = resources.into_iter().skip(start_index.saturating_sub(1)).take(count).collect();
    ListResponse {
        total_results: Some(total_results),
        items_per_page: resources.len(),
        resources,
        start_index: Some(start_index.max(1)),
        next_cursor: None,
        previous_cursor: None,
    }
}

/// A `ListResponse` message (RFC 7644 section 3.4.2, RFC 9865 section 2).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListResponse {
    /// RFC 9865 lets a cursor page omit the total when the store cannot count it.
    pub total_results: Option<usize>,
    pub resources: Vec<Value>,
    /// `None` for cursor pages.
    pub start_index: Option<usize>,
    pub items_per_page: usize,
    pub next_cursor: Option<String>,
    pub previous_cursor: Option<String>,
}

impl ListResponse {
    /// The JSON body. `Resources` is always present, even empty: Entra requires it.
    pub fn to_json(&self) -> Value {
        self.clone().into_json()
    }

    /// As [`ListResponse::to_json`], without copying the resources.
    pub fn into_json(self) -> Value {
        let mut body = Map::new();
        body.insert("schemas".into(), json!([LIST_RESPONSE_SCHEMA]));
        if let Some(total) = self.total_results {
            body.insert("totalResults".into(), total.into());
        }
        body.insert("Resources".into(), Value::Array(self.resources));
        if let Some(start_index) = self.start_index {
            body.insert("startIndex".into(), start_index.into());
        }
        body.insert("itemsPerPage".into(), self.items_per_page.into());
        if let Some(next) = self.next_cursor {
            body.insert("nextCursor".into(), next.into());
        }
        if let Some(previous) = self.previous_cursor {
            body.insert("previousCursor".into(), previous.into());
        }
        Value::Object(body)
    }
}
