//! The serde shape of a lexicon document: every field of every schema type, all optional.
//!
//! Deserializing into one flat struct (instead of an enum tagged by `type`) lets serde report
//! the exact JSON path and line:column of a wrong value; [`super::load`] then builds the typed
//! [`super::model`] and says which fields a type is missing.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
pub struct RawDocument {
    pub lexicon: u32,
    pub id: String,
    #[serde(default)]
    pub revision: Option<u64>,
    #[serde(default)]
    pub description: Option<String>,
    pub defs: IndexMap<String, RawSchema>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawSchema {
    #[serde(rename = "type")]
    pub kind: String,
    pub description: Option<String>,
    // boolean, integer, string
    pub default: Option<Value>,
    #[serde(rename = "const")]
    pub const_value: Option<Value>,
    #[serde(rename = "enum")]
    pub enum_values: Option<Vec<Value>>,
    // integer
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
    // string, bytes, array
    pub format: Option<String>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_graphemes: Option<u64>,
    pub max_graphemes: Option<u64>,
    pub known_values: Option<Vec<String>>,
    // blob
    pub accept: Option<Vec<String>>,
    pub max_size: Option<u64>,
    // array
    pub items: Option<Box<RawSchema>>,
    // object, params
    pub properties: Option<IndexMap<String, RawSchema>>,
    pub required: Option<Vec<String>>,
    pub nullable: Option<Vec<String>>,
    // ref, union
    #[serde(rename = "ref")]
    pub target: Option<String>,
    pub refs: Option<Vec<String>>,
    pub closed: Option<bool>,
    // record
    pub key: Option<String>,
    pub record: Option<Box<RawSchema>>,
    // query, procedure, subscription
    pub parameters: Option<Box<RawSchema>>,
    pub input: Option<RawBody>,
    pub output: Option<RawBody>,
    pub message: Option<RawMessage>,
    pub errors: Option<Vec<RawError>>,
    // permission-set
    pub title: Option<String>,
    #[serde(rename = "title:lang")]
    pub title_lang: Option<IndexMap<String, String>>,
    pub detail: Option<String>,
    #[serde(rename = "detail:lang")]
    pub detail_lang: Option<IndexMap<String, String>>,
    pub permissions: Option<Vec<RawSchema>>,
    // permission
    pub resource: Option<String>,
    pub collection: Option<Vec<String>>,
    pub action: Option<Vec<String>>,
    pub lxm: Option<Vec<String>>,
    pub aud: Option<String>,
    pub inherit_aud: Option<bool>,
}

#[derive(Deserialize)]
pub struct RawBody {
    pub description: Option<String>,
    pub encoding: String,
    pub schema: Option<Box<RawSchema>>,
}

#[derive(Deserialize)]
pub struct RawMessage {
    pub description: Option<String>,
    pub schema: Option<Box<RawSchema>>,
}

#[derive(Deserialize)]
pub struct RawError {
    pub name: String,
    pub description: Option<String>,
}
