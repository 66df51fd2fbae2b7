//! Query parameters read by a server: the query string of an XRPC request into a generated
//! `Params` type, by the same reader as JSON. Each parameter's text is parsed as the type
//! its field asks for (an integer, a boolean, a string format); a key given several times is
//! an array; a parameter the lexicon does not define is kept as text in `extra`.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
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

    /// Reads the parameters as `T` (a generated `Params`). Keys and values that needed no
    /// decoding are lent to `T` from the query (a field name is matched without a copy).
    pub fn read<T: de::Deserialize<'q>>(&self) -> Result<T, ParamError> {
        T::deserialize(Params(&self.0))
    }
}

/// Percent-decodes one key or value (`+` is a space), borrowing it when nothing changes.
fn decode(text: &str) -> Result<Cow<'_, str>, ParamError> {
    let not_utf8 = || ParamError(format!("`{text}` is not UTF-8 once percent-decoded"));
    if text.contains('+') {
        let spaced = text.replace('+', " ");
        let decoded = percent_encoding::percent_decode_str(&spaced).decode_utf8();
        return Ok(Cow::Owned(decoded.map_err(|_| not_utf8())?.into_owned()));
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map_err(|_| not_utf8())
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

impl<'q> Deserializer<'q> for Params<'_, 'q> {
    type Error = ParamError;

    fn deserialize_any<V: Visitor<'q>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_map(Entries {
            pairs: self.0,
            next: 0,
            current: None,
        })
    }

    serde::forward_to_deserialize_any! {
        <W: Visitor<'q>>
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct Entries<'p, 'q> {
    pairs: &'p [Pair<'q>],
    /// The index of the next pair to look at for a key not seen before.
    next: usize,
    /// The index of the first pair of the key just read.
    current: Option<usize>,
}

impl<'q> MapAccess<'q> for Entries<'_, 'q> {
    type Error = ParamError;

    fn next_key_seed<K: DeserializeSeed<'q>>(&mut self, seed: K) -> Result<Option<K::Value>, ParamError> {
        while let Some((key, _)) = self.pairs.get(self.next) {
            let index = self.next;
            self.next += 1;
            if self.pairs[..index].iter().all(|(k, _)| k != key) {
                self.current = Some(index);
                return seed.deserialize(Text(key)).map(Some);
            }
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'q>>(&mut self, seed: V) -> Result<V::Value, ParamError> {
        let index = self
            .current
            .take()
            .ok_or_else(|| ParamError("a value without its key".into()))?;
        let key = &self.pairs[index].0;
        seed.deserialize(Values {
            key,
            pairs: &self.pairs[index..],
        })
        .map_err(|e| ParamError(format!("parameter `{key}`: {e}")))
    }
}

/// The values of one key: one text for a scalar, all of them for an array.
#[derive(Clone, Copy)]
struct Values<'p, 'q> {
    key: &'p str,
    /// The pairs from the key's first one on; those of other keys are skipped.
    pairs: &'p [Pair<'q>],
}

impl<'p, 'q> Values<'p, 'q> {
    fn iter(self) -> impl Iterator<Item = Text<'p, 'q>> {
        let key = self.key;
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, value)| Text(value))
    }

    /// The one text of a scalar parameter.
    fn single(self) -> Result<Text<'p, 'q>, ParamError> {
        let mut values = self.iter();
        match (values.next(), values.next()) {
            (Some(one), None) => Ok(one),
            _ => Err(ParamError(format!(
                "given {} times, but it is not an array",
                self.iter().count()
            ))),
        }
    }
}

/// A scalar parameter is read from the key's one text.
macro_rules! from_single {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'q>>(self, visitor: V) -> Result<V::Value, ParamError> {
            self.single()?.$method(visitor)
        }
    )*};
}

impl<'q> Deserializer<'q> for Values<'_, 'q> {
    type Error = ParamError;

    /// A type that takes anything (a parameter the lexicon does not define) gets the text, or
    /// the texts when the key was given more than once.
    fn deserialize_any<V: Visitor<'q>>(self, visitor: V) -> Result<V::Value, ParamError> {
        match self.single() {
            Ok(one) => one.deserialize_any(visitor),
            Err(_) => self.deserialize_seq(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'q>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'q>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_seq(Items(self.iter()))
    }

    fn deserialize_newtype_struct<V: Visitor<'q>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        visitor.visit_newtype_struct(self)
    }

    from_single! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f64
        deserialize_str deserialize_string
    }

    serde::forward_to_deserialize_any! {
        <W: Visitor<'q>>
        i128 u128 f32 char bytes byte_buf unit unit_struct tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// The values of an array parameter, one element each.
struct Items<I>(I);

impl<'p, 'q: 'p, I: Iterator<Item = Text<'p, 'q>>> SeqAccess<'q> for Items<I> {
    type Error = ParamError;

    fn next_element_seed<T: DeserializeSeed<'q>>(&mut self, seed: T) -> Result<Option<T::Value>, ParamError> {
        self.0.next().map(|text| seed.deserialize(text)).transpose()
    }
}

/// One key or value: parsed as the type asked for (an integer, a boolean), or given as text,
/// lent from the query when it needed no decoding.
#[derive(Clone, Copy)]
struct Text<'p, 'q>(&'p Cow<'q, str>);

impl Text<'_, '_> {
    fn parse<T: std::str::FromStr>(self, what: &str) -> Result<T, ParamError> {
        self.0
            .parse()
            .map_err(|_| ParamError(format!("`{}` is not {what}", self.0)))
    }
}

macro_rules! parsed {
    ($($method:ident $visit:ident $ty:ty, $what:literal;)*) => {$(
        fn $method<V: Visitor<'q>>(self, visitor: V) -> Result<V::Value, ParamError> {
            visitor.$visit(self.parse::<$ty>($what)?)
        }
    )*};
}

impl<'q> Deserializer<'q> for Text<'_, 'q> {
    type Error = ParamError;

    fn deserialize_any<V: Visitor<'q>>(self, visitor: V) -> Result<V::Value, ParamError> {
        match self.0 {
            Cow::Borrowed(text) => visitor.visit_borrowed_str(text),
            Cow::Owned(text) => visitor.visit_str(text),
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

    fn deserialize_bool<V: Visitor<'q>>(self, visitor: V) -> Result<V::Value, ParamError> {
        match self.0.as_ref() {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            other => Err(ParamError(format!("`{other}` is not `true` or `false`"))),
        }
    }

    fn deserialize_option<V: Visitor<'q>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'q>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        <W: Visitor<'q>>
        i128 u128 f32 char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map
        struct enum identifier ignored_any
    }
}
