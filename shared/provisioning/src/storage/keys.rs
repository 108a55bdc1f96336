//! The whole item layout of the single table, in one place.
//!
//! Every key of tenant data starts with `T#{tenant}`: an operation builds its keys from the
//! caller's tenant, so no request value can name another tenant's item. Request values
//! (userName, externalId, member ids..) only ever appear as the LAST component of a key,
//! so a `#` inside them cannot forge a different prefix.
//!
//! | item | pk | sk | index keys |
//! |---|---|---|---|
//! | tenant | `TENANT#{t}` | `TENANT` | |
//! | secret (API token, admin key) | `SECRET#{sha256 hex}` | `SECRET` | |
//! | integration | `T#{t}` | `INT#{i}` | |
//! | admin key reference | `T#{t}` | `ADMKEY#{key id}` | |
//! | seat counter | `T#{t}` | `SEATS` | |
//! | source move (an integration's records released, removed or moved) | `T#{t}` | `MOVE#{job}` | gsi1 `MOVES#PENDING` / `{t}#{job}` while pending |
//! | resource count: 16 shards, the base, a first count in progress | `T#{t}` | `COUNT#{Type}#{00..15}`, `COUNT#{Type}#base`, `COUNT#{Type}#recount` | |
//! | list bookmark (where the next index page starts) | `T#{t}#BOOKMARK` | `{Type}#{asc or desc}#{startIndex, 20 digits}` | |
//! | user or group | `T#{t}#R#{id}` | `R` | gsi1 `T#{t}#{Type}` / `{folded userName or displayName}`; gsi2 `T#{t}#{Type}#X#{externalId}` / `{id}`; gsi3 `T#{t}#{Type}#E#{folded work email}` / `{id}` |
//! | uniqueness claim: userName; an integration's or integration name | `T#{t}#U#{Type}#{folded unique value}` | `U` | |
//! | uniqueness claim: a group's displayName within its owner (before: the `U#Group` one) | `T#{t}#UO#Group#{manual or integration id}#{folded displayName}` | `U` | |
//! | membership | `T#{t}#R#{group id}` | `M#{member id}` | gsi2 `T#{t}#MO#{member id}` / `{group id}` |
//! | member intent (a large member change in flight) | `T#{t}#R#{group id}` | `INTENT`, `INTENT#{chunk, 4 digits}` | |
//! | device | `T#{t}#R#{user id}` | `D#{device id}` | |
//! | another work email of a user (at most 2) | `T#{t}#R#{user id}` | `E#{folded email}` | gsi3 `T#{t}#User#E#{folded email}` / `{user id}` |
//! | log entry | `T#{t}#LOG` | `{time, 20-digit ns}#{uuid}` | gsi2 `T#{t}#LOGR#{resource id}` / sk; gsi3 `T#{t}#LOGA#{integration id or admin}` / sk |
//! | EAA integration (one per tenant) | `T#{t}` | `EAA` | gsi1 `EAA#INTEGRATIONS` / `{t}` |
//! | EAA sync lease, run checkpoint, last summary, the integration its states belong to | `T#{t}` | `EAASYNC#LEASE`, `EAASYNC#RUN`, `EAASYNC#LAST`, `EAASYNC#OWNER` | |
//! | EAA sync state of a user / group | `T#{t}#EAA#U` / `T#{t}#EAA#G` | `{EAA uuid_url}` | |
//! | EAA fetched users staged across invocations | `T#{t}#EAA#STAGE` | `{run}#{chunk, 6 digits}` | |
//! | enrollment email (outbox) | `T#{t}#OUTBOX` | `{user id}` | gsi1 `OUTBOX#PENDING` / `{time, 20-digit ns}#{t}#{user id}` while unsent |
//!
//! Why this shape:
//! - A resource's key needs only its id, not its type: a member id can be turned into a
//!   key without knowing whether it is a user or a group.
//! - gsi1 is both the listing of a type (paged in name order) and the `userName eq` /
//!   `displayName eq` lookup (`SortKey::Equals`): one index query answers Entra's match.
//! - Memberships live in the group's partition (strongly consistent member pages for GET,
//!   remove-all and group deletion) and appear in gsi2 under the member for the reverse
//!   lookup (a user's `groups`, removal on user deletion).
//! - Devices live in their user's partition, so deleting a user pages through one prefix.
//! - A type's count items share one prefix of the config partition: one query of
//!   `COUNT#{Type}#` reads the shards, the base and any first count in progress together.
//! - Bookmarks have a partition of their own, away from the config partition that every
//!   create and delete writes to; they carry `expiresAt` for the table's TTL.

use std::borrow::Cow;

use item_store::Key;

/// The longest value accepted where it becomes part of a key (DynamoDB sort keys stop at
/// 1024 bytes, partition keys at 2048; this leaves room for the prefixes).
pub const MAX_KEY_VALUE_BYTES: usize = 512;

pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
pub const GSI2_PK: &str = "gsi2pk";
pub const GSI2_SK: &str = "gsi2sk";
pub const GSI3_PK: &str = "gsi3pk";
pub const GSI3_SK: &str = "gsi3sk";

const RESOURCE_SK: &str = "R";
const MEMBER_PREFIX: &str = "M#";
const DEVICE_PREFIX: &str = "D#";
const EMAIL_ALIAS_PREFIX: &str = "E#";

pub fn tenant(tenant: &str) -> Key {
    Key::new(format!("TENANT#{tenant}"), "TENANT")
}

pub fn secret(hash_hex: &str) -> Key {
    Key::new(format!("SECRET#{hash_hex}"), "SECRET")
}

/// The partition of a tenant's configuration items (integrations, seat counter).
pub fn tenant_config(tenant: &str) -> String {
    format!("T#{tenant}")
}

pub const INTEGRATION_PREFIX: &str = "INT#";

pub fn integration(tenant: &str, integration: &str) -> Key {
    Key::new(tenant_config(tenant), format!("{INTEGRATION_PREFIX}{integration}"))
}

pub const ADMIN_KEY_PREFIX: &str = "ADMKEY#";

pub fn admin_key(tenant: &str, key_id: &str) -> Key {
    Key::new(tenant_config(tenant), format!("{ADMIN_KEY_PREFIX}{key_id}"))
}

pub fn eaa_config(tenant: &str) -> Key {
    Key::new(tenant_config(tenant), "EAA")
}

/// gsi1 partition of every tenant's EAA integration (the scheduled sync lists it).
pub const EAA_INTEGRATIONS: &str = "EAA#INTEGRATIONS";

pub fn eaa_sync(tenant: &str, what: &str) -> Key {
    Key::new(tenant_config(tenant), format!("EAASYNC#{what}"))
}

/// Partition of the sync state of EAA users (`U`) or groups (`G`), one item per EAA id.
pub fn eaa_state_partition(tenant: &str, kind: &str) -> String {
    format!("T#{tenant}#EAA#{kind}")
}

pub fn eaa_stage_partition(tenant: &str) -> String {
    format!("T#{tenant}#EAA#STAGE")
}

pub const SOURCE_MOVE_PREFIX: &str = "MOVE#";

pub fn source_move(tenant: &str, job: &str) -> Key {
    Key::new(tenant_config(tenant), format!("{SOURCE_MOVE_PREFIX}{job}"))
}

/// gsi1 partition of every tenant's pending source moves (the background drivers query it).
pub const PENDING_MOVES: &str = "MOVES#PENDING";

pub fn seats(tenant: &str) -> Key {
    Key::new(tenant_config(tenant), "SEATS")
}

/// Sort-key prefix of every count item of a type (see [`count_shard`]).
pub fn count_prefix(type_name: &str) -> String {
    format!("COUNT#{type_name}#")
}

/// One shard of a type's count: creates and deletes add to a random one, so that
/// concurrent writes rarely meet on one item.
pub fn count_shard(tenant: &str, type_name: &str, shard: u8) -> Key {
    Key::new(tenant_config(tenant), format!("{}{shard:02}", count_prefix(type_name)))
}

/// What the shards do not hold: 0 for a tenant created with counts, the resources found by
/// the first count for an older one. Its presence says the count is complete.
pub fn count_base(tenant: &str, type_name: &str) -> Key {
    Key::new(tenant_config(tenant), format!("{}{COUNT_BASE}", count_prefix(type_name)))
}

/// Where the first count of an older tenant's resources has got to, between requests.
pub fn count_recount(tenant: &str, type_name: &str) -> Key {
    Key::new(tenant_config(tenant), format!("{}{COUNT_RECOUNT}", count_prefix(type_name)))
}

pub const COUNT_BASE: &str = "base";
pub const COUNT_RECOUNT: &str = "recount";

/// The store position where index page `start_index` of a type's listing (walked in
/// `order`, `asc` or `desc`) begins.
pub fn bookmark(tenant: &str, type_name: &str, order: &str, start_index: usize) -> Key {
    Key::new(format!("T#{tenant}#BOOKMARK"), format!("{type_name}#{order}#{start_index:020}"))
}

/// The partition holding a resource and its children (memberships, devices).
pub fn resource_partition(tenant: &str, id: &str) -> String {
    format!("T#{tenant}#R#{id}")
}

pub fn resource(tenant: &str, id: &str) -> Key {
    Key::new(resource_partition(tenant, id), RESOURCE_SK)
}

pub fn uniqueness(tenant: &str, type_name: &str, value: &str) -> Key {
    Key::new(format!("T#{tenant}#U#{type_name}#{}", fold(value)), "U")
}

/// A group's displayName claim within its owner (`manual` or the integration's id), so
/// that groups of different sources may share a name. The owner is a server-made value
/// without `#`; the name comes last, like every request value in a key.
pub fn group_name(tenant: &str, owner: &str, display_name: &str) -> Key {
    Key::new(format!("T#{tenant}#UO#Group#{owner}#{}", fold(display_name)), "U")
}

/// gsi1 partition: every resource of one type in a tenant.
pub fn listing(tenant: &str, type_name: &str) -> String {
    format!("T#{tenant}#{type_name}")
}

/// gsi1 sort key: the case-folded unique attribute (userName, displayName), or the id
/// for a type without one.
pub fn listing_sort(value: &str) -> String {
    fold(value)
}

pub fn external_id(tenant: &str, type_name: &str, external_id: &str) -> String {
    format!("T#{tenant}#{type_name}#X#{external_id}")
}

pub fn email(tenant: &str, type_name: &str, email: &str) -> String {
    format!("T#{tenant}#{type_name}#E#{}", fold(email))
}

/// The alias item indexing another work email of `user` (see
/// `resources::attributes::work_email_aliases`).
pub fn work_email_alias(tenant: &str, user: &str, email: &str) -> Key {
    Key::new(resource_partition(tenant, user), format!("{EMAIL_ALIAS_PREFIX}{}", fold(email)))
}

pub fn is_work_email_alias(key: &Key) -> bool {
    key.sk.starts_with(EMAIL_ALIAS_PREFIX)
}

pub fn membership(tenant: &str, group: &str, member: &str) -> Key {
    Key::new(resource_partition(tenant, group), format!("{MEMBER_PREFIX}{member}"))
}

pub fn membership_prefix() -> &'static str {
    MEMBER_PREFIX
}

/// gsi2 partition of the memberships of one member (the reverse lookup).
pub fn member_of(tenant: &str, member: &str) -> String {
    format!("T#{tenant}#MO#{member}")
}

pub fn device(tenant: &str, user: &str, device: &str) -> Key {
    Key::new(resource_partition(tenant, user), format!("{DEVICE_PREFIX}{device}"))
}

pub fn device_prefix() -> &'static str {
    DEVICE_PREFIX
}

pub fn log_partition(tenant: &str) -> String {
    format!("T#{tenant}#LOG")
}

/// gsi2 partition of the log entries about one user or group (the log filtered by id).
pub fn log_of_resource(tenant: &str, resource: &str) -> String {
    format!("T#{tenant}#LOGR#{resource}")
}

/// gsi3 partition of the log entries of one actor (an integration id, or `admin`).
pub fn log_of_actor(tenant: &str, actor: &str) -> String {
    format!("T#{tenant}#LOGA#{actor}")
}

/// Log sort key: time first (zero-padded, so text order is time order), then a random
/// suffix so that entries of the same nanosecond do not overwrite each other.
pub fn log_sort(unix_nanos: i128, unique: &str) -> String {
    format!("{:020}#{unique}", unix_nanos.max(0))
}

pub fn outbox(tenant: &str, user: &str) -> Key {
    Key::new(format!("T#{tenant}#OUTBOX"), user)
}

/// The intent of a group's member changes too many for one transaction (see
/// `resources::member_intents`): its header, in the group's partition.
pub fn member_intent(tenant: &str, group: &str) -> Key {
    Key::new(resource_partition(tenant, group), "INTENT")
}

/// A chunk of the recorded changes of a group's member intent.
pub fn member_intent_chunk(tenant: &str, group: &str, index: usize) -> Key {
    Key::new(resource_partition(tenant, group), format!("INTENT#{index:04}"))
}

/// The (tenant, user id) of an outbox item's key; `None` for any other key.
pub fn outbox_owner<'a>(pk: &'a str, sk: &'a str) -> Option<(&'a str, &'a str)> {
    let tenant = pk.strip_prefix("T#")?.strip_suffix("#OUTBOX")?;
    Some((tenant, sk))
}

/// gsi1 partition of the enrollment emails not sent yet, across tenants (the local
/// mailer polls it; on AWS the table's stream triggers the mailer instead).
pub const PENDING_OUTBOX: &str = "OUTBOX#PENDING";

pub fn pending_outbox_sort(unix_nanos: i128, tenant: &str, user: &str) -> String {
    format!("{:020}#{tenant}#{user}", unix_nanos.max(0))
}

/// Case folding for case-insensitive uniqueness and lookups (`userName`, `displayName`
/// and email addresses compare case-insensitively in SCIM and for Entra): lowercase, then
/// NFC, since lowercasing can leave text that is not NFC (`İ` becomes `i` and a combining
/// dot). The names themselves arrive trimmed and NFC (`scim::names`); folding a folded
/// value changes nothing.
pub fn fold(value: &str) -> String {
    let lowered = value.to_lowercase();
    match scim::names::nfc(&lowered) {
        Cow::Borrowed(_) => lowered,
        Cow::Owned(normal) => normal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tenant_key_starts_with_the_tenant_and_folds_case() {
        assert_eq!(uniqueness("t1", "User", "Alice@X.com"), uniqueness("t1", "User", "alice@x.com"));
        assert_ne!(uniqueness("t1", "User", "a"), uniqueness("t2", "User", "a"));
        for key in [
            resource("t1", "x#T#t2"),
            membership("t1", "g", "m"),
            device("t1", "u", "d"),
            seats("t1"),
            count_shard("t1", "User", 3),
            count_base("t1", "User"),
            bookmark("t1", "User", "asc", 101),
        ] {
            assert!(key.pk.starts_with("T#t1"), "{key}");
        }
        assert!(log_sort(5, "a") < log_sort(40, "a"));
        for key in [count_shard("t1", "User", 15), count_base("t1", "User"), count_recount("t1", "User")] {
            assert!(key.sk.starts_with(&count_prefix("User")), "{key}");
        }
        assert!(!count_base("t1", "Group").sk.starts_with(&count_prefix("User")));
    }

    #[test]
    fn folding_makes_one_key_of_canonically_equal_names() {
        assert_eq!(listing_sort("JOS\u{c9}"), listing_sort("jose\u{301}"));
        assert_eq!(uniqueness("t", "User", "\u{212b}ngstr\u{f6}m"), uniqueness("t", "User", "\u{e5}ngstro\u{308}m"));
        assert_eq!(fold("\u{130}"), "i\u{307}");
    }

    proptest::proptest! {
        #[test]
        fn folding_is_idempotent(value in "\\PC{0,12}") {
            let folded = fold(&value);
            proptest::prop_assert_eq!(fold(&folded), folded);
        }
    }
}
