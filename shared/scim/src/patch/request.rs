//! Reading a PATCH body: operations, their `op`, and paths with value filters.

use crate::coerce::describe;
use crate::error::{Result, ScimError};
use crate::filter::{self, Filter};
use crate::path::{AttrPath, is_attr_name};
use crate::schemas_member::check_message;
use serde_json::Value;

pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    pub operations: Vec<PatchOperation>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOp,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOp {
    Add,
    Replace,
    Remove,
}

impl PatchOp {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            PatchOp::Add => "add",
            PatchOp::Replace => "replace",
            PatchOp::Remove => "remove",
        }
    }
}

/// `attrPath [ "[" valFilter "]" ] [ "." subAttr ]`. The sub-attribute always lives in
/// `sub`, never inside `attribute`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attribute: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

impl PatchRequest {
    /// Reads a PATCH body. Lenient where Entra varies (op case, a missing `schemas`,
    /// an empty `path`), strict where a guess could lose data: `schemas`, when present,
    /// must list the PatchOp URN.
    pub fn from_json(body: &Value) -> Result<PatchRequest> {
        let Value::Object(fields) = body else {
            return Err(ScimError::invalid_syntax("a PATCH body must be a JSON object with \"schemas\" and \"Operations\""));
        };
        let operations = fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("Operations"))
            .map(|(_, value)| value)
            .ok_or_else(|| ScimError::invalid_syntax("a PATCH body needs an \"Operations\" array"))?;
        let Value::Array(operations) = operations else {
            return Err(ScimError::invalid_syntax("\"Operations\" must be an array of operations"));
        };
        let operations = operations
            .iter()
            .enumerate()
            .map(|(index, operation)| PatchOperation::from_json(operation).map_err(|e| in_operation(e, index)))
            .collect::<Result<_>>()?;
        check_message(fields, PATCH_OP_SCHEMA, "a PATCH body")?;
        // RFC 7644 asks for one or more operations, but Microsoft's SCIM validator sends
        // an empty `Operations` array and fails a server that refuses it: it is a no-op
        // (docs/ENTRA.md §5).
        Ok(PatchRequest { operations })
    }
}

impl PatchOperation {
    fn from_json(operation: &Value) -> Result<PatchOperation> {
        let Value::Object(fields) = operation else {
            return Err(ScimError::invalid_syntax("each operation must be an object with \"op\", \"path\" and \"value\""));
        };
        let field = |name: &str| fields.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value);
        let op = match field("op").and_then(Value::as_str).map(str::trim) {
            Some(op) if op.eq_ignore_ascii_case("add") => PatchOp::Add,
            Some(op) if op.eq_ignore_ascii_case("replace") => PatchOp::Replace,
            Some(op) if op.eq_ignore_ascii_case("remove") => PatchOp::Remove,
            Some(op) => {
                return Err(ScimError::invalid_syntax(format!(
                    "\"op\" must be \"add\", \"replace\" or \"remove\", got {}",
                    describe(&Value::String(op.to_string()))
                )));
            }
            None => return Err(ScimError::invalid_syntax("\"op\" is missing: use \"add\", \"replace\" or \"remove\"")),
        };
        let path = match field("path") {
            None | Some(Value::Null) => None,
            Some(Value::String(path)) if path.trim().is_empty() => None,
            Some(Value::String(path)) => Some(PatchPath::parse(path.trim())?),
            Some(other) => return Err(ScimError::invalid_path(format!("\"path\" must be a string, got {}", describe(other)))),
        };
        Ok(PatchOperation { op, path, value: field("value").cloned() })
    }
}

impl PatchPath {
    pub fn parse(text: &str) -> Result<PatchPath> {
        let bad_path =
            |why: &str| ScimError::invalid_path(format!("path {} is not valid: {why}", describe(&Value::String(text.to_string()))));
        let Some(open) = text.find('[') else {
            let mut attribute = AttrPath::parse(text).ok_or_else(|| bad_path("expected an attribute name such as \"name.givenName\""))?;
            let sub = attribute.sub.take();
            return Ok(PatchPath { attribute, filter: None, sub });
        };
        let attribute = AttrPath::parse(&text[..open])
            .filter(|a| a.sub.is_none())
            .ok_or_else(|| bad_path("expected an attribute name before \"[\""))?;
        let close = closing_bracket(text, open).ok_or_else(|| bad_path("the \"[\" has no closing \"]\""))?;
        let filter = filter::parse(&text[open + 1..close]).map_err(|e| bad_path(&e.detail))?;
        let sub = match &text[close + 1..] {
            "" => None,
            rest => match rest.strip_prefix('.') {
                Some(sub) if is_attr_name(sub) => Some(sub.to_string()),
                _ => return Err(bad_path("after \"]\" only \".subAttribute\" may follow")),
            },
        };
        Ok(PatchPath { attribute, filter: Some(filter), sub })
    }
}

/// The `]` that closes the `[` at `open`, skipping brackets inside quoted strings.
pub(super) fn closing_bracket(text: &str, open: usize) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (offset, c) in text[open + 1..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            ']' if !in_string => return Some(open + 1 + offset),
            _ => {}
        }
    }
    None
}

pub(super) fn in_operation(error: ScimError, index: usize) -> ScimError {
    ScimError { detail: format!("Operations[{index}]: {}", error.detail), ..error }
}
