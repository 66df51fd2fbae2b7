//! The Lexicon language as data: the serde shape, the typed model, and loading.

mod load;
pub mod model;
mod raw;

pub(crate) use load::def_of;
pub use load::{SourceFile, load};
pub use model::*;
