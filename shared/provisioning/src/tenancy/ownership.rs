//! Who may read and write which records (docs/ARCHITECTURE.md, "Ownership and the
//! integration switches"), as pure
//! functions of the caller and the record's source.
//!
//! Every user and group has a [`Source`]: `manual` (created by a tenant admin) or the
//! integration that provisioned or claimed it. An integration reads what it owns, or the
//! whole tenant with *read all users*; it writes what it owns; with *include manually
//! provisioned users* a changing write to a manual record claims it. A record owned by
//! another integration is never writable. Reads never claim; no-op writes claim nothing.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where a record came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Manual,
    Integration(String),
}

impl Source {
    /// The stored text: `manual` or the integration id (ids never equal `manual`).
    pub fn as_stored(&self) -> &str {
        match self {
            Source::Manual => "manual",
            Source::Integration(id) => id,
        }
    }

    pub fn from_stored(text: &str) -> Source {
        if text == "manual" { Source::Manual } else { Source::Integration(text.to_string()) }
    }
}

/// The per-integration switches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub send_enrollment_emails: bool,
    pub include_manual_users: bool,
    pub read_all_users: bool,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A tenant administrator (admin API): reads and writes everything, claims nothing.
    Admin,
    /// A provisioning integration, with its settings at authentication time.
    Integration { id: String, settings: Settings },
}

/// The caller of every domain operation: its tenant (all keys derive from it) and actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: String,
    pub actor: Actor,
    /// The integration's name at authentication time, for the provisioning log.
    pub integration_name: Option<String>,
}

impl Caller {
    pub fn admin(tenant: impl Into<String>) -> Self {
        Caller { tenant: tenant.into(), actor: Actor::Admin, integration_name: None }
    }

    pub fn integration(tenant: impl Into<String>, id: impl Into<String>, settings: Settings) -> Self {
        Caller { tenant: tenant.into(), actor: Actor::Integration { id: id.into(), settings }, integration_name: None }
    }

    /// With the integration's name, which its log entries carry.
    pub fn named(self, name: impl Into<String>) -> Self {
        Caller { integration_name: Some(name.into()), ..self }
    }

    /// The source of a record this caller creates.
    pub fn source(&self) -> Source {
        match &self.actor {
            Actor::Admin => Source::Manual,
            Actor::Integration { id, .. } => Source::Integration(id.clone()),
        }
    }

    /// 403 unless the caller is the tenant's administrator; `action` completes "only a
    /// tenant administrator may ...".
    pub(crate) fn require_admin(&self, action: &str) -> Result<()> {
        match self.actor {
            Actor::Admin => Ok(()),
            Actor::Integration { .. } => Err(Error::Forbidden(format!("only a tenant administrator may {action}"))),
        }
    }

    /// Name of the actor in the provisioning log.
    pub fn actor_name(&self) -> &str {
        match &self.actor {
            Actor::Admin => "admin",
            Actor::Integration { id, .. } => id,
        }
    }
}

/// What the caller attempts on an existing record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Read,
    /// A create whose unique attribute matches this record.
    CreateCollision,
    /// PUT or PATCH; `changes` is false when the write would change nothing.
    Write {
        changes: bool,
    },
    Delete,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Allowed, and the record's source becomes the caller's integration.
    Claim,
    /// The record does not exist for this caller (404).
    Hidden,
    /// Refused (403), with the reason.
    Forbidden(String),
    /// The create collides (409), with the reason.
    Conflict(String),
}

/// Whether `caller` reads every record of the tenant (an admin, or an integration with
/// *read all users*): then a list without a filter is the whole listing.
pub fn reads_everything(caller: &Caller) -> bool {
    match &caller.actor {
        Actor::Admin => true,
        Actor::Integration { settings, .. } => settings.read_all_users,
    }
}

const TURN_ON_MANUAL: &str = "turn on \"include manually provisioned users\" for this integration to let it take the record over";

/// The decision for `caller` attempting `operation` on a record from `source`.
pub fn decide(caller: &Caller, source: &Source, operation: Operation) -> Decision {
    let Actor::Integration { id, settings } = &caller.actor else {
        return match operation {
            Operation::CreateCollision => Decision::Conflict("a record with this name already exists".into()),
            _ => Decision::Allow,
        };
    };
    let own = matches!(source, Source::Integration(owner) if owner == id);
    if own {
        return match operation {
            Operation::CreateCollision => Decision::Conflict("this integration already provisioned a record with this name".into()),
            _ => Decision::Allow,
        };
    }
    let visible = settings.read_all_users;
    match (source, operation) {
        (_, Operation::Read) => {
            if visible {
                Decision::Allow
            } else {
                Decision::Hidden
            }
        }
        (Source::Manual, Operation::CreateCollision) => {
            if settings.include_manual_users {
                Decision::Claim
            } else {
                Decision::Conflict(format!("a manually provisioned record with this name exists; {TURN_ON_MANUAL}"))
            }
        }
        (Source::Integration(_), Operation::CreateCollision) => {
            Decision::Conflict("a record with this name is provisioned by another integration".into())
        }
        (Source::Manual, Operation::Write { changes }) => match (changes, settings.include_manual_users) {
            (true, true) => Decision::Claim,
            (false, true) => Decision::Allow,
            (false, false) if visible => Decision::Allow,
            _ => Decision::Forbidden(format!("the record was provisioned manually; {TURN_ON_MANUAL}")),
        },
        (Source::Manual, Operation::Delete) => {
            if settings.include_manual_users {
                Decision::Allow
            } else {
                Decision::Forbidden(format!("the record was provisioned manually; {TURN_ON_MANUAL}"))
            }
        }
        (Source::Integration(_), Operation::Write { changes: false }) if visible => Decision::Allow,
        (Source::Integration(_), Operation::Write { .. } | Operation::Delete) => {
            if visible {
                Decision::Forbidden("the record is provisioned by another integration, which alone may change it".into())
            } else {
                Decision::Hidden
            }
        }
    }
}

/// The sources of the records `caller` may read or claim, or `None` for every source:
/// what an added group member must come from. (Narrower than [`reachable`], which also
/// lets an integration be told 403 about a manual record it may not change.)
pub fn reachable_sources(caller: &Caller) -> Option<Vec<Source>> {
    let Actor::Integration { id, settings } = &caller.actor else { return None };
    if settings.read_all_users {
        return None;
    }
    let mut sources = vec![Source::Integration(id.clone())];
    if settings.include_manual_users {
        sources.push(Source::Manual);
    }
    Some(sources)
}

/// Whether the record exists for the caller at all (else 404 before anything else is
/// checked, so that preconditions do not reveal records the caller cannot reach).
pub fn reachable(caller: &Caller, source: &Source) -> bool {
    decide(caller, source, Operation::Read) != Decision::Hidden
        || decide(caller, source, Operation::Write { changes: true }) != Decision::Hidden
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_reach_everything_and_claim_nothing() {
        let admin = Caller::admin("t");
        for source in [Source::Manual, Source::Integration("i".into())] {
            for operation in [Operation::Read, Operation::Write { changes: true }, Operation::Write { changes: false }, Operation::Delete] {
                assert_eq!(decide(&admin, &source, operation), Decision::Allow, "{source:?} {operation:?}");
            }
            assert!(matches!(decide(&admin, &source, Operation::CreateCollision), Decision::Conflict(_)));
            assert!(reachable(&admin, &source));
        }
        assert_eq!(admin.source(), Source::Manual);
        assert_eq!(Source::from_stored(Source::Integration("x".into()).as_stored()), Source::Integration("x".into()));
        assert_eq!(Source::from_stored("manual"), Source::Manual);
    }

    #[test]
    fn reachable_sources_are_those_read_or_claimed() {
        let sources = [Source::Manual, Source::Integration("me".into()), Source::Integration("other".into())];
        for (include_manual_users, read_all_users) in [(false, false), (true, false), (false, true), (true, true)] {
            let settings = Settings { include_manual_users, read_all_users, ..Settings::default() };
            for caller in [Caller::integration("t", "me", settings), Caller::admin("t")] {
                let listed = reachable_sources(&caller);
                for source in &sources {
                    let named = listed.as_ref().is_none_or(|list| list.contains(source));
                    let read = decide(&caller, source, Operation::Read) != Decision::Hidden;
                    let claimed = decide(&caller, source, Operation::Write { changes: true }) == Decision::Claim;
                    assert_eq!(named, read || claimed, "{caller:?} {source:?}");
                }
            }
        }
    }

    #[test]
    fn records_of_other_integrations_stay_out_of_reach_without_read_all() {
        let caller = Caller::integration("t", "me", Settings { include_manual_users: true, ..Settings::default() });
        let other = Source::Integration("them".into());
        assert!(!reachable(&caller, &other));
        // A manual record is reachable for writing (claimable) though not readable.
        assert!(reachable(&caller, &Source::Manual));
        assert_eq!(decide(&caller, &Source::Manual, Operation::Read), Decision::Hidden);
    }

    #[test]
    fn reading_everything_agrees_with_every_read_decision() {
        let sources = [Source::Manual, Source::Integration("me".into()), Source::Integration("them".into())];
        for read_all_users in [false, true] {
            let integration = Caller::integration("t", "me", Settings { read_all_users, ..Settings::default() });
            for caller in [Caller::admin("t"), integration] {
                let all = sources.iter().all(|source| decide(&caller, source, Operation::Read) == Decision::Allow);
                assert_eq!(reads_everything(&caller), all, "{caller:?}");
            }
        }
    }
}
