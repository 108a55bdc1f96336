//! Values read from a resource's JSON that the service keys, indexes or acts on.

use serde_json::Value;

use crate::resources::types::TypeDescriptor;
use crate::storage::keys;

/// The value of the type's unique attribute (`userName`, `displayName`).
pub fn unique_value<'a>(descriptor: &TypeDescriptor, resource: &'a Value) -> Option<&'a str> {
    resource.get(descriptor.unique).and_then(Value::as_str)
}

/// The email the resource item indexes for lookups (gsi3, one key per item): Entra's
/// matching email is `emails[type eq "work"].value`. A user may have several work emails
/// (RFC 7643 does not make `type` unique); the item indexes the work email marked
/// primary, else the first; the others get alias items ([`work_email_aliases`]).
pub fn work_email(resource: &Value) -> Option<&str> {
    let work = work_emails(resource);
    let primary = resource.get("emails").and_then(Value::as_array).into_iter().flatten().find_map(|e| {
        let value = email_value(e)?;
        (is_work(e) && e.get("primary") == Some(&Value::Bool(true))).then_some(value)
    });
    primary.or(work.first().copied())
}

/// The most work emails of one user indexed besides the item's own: each is an item to
/// write with every change of the user's emails.
pub const MAX_WORK_EMAIL_ALIASES: usize = 2;

/// The user's other work emails (not [`work_email`], once each however spelled, short
/// enough to be a key), up to [`MAX_WORK_EMAIL_ALIASES`]: each gets an alias item in the
/// email index, so a lookup by any of them finds the user.
pub fn work_email_aliases(resource: &Value) -> Vec<&str> {
    let indexed = work_email(resource).map(keys::fold);
    let mut seen: Vec<String> = indexed.into_iter().collect();
    let mut aliases = Vec::new();
    for email in work_emails(resource) {
        let folded = keys::fold(email);
        if aliases.len() == MAX_WORK_EMAIL_ALIASES || email.len() > keys::MAX_KEY_VALUE_BYTES || seen.contains(&folded) {
            continue;
        }
        seen.push(folded);
        aliases.push(email);
    }
    aliases
}

fn email_value(email: &Value) -> Option<&str> {
    email.get("value").and_then(Value::as_str).filter(|v| !v.is_empty())
}

fn is_work(email: &Value) -> bool {
    email.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("work"))
}

fn work_emails(resource: &Value) -> Vec<&str> {
    let emails = resource.get("emails").and_then(Value::as_array).into_iter().flatten();
    emails.filter(|e| is_work(e)).filter_map(email_value).collect()
}

/// Whether a resource is active (`active` absent counts as active).
pub fn is_active(resource: &Value) -> bool {
    resource.get("active").and_then(Value::as_bool) != Some(false)
}
