pub const MAX_DEPTH: usize = 32; pub const MAX_TERMS: usize = 1000;
pub fn parse(_: &str) -> crate::Result<super::Filter> { Err(crate::ScimError::invalid_filter("stub")) }
