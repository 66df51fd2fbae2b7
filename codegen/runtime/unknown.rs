//! Lexicon `unknown`: any data-model object, kept whole.
//!
//! Read from JSON, an `Unknown` keeps the JSON text and builds its object only when something
//! asks for it. A timeline page is half records and embedded values typed `unknown`, which most
//! programs pass on, read typed (`to_typed`, straight from the text) or ignore; building maps of
//! them all cost as much as reading the rest of the page.
//!
//! The text is checked when it is read, by the same rules as the built object (an object, no key
//! twice, numbers in range), so a broken value is still an error where it is read and building
//! the object later cannot fail.

use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use serde::Deserialize as _;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde_json::{Map, Value};

use super::data::{DataModelError, DataModelMap, check_object};
use super::object::de::{Key, StrictValue, strict_map_after};

/// Lexicon `unknown`: any data-model object, kept whole (its `$type` included) so that it
/// re-encodes to the same data.
///
/// Keys come back in sorted order, which the data model does not distinguish.
#[derive(Clone, Default)]
pub struct Unknown {
    /// The JSON text the value was read from; dropped when the object is edited.
    text: Option<Box<str>>,
    /// Where the top-level `$type` string lies in `text`, when it needed no unescaping.
    type_name_at: Option<Range<usize>>,
    /// The object: built from `text` on first use, or given.
    object: OnceLock<Map<String, Value>>,
}

impl Unknown {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serializes `value`, which must give a JSON object.
    pub fn from_typed<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        match serde_json::to_value(value)? {
            Value::Object(map) => Ok(Self::from(map)),
            _ => Err(<serde_json::Error as serde::ser::Error>::custom(
                "an unknown value must be a JSON object",
            )),
        }
    }

    /// Reads the object as `T` (for example once `type_name()` tells which type it is), from the
    /// JSON text when there is one, so that the generic object is never built.
    pub fn to_typed<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match &self.text {
            Some(text) => serde_json::from_str(text),
            None => T::deserialize(self.as_map()),
        }
    }

    /// Reads the object as `T`, consuming it.
    pub fn into_typed<T: DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        match &self.text {
            Some(text) => serde_json::from_str(text),
            None => T::deserialize(self.into_map()),
        }
    }

    /// The `$type` of the object, when it has a string one.
    pub fn type_name(&self) -> Option<&str> {
        match (&self.text, &self.type_name_at) {
            (Some(text), Some(at)) => text.get(at.clone()),
            _ => self.as_map().get("$type").and_then(Value::as_str),
        }
    }

    /// The JSON text the value was read from, while it is unedited: to pass the value on, store
    /// it or hash it without building it.
    pub fn json_text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The value of one key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().get(key)
    }

    /// The whole object.
    pub fn as_map(&self) -> &Map<String, Value> {
        self.object.get_or_init(|| build(self.text.as_deref()))
    }

    /// The whole object, to edit in place. The JSON text it was read from is dropped.
    pub fn as_map_mut(&mut self) -> &mut Map<String, Value> {
        if self.object.get().is_none() {
            self.object = OnceLock::from(build(self.text.as_deref()));
        }
        self.text = None;
        self.type_name_at = None;
        match self.object.get_mut() {
            Some(object) => object,
            None => unreachable!("the object was set just above"),
        }
    }

    /// The whole object.
    pub fn into_map(self) -> Map<String, Value> {
        match self.object.into_inner() {
            Some(object) => object,
            None => build(self.text.as_deref()),
        }
    }

    /// Whether this is valid data-model data that Lexicon allows as `unknown`: an object that
    /// is not itself a blob, `$bytes` or `$link` (nested ones are fine).
    pub fn check(&self) -> Result<(), DataModelError> {
        let object = self.as_map();
        if object.contains_key("$bytes") || object.contains_key("$link") {
            return Err(DataModelError::at_root(
                "an unknown value must not be bytes or a link",
            ));
        }
        if self.type_name() == Some("blob") {
            return Err(DataModelError::at_root(
                "an unknown value must not be a blob",
            ));
        }
        check_object(object)
    }

    fn from_text<E: de::Error>(text: Box<str>) -> Result<Self, E> {
        let type_name_at = check_text(&text).map_err(|error| E::custom(without_position(&error)))?;
        Ok(Self {
            text: Some(text),
            type_name_at,
            object: OnceLock::new(),
        })
    }
}

/// Builds the object from checked text (or none, for an empty object).
fn build(text: Option<&str>) -> Map<String, Value> {
    match text {
        None => Map::new(),
        Some(text) => match serde_json::from_str::<StrictValue>(text) {
            Ok(StrictValue(Value::Object(object))) => object,
            _ => unreachable!("the text of an unknown value is checked when read"),
        },
    }
}

impl fmt::Debug for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Unknown").field(self.as_map()).finish()
    }
}

impl PartialEq for Unknown {
    fn eq(&self, other: &Self) -> bool {
        self.as_map() == other.as_map()
    }
}

impl Eq for Unknown {}

impl From<Map<String, Value>> for Unknown {
    fn from(map: Map<String, Value>) -> Self {
        Self {
            text: None,
            type_name_at: None,
            object: OnceLock::from(map),
        }
    }
}

impl From<Unknown> for Value {
    fn from(unknown: Unknown) -> Self {
        Value::Object(unknown.into_map())
    }
}

impl TryFrom<Value> for Unknown {
    type Error = DataModelError;

    fn try_from(value: Value) -> Result<Self, DataModelError> {
        match value {
            Value::Object(map) => Ok(Self::from(map)),
            _ => Err(DataModelError::at_root(
                "an unknown value must be an object",
            )),
        }
    }
}

impl serde::Serialize for Unknown {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        DataModelMap(self.as_map()).serialize(serializer)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// The name under which serde_json's reader hands over a value's JSON text (its `RawValue`
/// protocol): the text comes as a map of one entry under this key. Other formats treat the
/// name as any newtype and give the value itself.
const JSON_TEXT: &str = "$serde_json::private::RawValue";

impl<'de> de::Deserialize<'de> for Unknown {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(JSON_TEXT, UnknownVisitor)
    }
}

struct UnknownVisitor;

impl<'de> Visitor<'de> for UnknownVisitor {
    type Value = Unknown;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    /// serde_json's JSON text, or (from a format that reads any newtype as its content) the
    /// object itself.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unknown, A::Error> {
        let Some(key) = map.next_key::<Key<'de>>()? else {
            return Ok(Unknown::new());
        };
        if key.as_str() == JSON_TEXT {
            let text: Key<'de> = map.next_value()?;
            return Unknown::from_text(text.into_string().into_boxed_str());
        }
        strict_map_after(key, map).map(Unknown::from)
    }

    /// Binary formats (DAG-CBOR) give the value itself.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Unknown, D::Error> {
        match StrictValue::deserialize(d)?.0 {
            Value::Object(map) => Ok(Unknown::from(map)),
            _ => Err(de::Error::custom("an unknown value must be an object")),
        }
    }
}

/// Checks JSON text as [`StrictValue`] reads it, without building anything: an object, no key
/// twice in any object, numbers in range. Answers where the top-level `$type` string lies, when
/// it is a string that needed no unescaping.
fn check_text(text: &str) -> Result<Option<Range<usize>>, serde_json::Error> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let mut keys = Vec::new();
    let type_name = reader.deserialize_map(Checker { keys: &mut keys })?;
    reader.end()?;
    Ok(type_name.map(|name| {
        let start = name.as_ptr() as usize - text.as_ptr() as usize;
        start..start + name.len()
    }))
}

/// serde_json's message without its position: the position is within the value's own text,
/// and the reader of the whole document adds its own.
fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&position) {
        Some(message) => message.to_owned(),
        None => message,
    }
}

/// Checks one value. Its answer is the value when it is a string borrowed from the text (the
/// top level's `$type`). The keys of the objects being read are kept on one stack for the whole
/// text, each object's above those of the objects around it, so checking allocates once.
struct Checker<'k, 'de> {
    keys: &'k mut Vec<Key<'de>>,
}

impl<'de> de::DeserializeSeed<'de> for Checker<'_, 'de> {
    type Value = Option<&'de str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checker<'_, 'de> {
    type Value = Option<&'de str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq
            .next_element_seed(Checker { keys: &mut *self.keys })?
            .is_some()
        {}
        Ok(None)
    }
    /// An object: no key twice. Answers its `$type`, when that is a borrowed string.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let start = self.keys.len();
        let mut type_name = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let value = map.next_value_seed(Checker { keys: &mut *self.keys })?;
            if key.as_str() == "$type" {
                type_name = value;
            }
            self.keys.push(key);
        }
        if let Some(key) = first_duplicate(&mut self.keys[start..]) {
            return Err(de::Error::custom(format_args!(
                "duplicate key `{key}`: a key may appear once in an object"
            )));
        }
        self.keys.truncate(start);
        Ok(type_name)
    }
}

/// A key that appears twice, if any. Objects are mostly small, so those are compared pairwise.
fn first_duplicate<'k>(keys: &'k mut [Key<'_>]) -> Option<&'k str> {
    if keys.len() <= 16 {
        for (index, key) in keys.iter().enumerate() {
            if keys[..index].iter().any(|seen| seen.as_str() == key.as_str()) {
                return Some(key.as_str());
            }
        }
        return None;
    }
    keys.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
    keys.windows(2)
        .find(|pair| pair[0].as_str() == pair[1].as_str())
        .map(|pair| pair[0].as_str())
}
