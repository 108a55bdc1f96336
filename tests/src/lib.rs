//! End-to-end tests across crates live next to this file (`lambda_events.rs`); the
//! library is empty.
