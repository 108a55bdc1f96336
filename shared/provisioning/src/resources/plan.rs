//! Filter planning: which store reads answer a filter.
//!
//! `eq` terms on `id`, the unique attribute (`userName`, `displayName`, its literal
//! normalised as stored names are: `scim::names`), `externalId`,
//! and Entra's `emails[type eq "work"].value` — alone or as operands of a top-level
//! `and` — become one key or index lookup; the whole filter is then evaluated on what it
//! returns. Anything else walks the type's listing (gsi1) page by page, examining at
//! most `Limits::max_examined` items. No Scan.
//!
//! The listing is in the order of the unique attribute, so `sortBy` on it (ascending or
//! descending) is the store's own order; any other `sortBy` would need every match in
//! memory to sort and is refused before anything is read ([`order`]).
//!
//! `emails.value eq` without the `work` type is not indexed: only a user's work email
//! is in gsi3 (one index key per item), so an index answer could miss a user whose match
//! is another email. It is answered by the listing walk instead, correctly.

use std::borrow::Cow;

use item_store::{GSI1, GSI2, GSI3, Index, Query, SortKey};
use scim::AttrPath;
use scim::filter::{CompValue, CompareOp, Filter};
use scim::list::SortOrder;

use crate::error::{Error, Result};
use crate::resources::types::TypeDescriptor;
use crate::storage::keys::{self, MAX_KEY_VALUE_BYTES};

#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// An equality no stored resource can satisfy (an empty value, or one too long to
    /// have been stored): no read at all, and no key the store would refuse.
    Nothing,
    /// `id eq "x"`: one get.
    ById(String),
    /// One index partition (or sort-key value) holds every possible match.
    Lookup(Query),
    /// No usable term: the whole listing, capped.
    Walk(Query),
}

/// The direction a list walks the listing in: the unique attribute's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Ascending,
    Descending,
}

impl Order {
    /// The order's part of a bookmark key.
    pub fn as_key(self) -> &'static str {
        match self {
            Order::Ascending => "asc",
            Order::Descending => "desc",
        }
    }

    /// `query` walked in this order.
    pub fn apply(self, query: Query) -> Query {
        match self {
            Order::Ascending => query,
            Order::Descending => query.descending(),
        }
    }
}

/// The order of a list with this `sortBy` and `sortOrder`: the listing's own (the unique
/// attribute's), or 400 for any other attribute, before anything is read. `sortOrder`
/// without `sortBy` changes nothing (RFC 7644 sorts only with `sortBy`).
pub fn order(descriptor: &TypeDescriptor, sort_by: Option<&AttrPath>, sort_order: SortOrder) -> Result<Order> {
    match sort_by {
        None => Ok(Order::Ascending),
        Some(path) if is_core(path, descriptor, descriptor.unique) => Ok(match sort_order {
            SortOrder::Ascending => Order::Ascending,
            SortOrder::Descending => Order::Descending,
        }),
        Some(path) => Err(Error::invalid_value(format!(
            "sortBy={path} is not supported: {plural} are listed in {unique} order, so send sortBy={unique} \
             (sortOrder=ascending or descending) or no sortBy, and sort by {path} on the client",
            plural = descriptor.plural(),
            unique = descriptor.unique,
        ))),
    }
}

fn is_core(path: &AttrPath, descriptor: &TypeDescriptor, name: &str) -> bool {
    path.sub.is_none()
        && path.name.eq_ignore_ascii_case(name)
        && path.urn.as_deref().is_none_or(|urn| urn.eq_ignore_ascii_case(descriptor.resource_type.schema.id))
}

/// The plan for a filter (or for no filter) on `descriptor`'s resources in `tenant`.
pub fn plan(tenant: &str, descriptor: &TypeDescriptor, filter: Option<&Filter>) -> Plan {
    let listing = Query::index(GSI1, keys::listing(tenant, descriptor.name()));
    let Some(filter) = filter else { return Plan::Walk(listing) };
    let type_name = descriptor.name();
    for (path, value) in filter.required_equalities() {
        let by_name = is_core(path, descriptor, descriptor.unique);
        // The unique name is looked up in the form names are stored in (trimmed, NFC).
        let value = if by_name { scim::names::comparable(value) } else { Cow::Borrowed(value) };
        let keyed = ["id", descriptor.unique, "externalId"].iter().any(|name| is_core(path, descriptor, name));
        if keyed && (value.is_empty() || value.len() > MAX_KEY_VALUE_BYTES) {
            return Plan::Nothing;
        }
        if is_core(path, descriptor, "id") {
            return Plan::ById(value.to_string());
        }
        if by_name {
            return Plan::Lookup(listing.sort(SortKey::Equals(keys::listing_sort(&value))));
        }
        if is_core(path, descriptor, "externalId") {
            return Plan::Lookup(index(GSI2, keys::external_id(tenant, type_name, &value)));
        }
    }
    if descriptor.email_index
        && let Some(email) = work_email_term(filter)
    {
        if email.is_empty() || email.len() > MAX_KEY_VALUE_BYTES {
            return Plan::Nothing;
        }
        return Plan::Lookup(index(GSI3, keys::email(tenant, type_name, email)));
    }
    Plan::Walk(listing)
}

fn index(index: Index, pk: String) -> Query {
    Query::index(index, pk)
}

/// `emails[type eq "work" and value eq "x"]` (how `emails[type eq "work"].value eq "x"`
/// parses), alone or as an operand of a top-level `and`.
fn work_email_term(filter: &Filter) -> Option<&str> {
    let terms = match filter {
        Filter::And(operands) => operands.as_slice(),
        other => std::slice::from_ref(other),
    };
    terms.iter().find_map(|term| {
        let Filter::ValuePath { path, filter } = term else { return None };
        if !path.name.eq_ignore_ascii_case("emails") || path.sub.is_some() {
            return None;
        }
        let Filter::And(inner) = filter.as_ref() else { return None };
        let literal = |name: &str| {
            inner.iter().find_map(|f| match f {
                Filter::Compare { path, op: CompareOp::Eq, value: CompValue::Str(text) }
                    if path.sub.is_none() && path.urn.is_none() && path.name.eq_ignore_ascii_case(name) =>
                {
                    Some(text.as_str())
                }
                _ => None,
            })
        };
        literal("type").filter(|t| t.eq_ignore_ascii_case("work")).and(literal("value"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::types::{GROUPS, USERS};

    fn parse(text: &str) -> Filter {
        scim::filter::parse(text).unwrap()
    }

    #[test]
    fn equality_terms_become_lookups_and_the_rest_walks() {
        let by_name = plan("t", &USERS, Some(&parse("UserName eq \"Alice\"")));
        assert_eq!(by_name, Plan::Lookup(Query::index(GSI1, "T#t#User").sort(SortKey::Equals("alice".into()))));
        let and = plan("t", &USERS, Some(&parse("id eq \"54D3\" and manager eq \"2819\"")));
        assert_eq!(and, Plan::ById("54D3".into()));
        let external = plan("t", &GROUPS, Some(&parse("externalId eq jyoung")));
        assert_eq!(external, Plan::Lookup(Query::index(GSI2, "T#t#Group#X#jyoung")));
        let email = plan("t", &USERS, Some(&parse("emails[type eq \"work\"].value eq \"A@b.com\"")));
        assert_eq!(email, Plan::Lookup(Query::index(GSI3, "T#t#User#E#a@b.com")));
        let group = plan("t", &GROUPS, Some(&parse("displayName eq \"Sales\"")));
        assert_eq!(group, Plan::Lookup(Query::index(GSI1, "T#t#Group").sort(SortKey::Equals("sales".into()))));
        for walk in ["userName sw \"a\"", "emails.value eq \"a@b.com\"", "userName eq \"a\" or userName eq \"b\""] {
            assert!(matches!(plan("t", &USERS, Some(&parse(walk))), Plan::Walk(_)), "{walk}");
        }
        assert!(matches!(plan("t", &USERS, None), Plan::Walk(_)));
        let long = format!("userName eq \"{}\"", "x".repeat(MAX_KEY_VALUE_BYTES + 1));
        for nothing in ["userName eq \"\"", "userName eq \"  \"", "externalId eq \"\" and userName sw \"a\"", long.as_str()] {
            assert_eq!(plan("t", &USERS, Some(&parse(nothing))), Plan::Nothing, "{nothing}");
        }
    }

    #[test]
    fn a_unique_name_is_looked_up_as_names_are_stored() {
        let alice = Plan::Lookup(Query::index(GSI1, "T#t#User").sort(SortKey::Equals("alice@x.com".into())));
        for text in ["userName eq \" Alice@x.com \"", "userName eq \"alice@x.com\u{3000}\""] {
            assert_eq!(plan("t", &USERS, Some(&parse(text))), alice, "{text}");
        }
        let jose = Plan::Lookup(Query::index(GSI1, "T#t#Group").sort(SortKey::Equals("jos\u{e9}".into())));
        assert_eq!(plan("t", &GROUPS, Some(&parse("displayName eq \"Jose\u{301} \""))), jose);
        // externalId is case-exact and kept as sent.
        assert_eq!(plan("t", &USERS, Some(&parse("externalId eq \" x \""))), Plan::Lookup(Query::index(GSI2, "T#t#User#X# x ")));
    }

    #[test]
    fn only_the_unique_attribute_sorts() {
        let path = |text: &str| AttrPath::parse(text).unwrap();
        assert_eq!(order(&USERS, None, SortOrder::Descending).unwrap(), Order::Ascending);
        assert_eq!(order(&USERS, Some(&path("UserName")), SortOrder::Descending).unwrap(), Order::Descending);
        let full = path("urn:ietf:params:scim:schemas:core:2.0:User:userName");
        assert_eq!(order(&USERS, Some(&full), SortOrder::Ascending).unwrap(), Order::Ascending);
        assert_eq!(order(&GROUPS, Some(&path("displayName")), SortOrder::Ascending).unwrap(), Order::Ascending);
        for other in ["name.familyName", "meta.created", "displayName", "id"] {
            let error = order(&USERS, Some(&path(other)), SortOrder::Ascending).unwrap_err().to_scim();
            assert_eq!((error.status, error.scim_type), (400, Some(scim::ScimType::InvalidValue)), "{other}");
            assert!(error.detail.contains("sortBy=userName"), "{}", error.detail);
        }
    }
}
