//! Query parameters read by a server: the query string of an XRPC request into a generated
//! `Params` type, by the same reader as JSON. Each parameter's text is parsed as the type
//! its field asks for (an integer, a boolean, a string format); a key given several times is
//! an array; a parameter the lexicon does not define is kept as text in `extra`.

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The parameters of a query string, as `(key, value)` pairs in their order. Texts that need
/// no decoding are borrowed from the query, so a plain query string allocates one vector.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct QueryPairs<'q>(Vec<(Cow<'q, str>, Cow<'q, str>)>);

impl<'q> QueryPairs<'q> {
    /// Reads `a=1&b=x&a=2` (percent-decoded, `+` as a space, as HTML forms and
    /// `URLSearchParams` write it).
    pub fn parse(query: &'q str) -> Result<QueryPairs<'q>, ParamError> {
        let parts = query.split('&').filter(|p| !p.is_empty());
        let mut pairs = Vec::with_capacity(query.bytes().filter(|&b| b == b'&').count() + 1);
        for part in parts {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((decode(key)?, decode(value)?));
        }
        Ok(QueryPairs(pairs))
    }

    /// Adds `key=value` unless the query has `key`: a lexicon default for an absent parameter.
    pub fn or_default(&mut self, key: &'q str, value: &'q str) {
        if !self.0.iter().any(|(k, _)| k == key) {
            self.0.push((key.into(), value.into()));
        }
    }

    /// Reads the parameters as `T` (a generated `Params`).
    pub fn read<T: de::DeserializeOwned>(&self) -> Result<T, ParamError> {
        T::deserialize(Params(&self.0))
    }
}

fn decode(text: &str) -> Result<Cow<'_, str>, ParamError> {
    if !text.contains(['+', '%']) {
        return Ok(text.into());
    }
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|decoded| Cow::Owned(decoded.into_owned()))
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

type Pair<'q> = (Cow<'q, str>, Cow<'q, str>);

/// The whole query string, as a map: each key once, where it first appears, with all its
/// values.
struct Params<'p, 'q>(&'p [Pair<'q>]);

impl<'de> Deserializer<'de> for Params<'_, '_> {
    type Error = ParamError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_map(Entries {
            pairs: self.0,
            next: 0,
            current: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct Entries<'p, 'q> {
    pairs: &'p [Pair<'q>],
    /// The index of the next pair to look at for a key not seen before.
    next: usize,
    /// The key just read, and the index of its first pair.
    current: Option<usize>,
}

impl<'de> MapAccess<'de> for Entries<'_, '_> {
    type Error = ParamError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ParamError> {
        while let Some((key, _)) = self.pairs.get(self.next) {
            let index = self.next;
            self.next += 1;
            if self.pairs[..index].iter().all(|(k, _)| k != key) {
                self.current = Some(index);
                return seed.deserialize(key.as_ref().into_deserializer()).map(Some);
            }
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, ParamError> {
        let index = self
            .current
            .take()
            .ok_or_else(|| ParamError("a value without its key".into()))?;
        let key = &self.pairs[index].0;
        seed.deserialize(Value {
            key,
            pairs: &self.pairs[index..],
        })
        .map_err(|e| ParamError(format!("parameter `{key}`: {e}")))
    }
}

/// The values of one key: one text for a scalar, all of them for an array.
#[derive(Clone, Copy)]
struct Value<'p, 'q> {
    key: &'p str,
    /// The pairs from the key's first one on; those of other keys are skipped.
    pairs: &'p [Pair<'q>],
}

impl<'p> Value<'p, '_> {
    fn values(self) -> impl Iterator<Item = &'p str> {
        let key = self.key;
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// The one text of a scalar parameter.
    fn single(self) -> Result<&'p str, ParamError> {
        let mut values = self.values();
        match (values.next(), values.next()) {
            (Some(one), None) => Ok(one),
            _ => Err(ParamError(format!(
                "given {} times, but it is not an array",
                self.values().count()
            ))),
        }
    }

    fn parse<T: std::str::FromStr>(self, what: &str) -> Result<T, ParamError> {
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

impl<'de> Deserializer<'de> for Value<'_, '_> {
    type Error = ParamError;

    /// A type that takes anything (a parameter the lexicon does not define) gets the text, or
    /// the texts when the key was given more than once.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        match self.single() {
            Ok(one) => visitor.visit_str(one),
            Err(_) => self.deserialize_seq(visitor),
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
            items: self.values(),
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
struct Items<'p, I> {
    key: &'p str,
    items: I,
}

impl<'de, 'p, I: Iterator<Item = &'p str>> SeqAccess<'de> for Items<'p, I> {
    type Error = ParamError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ParamError> {
        self.items
            .next()
            .map(|item| {
                let pair = (Cow::Borrowed(self.key), Cow::Borrowed(item));
                seed.deserialize(Value {
                    key: self.key,
                    pairs: std::slice::from_ref(&pair),
                })
            })
            .transpose()
    }
}
