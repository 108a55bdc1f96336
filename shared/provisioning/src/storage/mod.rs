//! The floor every feature writes through: the item layout, ids, reading stored
//! attributes, transactions read back by name, the paging loop, retries and cursors.
//! Nothing here knows a feature.

pub mod attrs;
pub mod cursor;
pub mod ids;
pub mod keys;
pub mod paging;
pub mod retry;
pub mod transaction;
