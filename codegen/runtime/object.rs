//! Serde support shared by generated objects, unions and string enums.

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::fmt;

/// The fields of an object that its lexicon does not define, kept in JSON form so that
/// reading a value and writing it back loses nothing. A `$type` read on a plain object is kept
/// here too and written back first; records and union members write their own `$type`.
///
/// A lexicon field that was read as `null` where its lexicon does not allow `null` (real
/// servers send `"blobs": null` for an empty list) is recorded here as `null` under the field's
/// name: the typed field reads as absent (or empty, for a required list), `validate()` reports
/// it, and writing the value back writes the `null` again as long as the field stays absent.
/// A key that names a lexicon field is never written from here otherwise, so inserting one
/// cannot put a key twice into the output.
#[derive(Clone, Default, PartialEq)]
pub struct Extra(pub Map<String, Value>);

impl Extra {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the lexicon field `name` was read as a `null` its lexicon does not allow.
    pub fn read_null(&self, name: &str) -> bool {
        !self.0.is_empty() && matches!(self.0.get(name), Some(Value::Null))
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
            fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Extra, A::Error> {
                de::strict_map(access, Map::new()).map(Extra)
            }
        }
        deserializer.deserialize_map(ExtraVisitor)
    }
}

/// A record type: the collection it is stored in and the type of its record keys.
pub trait Collection {
    /// The collection NSID, also the record's `$type`.
    const NSID: &'static str;
    /// `Tid` (key `tid`), `Nsid` (key `nsid`) or `RecordKey` (key `any` or a literal).
    type Key;
    /// The only allowed key, for a `literal:<value>` collection (`Some("self")`).
    const LITERAL_KEY: Option<&'static str>;
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

/// `?` without the conversion: the error types already match, and in generic code the
/// `Try`/`From` machinery of `?` is a real share of the crate's compile time. Exported (as
/// `runtime::tri`) for crates generated on top of this one.
#[doc(hidden)]
#[macro_export]
macro_rules! tri {
    ($result:expr) => {
        match $result {
            ::std::result::Result::Ok(value) => value,
            ::std::result::Result::Err(error) => return ::std::result::Result::Err(error),
        }
    };
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
        /// The fields the lexicon does not define (`$type` of a plain object among them).
        fn extra_fields(&self) -> &Extra;
    }

    /// Writes an object with `$type` first: the given one (a record's NSID, a union member's
    /// tag), or else the one the object was read with, so plain objects that carried a
    /// `$type` (as facets often do) are written back unchanged.
    pub fn object<S: Serializer, T: Fields + ?Sized>(
        serializer: S,
        type_tag: Option<&str>,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let read_tag = || {
            value
                .extra_fields()
                .get("$type")
                .and_then(serde_json::Value::as_str)
        };
        if let Some(tag) = type_tag.or_else(read_tag) {
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

    /// Writes of generated fields, as methods so that generated code reads (and formats) as
    /// plain method calls; generated bodies import it `as _`.
    pub trait SerializeMapExt: SerializeMap {
        /// Writes an optional field: its value, or the `null` it was read as (see [`Extra`]).
        fn optional_entry<T: serde::Serialize>(
            &mut self,
            name: &'static str,
            value: &Option<T>,
            extra: &Extra,
        ) -> Result<(), Self::Error> {
            match value {
                Some(value) => self.serialize_entry(name, value),
                None if extra.read_null(name) => self.serialize_entry(name, &()),
                None => Ok(()),
            }
        }

        /// Writes a required list: its items, or the `null` it was read as while it stays
        /// empty.
        fn list_entry<T: serde::Serialize>(
            &mut self,
            name: &'static str,
            items: &[T],
            extra: &Extra,
        ) -> Result<(), Self::Error> {
            if items.is_empty() && extra.read_null(name) {
                self.serialize_entry(name, &())
            } else {
                self.serialize_entry(name, items)
            }
        }
    }

    impl<M: SerializeMap> SerializeMapExt for M {}

    /// Writes the unknown fields. `$type` was already written first by [`object`], and keys
    /// that name one of the object's `fields` were written (or left out) by their field.
    pub fn extra<M: SerializeMap>(
        map: &mut M,
        extra: &Extra,
        fields: &[&str],
    ) -> Result<(), M::Error> {
        for (key, value) in extra.iter() {
            if key != "$type" && !fields.contains(&key.as_str()) {
                map.serialize_entry(key, &super::super::data::DataModel(value))?;
            }
        }
        Ok(())
    }
}

/// Deserialization helpers called by generated `Deserialize` impls.
///
/// Objects are read in one pass over the map, without serde's derive (whose `flatten`
/// buffers every object). A union reads `$type` and hands the rest of the same map to the
/// member's reader; only when `$type` is not the first key is the object buffered.
#[doc(hidden)]
pub mod de {
    use serde::de::value::MapDeserializer;
    use serde::de::{Error, MapAccess, Visitor};
    use serde::{Deserialize, Deserializer};
    use serde_json::{Map, Value};
    use std::borrow::Cow;
    use std::fmt;
    use std::marker::PhantomData;

    /// A map key or short string, borrowed from the input when the input allows it.
    pub struct Key<'de>(Cow<'de, str>);

    impl Key<'_> {
        pub fn as_str(&self) -> &str {
            &self.0
        }

        pub fn into_string(self) -> String {
            self.0.into_owned()
        }
    }

    impl<'de> Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct KeyVisitor;
            impl<'de> Visitor<'de> for KeyVisitor {
                type Value = Key<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Borrowed(v)))
                }
                fn visit_str<E: Error>(self, v: &str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(v.to_owned())))
                }
                fn visit_string<E: Error>(self, v: String) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(v)))
                }
            }
            deserializer.deserialize_str(KeyVisitor)
        }
    }

    /// A JSON value read with the data model's rules: a key twice in one object is an error
    /// (serde_json's own `Value` silently keeps the last one).
    pub struct StrictValue(pub Value);

    impl<'de> Deserialize<'de> for StrictValue {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(StrictVisitor).map(StrictValue)
        }
    }

    struct StrictVisitor;

    impl<'de> Visitor<'de> for StrictVisitor {
        type Value = Value;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E: Error>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_f64<E: Error>(self, v: f64) -> Result<Value, E> {
            serde_json::Number::from_f64(v)
                .map(Value::Number)
                .ok_or_else(|| E::custom("a number that is not finite"))
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_owned()))
        }
        fn visit_string<E: Error>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }
        fn visit_unit<E: Error>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_none<E: Error>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
            deserializer.deserialize_any(StrictVisitor)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
            while let Some(StrictValue(item)) = seq.next_element()? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
            strict_map(map, Map::new()).map(Value::Object)
        }
        // Binary formats (DAG-CBOR): byte strings and links take their JSON data-model form.
        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Value, E> {
            Ok(super::super::data::bytes_value(v))
        }
        fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            super::super::data::link_value(d)
        }
    }

    /// Reads the remaining entries of `map` into `object`; a key seen twice is an error.
    pub fn strict_map<'de, A: MapAccess<'de>>(
        mut map: A,
        mut object: Map<String, Value>,
    ) -> Result<Map<String, Value>, A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let StrictValue(value) = map.next_value()?;
            insert_new(&mut object, key.into_string(), value)?;
        }
        Ok(object)
    }

    /// Reads a map whose first key the caller has read already; a key seen twice is an error.
    pub fn strict_map_after<'de, A: MapAccess<'de>>(
        first: Key<'de>,
        mut map: A,
    ) -> Result<Map<String, Value>, A::Error> {
        let StrictValue(value) = map.next_value()?;
        let mut object = Map::new();
        object.insert(first.into_string(), value);
        strict_map(map, object)
    }

    fn insert_new<E: Error>(object: &mut Map<String, Value>, key: String, value: Value) -> Result<(), E> {
        match object.entry(key) {
            serde_json::map::Entry::Vacant(entry) => {
                entry.insert(value);
                Ok(())
            }
            serde_json::map::Entry::Occupied(entry) => Err(duplicate(entry.key())),
        }
    }

    fn duplicate<E: Error>(key: &str) -> E {
        E::custom(format_args!("duplicate key `{key}`: a key may appear once in an object"))
    }

    /// A key that is not a field: kept in `extra` with its value. A record's `$type` is its
    /// collection, implied by its type, so records pass `keep_type: false`; a plain object
    /// keeps its `$type` to write it back.
    pub fn other_field<'de, A: MapAccess<'de>>(
        map: &mut A,
        key: Key<'de>,
        extra: &mut super::Extra,
        keep_type: bool,
    ) -> Result<(), A::Error> {
        let StrictValue(value) = map.next_value()?;
        if keep_type || key.as_str() != "$type" {
            insert_new(extra, key.into_string(), value)?;
        } else if !matches!(value, Value::String(_)) {
            return Err(A::Error::custom("`$type` must be a string"));
        }
        Ok(())
    }

    /// Reads of generated fields, as methods so that generated code reads (and formats) as
    /// plain method calls; generated bodies import it `as _`.
    pub trait MapAccessExt<'de>: MapAccess<'de> {
        /// Reads the value of the field `name` into `slot`. A `null`, which the field's
        /// lexicon does not allow, leaves the slot empty and is recorded in `extra` (see
        /// [`super::Extra`]): it is written back as read, and `validate()` reports it.
        fn read_field<T: Deserialize<'de>>(
            &mut self,
            slot: &mut Option<T>,
            name: &'static str,
            extra: &mut super::Extra,
        ) -> Result<(), Self::Error> {
            if slot.is_some() || extra.read_null(name) {
                return Err(duplicate(name));
            }
            match self.next_value::<Option<T>>()? {
                Some(value) => *slot = Some(value),
                None => {
                    extra.insert(name.to_owned(), Value::Null);
                }
            }
            Ok(())
        }

        /// Reads the value of the nullable field `name` into `slot` (`null` is a value).
        fn read_nullable<T: Deserialize<'de>>(
            &mut self,
            slot: &mut Option<Option<T>>,
            name: &'static str,
        ) -> Result<(), Self::Error> {
            if slot.is_some() {
                return Err(duplicate(name));
            }
            *slot = Some(self.next_value()?);
            Ok(())
        }
    }

    impl<'de, A: MapAccess<'de>> MapAccessExt<'de> for A {}

    /// A required field's value, or an error that says it is missing (or `null`).
    pub fn required<T, E: Error>(
        value: Option<T>,
        name: &'static str,
        extra: &super::Extra,
    ) -> Result<T, E> {
        match value {
            Some(value) => Ok(value),
            None if extra.read_null(name) => Err(E::custom(format_args!(
                "`{name}` is null, and its lexicon requires a value"
            ))),
            None => Err(E::missing_field(name)),
        }
    }

    /// A required list's value; a `null` reads as an empty list (and is written back).
    pub fn required_list<T, E: Error>(
        value: Option<Vec<T>>,
        name: &'static str,
        extra: &super::Extra,
    ) -> Result<Vec<T>, E> {
        match value {
            None if extra.read_null(name) => Ok(Vec::new()),
            value => required(value, name, extra),
        }
    }

    /// A generated object, read from the entries of a map.
    pub trait Object<'de>: Sized {
        /// What the reader expects, for error messages (`a com.example.post object`).
        const EXPECTING: &'static str;
        fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
    }

    struct ObjectVisitor<T>(PhantomData<T>);

    impl<'de, T: Object<'de>> Visitor<'de> for ObjectVisitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(T::EXPECTING)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::from_map(map)
        }
    }

    /// `Deserialize` of a generated object.
    pub fn object<'de, D: Deserializer<'de>, T: Object<'de>>(
        deserializer: D,
    ) -> Result<T, D::Error> {
        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }

    /// A generated union: picks its member by `$type` and reads the rest of the map as it.
    pub trait Union<'de>: Sized {
        fn from_tagged<A: MapAccess<'de>>(tag: &str, map: A) -> Result<Self, A::Error>;
    }

    struct UnionVisitor<T>(PhantomData<T>);

    impl<'de, T: Union<'de>> Visitor<'de> for UnionVisitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object with a `$type`")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
            let Some(first) = map.next_key::<Key<'de>>()? else {
                return Err(missing_type());
            };
            if first.as_str() == "$type" {
                // The fast path: writers put `$type` first.
                let tag = map.next_value::<Key<'de>>()?;
                return T::from_tagged(tag.as_str(), map);
            }
            let mut object = strict_map_after(first, map)?;
            let tag = match object.remove("$type") {
                Some(Value::String(tag)) => tag,
                Some(other) => {
                    return Err(A::Error::custom(format!(
                        "`$type` must be a string, found {other}"
                    )));
                }
                None => return Err(missing_type()),
            };
            T::from_tagged(&tag, MapDeserializer::new(object.into_iter())).map_err(A::Error::custom)
        }
    }

    fn missing_type<E: Error>() -> E {
        E::custom("missing `$type`: a union member must name its type")
    }

    /// `Deserialize` of a generated union.
    pub fn union<'de, D: Deserializer<'de>, T: Union<'de>>(deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_map(UnionVisitor(PhantomData))
    }

    /// Reads a known union member from the rest of the map. A malformed body is an error
    /// naming the `$type`, never the unknown variant.
    pub fn variant<'de, T: Object<'de>, A: MapAccess<'de>>(
        tag: &str,
        map: A,
    ) -> Result<T, A::Error> {
        T::from_map(map).map_err(|e| A::Error::custom(format!("{tag}: {e}")))
    }

    /// Keeps a union member of a `$type` the lexicons do not list, whole (`$type` included).
    pub fn unknown<'de, A: MapAccess<'de>>(
        tag: &str,
        map: A,
    ) -> Result<super::super::Unknown, A::Error> {
        let mut object = Map::new();
        object.insert("$type".to_owned(), Value::String(tag.to_owned()));
        strict_map(map, object).map(Into::into)
    }

    /// The error for a `$type` a closed union does not list.
    pub fn closed<T, E: Error>(tag: &str, expected: &str) -> Result<T, E> {
        Err(E::custom(format!(
            "`$type` {tag:?} is not one of this closed union's: {expected}"
        )))
    }
}
