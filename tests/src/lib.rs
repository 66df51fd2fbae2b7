//! Support code shared by the integration tests.

pub mod pds;
