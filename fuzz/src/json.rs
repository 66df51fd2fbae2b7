//! A JSON tree that keeps member order and duplicate keys, so a mutated document prints back
//! with its members where they were (def order decides Rust names) and may even repeat a key.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn parse(bytes: &[u8]) -> Option<Json> {
        serde_json::from_slice(bytes).ok()
    }

    pub fn str(s: &str) -> Json {
        Json::String(s.to_owned())
    }

    pub fn object(members: Vec<(&str, Json)>) -> Json {
        Json::Object(
            members
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    /// The value of the first member named `key`.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        match self {
            Json::Object(members) => members.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets the first member named `key`, appending it when absent.
    pub fn set(&mut self, key: &str, value: Json) {
        if let Json::Object(members) = self {
            match members.iter_mut().find(|(k, _)| k == key) {
                Some((_, v)) => *v = value,
                None => members.push((key.to_owned(), value)),
            }
        }
    }

    /// How many nodes the tree has (this one included).
    pub fn count(&self) -> usize {
        1 + match self {
            Json::Array(items) => items.iter().map(Json::count).sum(),
            Json::Object(members) => members.iter().map(|(_, v)| v.count()).sum(),
            _ => 0,
        }
    }

    /// The `n`th node in pre-order (0 is this one); `None` past the end.
    pub fn nth_mut(&mut self, n: usize) -> Option<&mut Json> {
        let mut n = n;
        self.nth_inner(&mut n)
    }

    fn nth_inner(&mut self, n: &mut usize) -> Option<&mut Json> {
        if *n == 0 {
            return Some(self);
        }
        *n -= 1;
        match self {
            Json::Array(items) => {
                for item in items {
                    let size = item.count();
                    if *n < size {
                        return item.nth_inner(n);
                    }
                    *n -= size;
                }
                None
            }
            Json::Object(members) => {
                for (_, value) in members {
                    let size = value.count();
                    if *n < size {
                        return value.nth_inner(n);
                    }
                    *n -= size;
                }
                None
            }
            _ => None,
        }
    }

    pub fn nth(&self, n: usize) -> Option<&Json> {
        let mut n = n;
        self.nth_ref(&mut n)
    }

    fn nth_ref(&self, n: &mut usize) -> Option<&Json> {
        if *n == 0 {
            return Some(self);
        }
        *n -= 1;
        let children: Box<dyn Iterator<Item = &Json>> = match self {
            Json::Array(items) => Box::new(items.iter()),
            Json::Object(members) => Box::new(members.iter().map(|(_, v)| v)),
            _ => return None,
        };
        for child in children {
            let size = child.count();
            if *n < size {
                return child.nth_ref(n);
            }
            *n -= size;
        }
        None
    }

    /// Calls `f` on every node, parents before children.
    pub fn walk(&self, f: &mut impl FnMut(&Json)) {
        f(self);
        match self {
            Json::Array(items) => items.iter().for_each(|item| item.walk(f)),
            Json::Object(members) => members.iter().for_each(|(_, v)| v.walk(f)),
            _ => {}
        }
    }

    pub fn to_text(&self, pretty: bool) -> String {
        let mut out = String::new();
        self.write(&mut out, pretty, 0);
        out
    }

    fn write(&self, out: &mut String, pretty: bool, depth: usize) {
        let newline = |out: &mut String, depth: usize| {
            if pretty {
                out.push('\n');
                out.extend(std::iter::repeat_n("  ", depth));
            }
        };
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(&n.to_string()),
            Json::String(s) => write_string(out, s),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    item.write(out, pretty, depth + 1);
                }
                if !items.is_empty() {
                    newline(out, depth);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    write_string(out, key);
                    out.push_str(if pretty { ": " } else { ":" });
                    value.write(out, pretty, depth + 1);
                }
                if !members.is_empty() {
                    newline(out, depth);
                }
                out.push('}');
            }
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("a string always serializes"));
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::str(v))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::Json;

    #[test]
    fn prints_back_in_order_with_duplicates() {
        let text = r#"{"z":1,"a":[true,null,"x"],"z":{"k":-2.5}}"#;
        let json = Json::parse(text.as_bytes()).unwrap();
        assert_eq!(json.to_text(false), text);
        assert_eq!(
            Json::parse(json.to_text(true).as_bytes()),
            Some(json.clone())
        );
        assert_eq!(json.count(), 8);
        assert_eq!(json.nth(5), Some(&Json::str("x")));
    }
}
