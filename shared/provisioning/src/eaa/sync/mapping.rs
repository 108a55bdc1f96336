//! How an EAA user becomes a SCIM User, and the per-user and per-group sync state that
//! lets an unchanged user cost no write.

use std::collections::BTreeSet;

use item_store::{Attributes, Item};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::eaa::port::EaaUser;
use crate::error::{Error, Result};
use crate::storage::keys;

/// One user of the desired state: EAA's view and the selected groups it is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Desired {
    pub(crate) u: EaaUser,
    pub(crate) g: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserState {
    pub(crate) id: String,
    pub(crate) hash: String,
    pub(crate) groups: BTreeSet<String>,
    pub(crate) active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupState {
    pub(crate) id: String,
    pub(crate) name: String,
}

/// The SCIM userName of an EAA user (see the module docs).
pub fn user_name(user: &EaaUser) -> &str {
    [&user.upn, &user.email, &user.username].into_iter().map(|s| s.trim()).find(|s| !s.is_empty()).unwrap_or_default()
}

/// The SCIM User the sync writes for an EAA user.
pub fn scim_user(user: &EaaUser) -> Value {
    let display = match user.display_name.trim() {
        "" => format!("{} {}", user.first_name.trim(), user.last_name.trim()).trim().to_string(),
        name => name.to_string(),
    };
    let mut body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name(user),
        "externalId": user.user_uuid_url,
        "name": {"givenName": user.first_name, "familyName": user.last_name},
        "displayName": display,
        "active": user.status == 1,
    });
    if !user.email.trim().is_empty() {
        body["emails"] = json!([{"value": user.email.trim(), "type": "work", "primary": true}]);
    }
    if !user.phone_num.trim().is_empty() {
        body["phoneNumbers"] = json!([{"value": user.phone_num.trim(), "type": "work"}]);
    }
    body
}

pub(crate) fn content_hash(body: &Value) -> String {
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

pub(crate) fn to_attrs(value: &impl Serialize) -> Attributes {
    serde_json::to_value(value).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default()
}

pub(crate) fn from_attrs<T: for<'de> Deserialize<'de>>(item: &Item, what: &str) -> Result<T> {
    serde_json::from_value(Value::Object(item.attrs.clone())).map_err(|e| Error::Internal(format!("stored {what} {}: {e}", item.key)))
}

pub(crate) fn patch_body(operations: Vec<Value>) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

pub(crate) fn member_values(ids: &[String]) -> Value {
    Value::Array(ids.iter().map(|id| json!({"value": id})).collect())
}

/// The key of the sync-state item of an EAA user (`U`) or group (`G`).
pub(crate) fn state_key(tenant: &str, kind: &str, eaa_id: &str) -> item_store::Key {
    item_store::Key::new(keys::eaa_state_partition(tenant, kind), eaa_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eaa_user(upn: &str, email: &str, username: &str) -> EaaUser {
        EaaUser {
            user_uuid_url: "u1".into(),
            username: username.into(),
            first_name: "Zach".into(),
            last_name: "Doe".into(),
            display_name: String::new(),
            email: email.into(),
            phone_num: String::new(),
            upn: upn.into(),
            status: 2,
        }
    }

    #[test]
    fn user_name_prefers_upn_then_email_then_username() {
        assert_eq!(user_name(&eaa_user("z@corp", "z@mail", "zd")), "z@corp");
        assert_eq!(user_name(&eaa_user(" ", "z@mail", "zd")), "z@mail");
        assert_eq!(user_name(&eaa_user("", "", "zd")), "zd");
    }

    #[test]
    fn mapping_and_hash_follow_the_content() {
        let user = eaa_user("z@corp", "", "zd");
        let body = scim_user(&user);
        assert_eq!((body["displayName"].as_str(), body["active"].as_bool()), (Some("Zach Doe"), Some(false)));
        assert!(body.get("emails").is_none() && body.get("phoneNumbers").is_none());
        assert_eq!(content_hash(&body), content_hash(&scim_user(&user)));
        assert_ne!(content_hash(&body), content_hash(&scim_user(&EaaUser { status: 1, ..user })));
    }
}
