//! Serde support shared by generated objects, unions and string enums.

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::fmt;

/// The fields of an object that its lexicon does not define, kept in JSON form so that
/// reading a value and writing it back loses nothing.
///
/// `$type` is never kept here: a record writes its own, a union member gets its union's,
/// and a plain object has none.
#[derive(Clone, Default, PartialEq)]
pub struct Extra(pub Map<String, Value>);

impl Extra {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Deref for Extra {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Extra {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl fmt::Debug for Extra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

impl<'de> Deserialize<'de> for Extra {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ExtraVisitor;
        impl<'de> Visitor<'de> for ExtraVisitor {
            type Value = Extra;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Extra, A::Error> {
                let mut map = Map::new();
                while let Some(key) = access.next_key::<String>()? {
                    let value: Value = access.next_value()?;
                    if key != "$type" {
                        map.insert(key, value);
                    }
                }
                Ok(Extra(map))
            }
        }
        deserializer.deserialize_map(ExtraVisitor)
    }
}

/// Stands in for a credential in `Debug` output.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A string that is not one of a closed set of values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    pub value: String,
    pub expected: &'static str,
}

impl UnknownValue {
    pub fn new(value: &str, expected: &'static str) -> Self {
        UnknownValue {
            value: value.to_owned(),
            expected,
        }
    }
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not one of: {}", self.value, self.expected)
    }
}

impl std::error::Error for UnknownValue {}

/// A permission set, as data (`permission-set` lexicons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PermissionSet {
    pub title: Option<&'static str>,
    /// `(language, title)` pairs.
    pub title_lang: &'static [(&'static str, &'static str)],
    pub detail: Option<&'static str>,
    pub detail_lang: &'static [(&'static str, &'static str)],
    pub permissions: &'static [Permission],
}

/// One permission of a set: a `repo` resource (collections and actions) or an `rpc` resource
/// (methods and audience). Other resources are listed as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub resource: &'static str,
    pub collection: &'static [&'static str],
    pub action: &'static [&'static str],
    pub lxm: &'static [&'static str],
    pub aud: Option<&'static str>,
    pub inherit_aud: Option<bool>,
}

/// Serialization helpers called by generated `Serialize` impls.
#[doc(hidden)]
pub mod ser {
    use super::Extra;
    use serde::ser::{SerializeMap, Serializer};

    /// A generated object's fields, written into a map that someone else opened: the
    /// object itself, or a union that writes `$type` first.
    pub trait Fields {
        fn serialize_fields<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error>;
    }

    /// Writes an object, with `$type` first when it has one (records).
    pub fn object<S: Serializer, T: Fields + ?Sized>(
        serializer: S,
        type_tag: Option<&str>,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(tag) = type_tag {
            map.serialize_entry("$type", tag)?;
        }
        value.serialize_fields(&mut map)?;
        map.end()
    }

    /// Writes a union member: its `$type`, then its fields.
    pub fn tagged<S: Serializer, T: Fields + ?Sized>(
        serializer: S,
        type_tag: &str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        object(serializer, Some(type_tag), value)
    }

    pub fn extra<M: SerializeMap>(map: &mut M, extra: &Extra) -> Result<(), M::Error> {
        for (key, value) in extra.iter() {
            map.serialize_entry(key, value)?;
        }
        Ok(())
    }
}

/// Deserialization helpers called by generated `Deserialize` impls.
#[doc(hidden)]
pub mod de {
    use serde::de::{DeserializeOwned, Error};
    use serde::{Deserialize, Deserializer};
    use serde_json::{Map, Value};

    /// For an optional nullable field: a present field is `Some`, even when it is `null`.
    pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }

    /// For an optional field that is not nullable: present means a value; `null` is an error
    /// (absent fields never reach this: `#[serde(default)]` leaves them `None`).
    pub fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        T::deserialize(deserializer).map(Some)
    }

    /// Reads a union member: an object and its `$type`.
    pub fn tagged<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<(String, Map<String, Value>), D::Error> {
        let object = Map::<String, Value>::deserialize(deserializer)?;
        let tag = match object.get("$type") {
            Some(Value::String(tag)) => tag.clone(),
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "`$type` must be a string, found {other}"
                )));
            }
            None => {
                return Err(D::Error::custom(
                    "missing `$type`: a union member must name its type",
                ));
            }
        };
        Ok((tag, object))
    }

    /// Reads a known union member. A malformed body is an error, never the unknown variant.
    pub fn variant<T: DeserializeOwned, E: Error>(object: Map<String, Value>) -> Result<Box<T>, E> {
        let tag = object
            .get("$type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        serde_json::from_value(Value::Object(object))
            .map(Box::new)
            .map_err(|e| E::custom(format!("{tag}: {e}")))
    }

    /// Keeps a union member of a `$type` the lexicons do not list, whole.
    pub fn unknown<E: Error>(object: Map<String, Value>) -> Result<super::super::Unknown, E> {
        serde_json::from_value(Value::Object(object)).map_err(E::custom)
    }
}
