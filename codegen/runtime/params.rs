//! Query parameters read by a server: the query string of an XRPC request into a generated
//! `Params` type, by the same reader as JSON. Each parameter's text is parsed as the type
//! its field asks for (an integer, a boolean, a string format); a key given several times is
//! an array; a parameter the lexicon does not define is kept as text in `extra`.

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The parameters of a query string, grouped by key in the order each key first appears.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct QueryPairs(Vec<(String, Vec<String>)>);

impl QueryPairs {
    /// Reads `a=1&b=x&a=2` (percent-decoded, `+` as a space, as HTML forms and
    /// `URLSearchParams` write it).
    pub fn parse(query: &str) -> Result<QueryPairs, ParamError> {
        let mut pairs = QueryPairs(Vec::new());
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            pairs.push(decode(key)?, decode(value)?);
        }
        Ok(pairs)
    }

    fn push(&mut self, key: String, value: String) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value),
            None => self.0.push((key, vec![value])),
        }
    }

    /// Adds `key=value` unless the query has `key`: a lexicon default for an absent parameter.
    pub fn or_default(&mut self, key: &str, value: &str) {
        if !self.0.iter().any(|(k, _)| k == key) {
            self.0.push((key.to_owned(), vec![value.to_owned()]));
        }
    }

    /// Reads the parameters as `T` (a generated `Params`).
    pub fn read<T: de::DeserializeOwned>(&self) -> Result<T, ParamError> {
        T::deserialize(Params(&self.0))
    }
}

fn decode(text: &str) -> Result<String, ParamError> {
    let spaced: Cow<'_, str> = if text.contains('+') {
        text.replace('+', " ").into()
    } else {
        text.into()
    };
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| ParamError(format!("`{text}` is not UTF-8 once percent-decoded")))
}

/// A query string that does not read as the endpoint's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError(String);

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParamError {}

impl de::Error for ParamError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        ParamError(message.to_string())
    }
}

/// The whole query string, as a map.
struct Params<'q>(&'q [(String, Vec<String>)]);

impl<'de> Deserializer<'de> for Params<'_> {
    type Error = ParamError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_map(Entries {
            entries: self.0.iter(),
            values: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct Entries<'q, I> {
    entries: I,
    values: Option<(&'q str, &'q [String])>,
}

impl<'de, 'q, I: Iterator<Item = &'q (String, Vec<String>)>> MapAccess<'de> for Entries<'q, I> {
    type Error = ParamError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ParamError> {
        let Some((key, values)) = self.entries.next() else {
            return Ok(None);
        };
        self.values = Some((key, values));
        seed.deserialize(key.as_str().into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, ParamError> {
        let (key, values) = self
            .values
            .take()
            .ok_or_else(|| ParamError("a value without its key".into()))?;
        seed.deserialize(Value { key, values })
            .map_err(|e| ParamError(format!("parameter `{key}`: {e}")))
    }
}

/// The values of one key: one text for a scalar, all of them for an array.
struct Value<'q> {
    key: &'q str,
    values: &'q [String],
}

impl<'q> Value<'q> {
    /// The one text of a scalar parameter.
    fn single(&self) -> Result<&'q str, ParamError> {
        match self.values {
            [one] => Ok(one),
            _ => Err(ParamError(format!(
                "given {} times, but it is not an array",
                self.values.len()
            ))),
        }
    }

    fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<T, ParamError> {
        let text = self.single()?;
        text.parse()
            .map_err(|_| ParamError(format!("`{text}` is not {what}")))
    }
}

macro_rules! parsed {
    ($($method:ident $visit:ident $ty:ty, $what:literal;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
            visitor.$visit(self.parse::<$ty>($what)?)
        }
    )*};
}

impl<'de> Deserializer<'de> for Value<'_> {
    type Error = ParamError;

    /// A type that takes anything (a parameter the lexicon does not define) gets the text, or
    /// the texts when the key was given more than once.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        match self.values {
            [one] => visitor.visit_str(one),
            _ => self.deserialize_seq(visitor),
        }
    }

    parsed! {
        deserialize_i8 visit_i8 i8, "an integer";
        deserialize_i16 visit_i16 i16, "an integer";
        deserialize_i32 visit_i32 i32, "an integer";
        deserialize_i64 visit_i64 i64, "an integer";
        deserialize_u8 visit_u8 u8, "an integer";
        deserialize_u16 visit_u16 u16, "an integer";
        deserialize_u32 visit_u32 u32, "an integer";
        deserialize_u64 visit_u64 u64, "an integer";
        deserialize_f64 visit_f64 f64, "a number";
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        match self.single()? {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            other => Err(ParamError(format!("`{other}` is not `true` or `false`"))),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_seq(Items {
            key: self.key,
            items: self.values.iter(),
        })
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_str(self.single()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        self.deserialize_str(visitor)
    }

    serde::forward_to_deserialize_any! {
        i128 u128 f32 char bytes byte_buf unit unit_struct tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// The values of an array parameter, one element each.
struct Items<'q, I> {
    key: &'q str,
    items: I,
}

impl<'de, 'q, I: Iterator<Item = &'q String>> SeqAccess<'de> for Items<'q, I> {
    type Error = ParamError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ParamError> {
        self.items
            .next()
            .map(|item| {
                seed.deserialize(Value {
                    key: self.key,
                    values: std::slice::from_ref(item),
                })
            })
            .transpose()
    }
}
