//! Load: lexicon JSON text -> typed [`Document`], or diagnostics that locate every problem.

use super::model::*;
use super::raw::{RawBody, RawDocument, RawSchema};
use crate::diagnostics::{Diagnostic, Diagnostics, Severity, pointer};
use crate::locate::locate;
use indexmap::IndexMap;
use serde_json::Value;
use std::path::PathBuf;

/// One input document: its text and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The name diagnostics use for the file.
    pub file: PathBuf,
    /// The path below the lexicon root (`com/atproto/server/createSession.json`), when the
    /// document came from a lexicon folder. Informative only: the `id` names the document.
    pub relative_path: Option<PathBuf>,
    pub text: String,
}

/// How deeply objects and arrays may nest in a document (upstream documents reach 9). Every
/// pass recurses along the nesting, and so does syn on the generated types: the deepest
/// documents serde_json accepts (128 levels) overflow a 2 MiB thread stack in a debug build.
pub const MAX_DEPTH: usize = 40;

/// Parses one document. Problems go to `diagnostics`; `None` when the document is unusable.
pub fn load(source: &SourceFile, diagnostics: &mut Diagnostics) -> Option<Document> {
    if let Some(offset) = too_deep(&source.text) {
        diagnostics.push(Diagnostic {
            file: source.file.clone(),
            position: Some(crate::locate::line_column(&source.text, offset)),
            pointer: String::new(),
            def: crate::locate::top_level_string(&source.text, "id"),
            message: format!("nested more than {MAX_DEPTH} levels deep"),
            severity: Severity::Error,
            rule: "",
        });
        return None;
    }
    let mut deserializer = serde_json::Deserializer::from_str(&source.text);
    let parsed = serde_path_to_error::deserialize::<_, RawDocument>(&mut deserializer)
        .map_err(|e| (pointer_of(e.path()), e.into_inner()))
        .and_then(|raw| {
            deserializer
                .end()
                .map(|()| raw)
                .map_err(|e| (String::new(), e))
        });
    let raw = match parsed {
        Ok(raw) => raw,
        Err((at, error)) => {
            let id = crate::locate::top_level_string(&source.text, "id");
            // Syntax errors are best placed by serde; a wrong value is placed at its start.
            let serde_position = (error.line() > 0).then(|| (error.line(), error.column()));
            let position = if error.is_syntax() || error.is_eof() || at.is_empty() {
                serde_position.or_else(|| locate(&source.text, &at))
            } else {
                locate(&source.text, &at).or(serde_position)
            };
            let mut message = error.to_string();
            if let Some(cut) = message.rfind(" at line ") {
                message.truncate(cut);
            }
            diagnostics.push(Diagnostic {
                file: source.file.clone(),
                position,
                def: def_of(id.as_deref(), &at),
                pointer: at,
                message: if error.is_syntax() || error.is_eof() {
                    format!("malformed JSON: {message}")
                } else {
                    message
                },
                severity: Severity::Error,
                rule: "",
            });
            return None;
        }
    };

    if raw.defs.is_empty() {
        diagnostics.push(Diagnostic {
            file: source.file.clone(),
            position: locate(&source.text, "/defs"),
            pointer: "/defs".to_owned(),
            def: Some(raw.id.clone()),
            message: "a lexicon needs at least one def".to_owned(),
            severity: Severity::Error,
            rule: "",
        });
    }
    let mut converter = Converter {
        source,
        id: &raw.id,
        path: vec!["defs".to_owned()],
        diagnostics,
    };
    let mut defs = IndexMap::with_capacity(raw.defs.len());
    for (name, schema) in raw.defs {
        converter.path.push(name.clone());
        if let Some(schema) = converter.schema(schema) {
            defs.insert(name, schema);
        }
        converter.path.pop();
    }
    Some(Document {
        file: source.file.clone(),
        text: source.text.clone(),
        relative_path: source.relative_path.clone(),
        lexicon: raw.lexicon,
        id: raw.id,
        revision: raw.revision,
        description: raw.description,
        defs,
    })
}

/// The offset of the first bracket that opens a level past [`MAX_DEPTH`], if any.
fn too_deep(text: &str) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (offset, byte) in text.bytes().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(offset);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let segments: Vec<String> = path
        .iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect();
    pointer(segments.iter().map(String::as_str))
}

/// `nsid#def` for a pointer into a document: the def is the member of `/defs` it lies under.
pub(crate) fn def_of(id: Option<&str>, at: &str) -> Option<String> {
    let id = id?;
    let def = at
        .strip_prefix("/defs/")
        .map(|rest| rest.split('/').next().unwrap_or(rest));
    Some(match def {
        Some(def) => format!("{id}#{}", def.replace("~1", "/").replace("~0", "~")),
        None => id.to_owned(),
    })
}

/// Turns the flat serde shape into typed schemas, tracking the JSON path for diagnostics.
struct Converter<'a> {
    source: &'a SourceFile,
    id: &'a str,
    path: Vec<String>,
    diagnostics: &'a mut Diagnostics,
}

impl Converter<'_> {
    fn error(&mut self, field: Option<&str>, message: String) {
        self.report(Severity::Error, "", field, message);
    }

    /// A deviation from the spec whose meaning is clear: read as that meaning, and said.
    fn warn(&mut self, rule: &'static str, field: Option<&str>, message: String) {
        self.report(Severity::Warning, rule, field, message);
    }

    fn report(
        &mut self,
        severity: Severity,
        rule: &'static str,
        field: Option<&str>,
        message: String,
    ) {
        let mut at = pointer(self.path.iter().map(String::as_str));
        if let Some(field) = field {
            at.push_str(&pointer([field]));
        }
        self.diagnostics.push(Diagnostic {
            file: self.source.file.clone(),
            position: locate(&self.source.text, &at),
            def: def_of(Some(self.id), &at),
            pointer: at,
            message,
            severity,
            rule,
        });
    }

    fn nested(&mut self, segments: &[&str], raw: RawSchema) -> Option<Schema> {
        let depth = self.path.len();
        self.path.extend(segments.iter().map(|s| (*s).to_owned()));
        let schema = self.schema(raw);
        self.path.truncate(depth);
        schema
    }

    fn required<T>(&mut self, value: Option<T>, field: &str, kind: &str) -> Option<T> {
        if value.is_none() {
            self.error(None, format!("a `{kind}` needs the field `{field}`"));
        }
        value
    }

    fn schema(&mut self, raw: RawSchema) -> Option<Schema> {
        let description = raw.description.clone();
        let schema = match raw.kind.as_str() {
            "boolean" => Schema::Boolean(Boolean {
                description,
                default: self.typed(raw.default, "default", Value::as_bool, "a boolean"),
                r#const: self.typed(raw.const_value, "const", Value::as_bool, "a boolean"),
            }),
            "integer" => Schema::Integer(Integer {
                description,
                minimum: raw.minimum,
                maximum: raw.maximum,
                r#enum: self.typed_list(raw.enum_values, Value::as_i64, "integers"),
                default: self.typed(raw.default, "default", Value::as_i64, "an integer"),
                r#const: self.typed(raw.const_value, "const", Value::as_i64, "an integer"),
            }),
            "string" => {
                let format = match raw.format {
                    None => None,
                    Some(name) => match StringFormat::from_name(&name) {
                        Some(format) => Some(format),
                        None => {
                            self.error(Some("format"), format!("unknown string format `{name}`"));
                            None
                        }
                    },
                };
                let as_string = |v: &Value| v.as_str().map(str::to_owned);
                Schema::String(StringSchema {
                    description,
                    format,
                    min_length: raw.min_length,
                    max_length: raw.max_length,
                    min_graphemes: raw.min_graphemes,
                    max_graphemes: raw.max_graphemes,
                    known_values: raw.known_values.unwrap_or_default(),
                    r#enum: self.typed_list(raw.enum_values, as_string, "strings"),
                    default: self.typed(raw.default, "default", as_string, "a string"),
                    r#const: self.typed(raw.const_value, "const", as_string, "a string"),
                })
            }
            "bytes" => Schema::Bytes(Bytes {
                description,
                min_length: raw.min_length,
                max_length: raw.max_length,
            }),
            "cid-link" => Schema::CidLink(Meta { description }),
            "blob" => Schema::Blob(Blob {
                description,
                accept: raw.accept,
                max_size: raw.max_size,
            }),
            "array" => {
                let items = self.required(raw.items, "items", "array")?;
                Schema::Array(Array {
                    description,
                    items: Box::new(self.nested(&["items"], *items)?),
                    min_length: raw.min_length,
                    max_length: raw.max_length,
                })
            }
            "object" | "params" => {
                // The spec requires `properties`; without it, the object plainly has none.
                let properties = raw.properties.unwrap_or_else(|| {
                    self.warn(
                        "object-without-properties",
                        None,
                        format!(
                            "a `{}` without `properties`: read as one with no properties",
                            raw.kind
                        ),
                    );
                    Default::default()
                });
                let mut converted = IndexMap::with_capacity(properties.len());
                for (name, property) in properties {
                    if let Some(schema) = self.nested(&["properties", &name], property) {
                        converted.insert(name, schema);
                    }
                }
                let object = Object {
                    description,
                    properties: converted,
                    required: raw.required.unwrap_or_default(),
                    nullable: raw.nullable.unwrap_or_default(),
                };
                if raw.kind == "object" {
                    Schema::Object(object)
                } else {
                    Schema::Params(object)
                }
            }
            "token" => Schema::Token(Meta { description }),
            "ref" => Schema::Ref(Ref {
                description,
                target: self.required(raw.target, "ref", "ref")?,
            }),
            "union" => Schema::Union(Union {
                description,
                refs: self.required(raw.refs, "refs", "union")?,
                closed: raw.closed.unwrap_or(false),
            }),
            "unknown" => Schema::Unknown(Meta { description }),
            "record" => {
                let key = self.required(raw.key, "key", "record")?;
                let record = self.required(raw.record, "record", "record")?;
                Schema::Record(Record {
                    description,
                    key,
                    record: Box::new(self.nested(&["record"], *record)?),
                })
            }
            "query" | "procedure" => {
                let endpoint = Endpoint {
                    description,
                    parameters: self.optional_nested("parameters", raw.parameters),
                    input: raw.input.map(|body| self.body("input", body)),
                    output: raw.output.map(|body| self.body("output", body)),
                    errors: errors(raw.errors),
                };
                if raw.kind == "query" {
                    Schema::Query(endpoint)
                } else {
                    Schema::Procedure(endpoint)
                }
            }
            "subscription" => {
                let message = match raw.message {
                    None => None,
                    Some(message) => {
                        let schema = match message.schema {
                            Some(schema) => self.nested(&["message", "schema"], *schema),
                            None => {
                                self.error(
                                    Some("message"),
                                    "a subscription message needs a `schema`".into(),
                                );
                                None
                            }
                        };
                        schema.map(|schema| Message {
                            description: message.description,
                            schema: Box::new(schema),
                        })
                    }
                };
                Schema::Subscription(Subscription {
                    description,
                    parameters: self.optional_nested("parameters", raw.parameters),
                    message,
                    errors: errors(raw.errors),
                })
            }
            "permission-set" => {
                let mut permissions = Vec::new();
                for (i, permission) in raw.permissions.unwrap_or_default().into_iter().enumerate() {
                    if let Some(p) = self.nested(&["permissions", &i.to_string()], permission) {
                        permissions.push(p);
                    }
                }
                Schema::PermissionSet(PermissionSet {
                    description,
                    title: raw.title,
                    title_lang: raw.title_lang.unwrap_or_default(),
                    detail: raw.detail,
                    detail_lang: raw.detail_lang.unwrap_or_default(),
                    permissions,
                })
            }
            "permission" => Schema::Permission(Permission {
                resource: self.required(raw.resource, "resource", "permission")?,
                collection: raw.collection.unwrap_or_default(),
                action: raw.action.unwrap_or_default(),
                lxm: raw.lxm.unwrap_or_default(),
                aud: raw.aud,
                inherit_aud: raw.inherit_aud,
            }),
            other => {
                self.error(Some("type"), format!("unknown schema type `{other}`"));
                return None;
            }
        };
        Some(schema)
    }

    fn optional_nested(&mut self, field: &str, raw: Option<Box<RawSchema>>) -> Option<Box<Schema>> {
        raw.and_then(|raw| self.nested(&[field], *raw))
            .map(Box::new)
    }

    fn body(&mut self, field: &str, raw: RawBody) -> Body {
        Body {
            description: raw.description,
            encoding: raw.encoding,
            schema: raw
                .schema
                .and_then(|schema| self.nested(&[field, "schema"], *schema))
                .map(Box::new),
        }
    }

    /// Reads `default`/`const` as the schema's own value type.
    fn typed<T>(
        &mut self,
        value: Option<Value>,
        field: &str,
        read: impl Fn(&Value) -> Option<T>,
        expected: &str,
    ) -> Option<T> {
        let value = value?;
        let typed = read(&value);
        if typed.is_none() {
            self.error(
                Some(field),
                format!("`{field}` must be {expected}, found {value}"),
            );
        }
        typed
    }

    fn typed_list<T>(
        &mut self,
        values: Option<Vec<Value>>,
        read: impl Fn(&Value) -> Option<T>,
        expected: &str,
    ) -> Option<Vec<T>> {
        let values = values?;
        let typed: Option<Vec<T>> = values.iter().map(&read).collect();
        if typed.is_none() {
            self.error(Some("enum"), format!("`enum` must list {expected}"));
        }
        typed
    }
}

fn errors(raw: Option<Vec<super::raw::RawError>>) -> Vec<ErrorDef> {
    raw.unwrap_or_default()
        .into_iter()
        .map(|e| ErrorDef {
            name: e.name,
            description: e.description,
        })
        .collect()
}
