//! What a PATCH path designates once resolved against the schema.

use crate::filter::Filter;
use crate::schema::{Attribute, AttributeRef};

/// What a path designates once resolved.
#[derive(Clone, Copy)]
pub(super) struct Target<'a> {
    pub(super) at: AttributeRef,
    pub(super) filter: Option<&'a Filter>,
    pub(super) sub: Option<&'static Attribute>,
}
