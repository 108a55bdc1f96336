//! Fresh ids for new items.

/// A fresh random id (uuid v4), for resources, integrations, tenants, devices, log entries.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
