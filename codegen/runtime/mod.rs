//! The runtime of the generated crate: string formats, data-model values, serde support for
//! generated types, the XRPC client, event streams and, for servers, typed handlers and service
//! auth. Written once by hand and copied in by the generator, so the crate builds on its own.

#[cfg(feature = "dag-cbor")]
pub mod car;
#[cfg(feature = "dag-cbor")]
pub mod cbor;
pub mod client;
pub mod data;
#[cfg(feature = "server")]
pub mod did;
pub mod formats;
#[cfg(feature = "dag-cbor")]
pub mod repo;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod service_auth;
#[cfg(feature = "stream")]
pub mod stream;
mod object;
mod unknown;
#[cfg(feature = "server")]
pub mod params;
pub mod validate;

/// The `cid` crate that [`Cid::decode`] answers with, re-exported so that its version always
/// matches.
pub use ::cid;
pub use data::*;
pub use formats::*;
pub use unknown::Unknown;
pub use validate::{Validate, Validator, Violation, Violations};
#[doc(hidden)]
pub use crate::tri;
pub use object::{Collection, Extra, Permission, PermissionSet, Redacted, UnknownValue, de, ser};
