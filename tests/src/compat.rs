//! User code written against a generated crate, to check what the lexicon diff says about the
//! Rust API: a program that uses every public item the way users do is written against the old
//! crate and compiled against the new one.
//!
//! The program builds every struct with `new` and its required fields, reads and assigns every
//! field with its type spelled out, matches every enum naming each variant (with the wildcard
//! arm that `#[non_exhaustive]` asks for), names every constant and alias, and calls every
//! client method with its argument types, naming each declared error. It is only compiled.

use codegen::ir::{Body, Field, Ir, Item, Type, TypePath};
use std::fmt::Write as _;

/// The source of a crate root that uses every item of `ir` from the crate named `api`.
pub fn user_program(ir: &Ir) -> String {
    let mut out = String::from(
        "#![allow(unused, deprecated, unreachable_code, clippy::all)]\n\
         //! Written against the old crate; compiled against the new one.\n\
         use api::prelude::*;\n\n\
         fn value<T>() -> T {\n    unreachable!()\n}\n\n",
    );
    for module in ir.modules.iter().filter(|m| m.external.is_none()) {
        let path = format!("api::{}", module.path.join("::"));
        let function = module.path.join("_");
        let _ = writeln!(
            out,
            "pub async fn {function}<T: api::runtime::client::Transport>(client: &api::runtime::client::Client<T>) {{"
        );
        for item in &module.items {
            out.push_str(&item_usage(item, &path, &module.path));
        }
        out.push_str("}\n\n");
    }
    out
}

/// The source of a crate root that would depend on the full set of fields and variants of
/// every type of `ir` (struct expressions, matches without a wildcard arm). The generated
/// types are `#[non_exhaustive]`, so this must not build: users cannot write code that a new
/// optional field or union member would break. `None` when `ir` has no such type.
pub fn fragile_program(ir: &Ir) -> Option<String> {
    let mut fragile = false;
    let mut out = String::from(
        "#![allow(unused, deprecated, unreachable_code, clippy::all)]\n\
         fn value<T>() -> T {\n    unreachable!()\n}\n\n",
    );
    for module in ir.modules.iter().filter(|m| m.external.is_none()) {
        let path = format!("api::{}", module.path.join("::"));
        let _ = writeln!(out, "pub fn {}() {{", module.path.join("_"));
        for item in &module.items {
            match item {
                Item::Struct(s) => {
                    let name = format!("{path}::{}", s.name);
                    let fields: String = s
                        .fields
                        .iter()
                        .map(|f| format!("{}: value(), ", f.rust_name))
                        .collect();
                    let _ = writeln!(out, "    let _ = {name} {{ {fields}extra: value() }};");
                }
                Item::Union(u) => {
                    let name = format!("{path}::{}", u.name);
                    let mut arms: Vec<String> = u
                        .variants
                        .iter()
                        .map(|v| format!("{name}::{}(_) => {{}}", v.name))
                        .collect();
                    if !u.closed {
                        arms.push(format!("{name}::Unknown(_) => {{}}"));
                    }
                    let _ = writeln!(out, "    match value::<{name}>() {{ {} }}", arms.join(" "));
                }
                Item::Strings(s) => {
                    let name = format!("{path}::{}", s.name);
                    let mut arms: Vec<String> = s
                        .values
                        .iter()
                        .map(|(v, _)| format!("{name}::{v} => {{}}"))
                        .collect();
                    if s.open {
                        arms.push(format!("{name}::Other(_) => {{}}"));
                    }
                    let _ = writeln!(out, "    match value::<{name}>() {{ {} }}", arms.join(" "));
                }
                Item::Endpoint(e) => {
                    let name = format!("{path}::{}", e.error.name);
                    let mut arms: Vec<String> = e
                        .error
                        .variants
                        .iter()
                        .map(|(v, _, _)| format!("{name}::{v} {{ .. }} => {{}}"))
                        .collect();
                    arms.push(format!("{name}::Other {{ .. }} => {{}}"));
                    let _ = writeln!(out, "    match value::<{name}>() {{ {} }}", arms.join(" "));
                }
                _ => continue,
            }
            fragile = true;
        }
        out.push_str("}\n\n");
    }
    fragile.then_some(out)
}

fn item_usage(item: &Item, path: &str, module: &[String]) -> String {
    match item {
        Item::Struct(s) => {
            let name = format!("{path}::{}", s.name);
            let args: Vec<String> = s
                .fields
                .iter()
                .filter(|f| f.required)
                .map(|f| format!("value::<{}>()", field_type(f)))
                .collect();
            let mut code = format!(
                "    {{\n        let mut v: {name} = {name}::new({});\n",
                args.join(", ")
            );
            for field in &s.fields {
                let ty = field_type(field);
                let _ = writeln!(code, "        let _: &{ty} = &v.{};", field.rust_name);
                let _ = writeln!(code, "        v.{} = value::<{ty}>();", field.rust_name);
            }
            code.push_str("        let _: &api::runtime::Extra = &v.extra;\n    }\n");
            if let Some(record) = &s.record {
                let key = match record.key.as_str() {
                    "tid" => "Tid",
                    "nsid" => "Nsid",
                    _ => "RecordKey",
                };
                let _ = writeln!(
                    code,
                    "    let _: (&str, &str) = ({name}::NSID, {name}::KEY);"
                );
                let _ = writeln!(
                    code,
                    "    let _: Option<<{name} as api::runtime::Collection>::Key> = value::<Option<api::runtime::{key}>>();"
                );
            }
            code
        }
        Item::Union(u) => {
            let name = format!("{path}::{}", u.name);
            let mut code = format!("    match value::<{name}>() {{\n");
            for variant in &u.variants {
                let _ = writeln!(
                    code,
                    "        {name}::{}(v) => {{ let _: std::boxed::Box<{}> = v; }}",
                    variant.name,
                    type_path(&variant.ty)
                );
            }
            if !u.closed {
                let _ = writeln!(
                    code,
                    "        {name}::Unknown(v) => {{ let _: api::runtime::Unknown = v; }}"
                );
            }
            code.push_str("        _ => {}\n    }\n");
            code
        }
        Item::Strings(s) => {
            let name = format!("{path}::{}", s.name);
            let mut code = format!("    match value::<{name}>() {{\n");
            for (variant, _) in &s.values {
                let _ = writeln!(code, "        {name}::{variant} => {{}}");
            }
            if s.open {
                let _ = writeln!(code, "        {name}::Other(v) => {{ let _: String = v; }}");
            }
            code.push_str("        _ => {}\n    }\n");
            code
        }
        Item::Alias(a) => format!(
            "    let _: {path}::{} = value::<{}>();\n",
            a.name,
            rust_type(&a.ty)
        ),
        Item::Token(t) => format!("    let _: &str = {path}::{};\n", t.name),
        Item::PermissionSet(_) => {
            format!("    let _: api::runtime::PermissionSet = {path}::PERMISSION_SET;\n")
        }
        Item::Subscription(_) => String::new(),
        Item::Endpoint(e) => {
            let mut args = Vec::new();
            if let Some(params) = &e.params {
                args.push(format!("value::<&{}>()", type_path(params)));
            }
            match &e.input {
                Some(Body { ty: Some(ty), .. }) => {
                    args.push(format!("value::<&{}>()", type_path(ty)))
                }
                Some(Body { ty: None, .. }) => {
                    args.push("value::<Vec<u8>>()".into());
                    args.push("value::<&str>()".into());
                }
                None => {}
            }
            let output = match &e.output {
                Some(Body { ty: Some(ty), .. }) => type_path(ty),
                Some(Body { ty: None, .. }) => "api::runtime::client::RawBody".into(),
                None => "()".into(),
            };
            let error = format!("{path}::{}", e.error.name);
            let services: String = module[..module.len() - 1]
                .iter()
                .map(|s| format!(".{s}()"))
                .collect();
            let mut code = format!(
                "    let result: Result<{output}, api::runtime::client::Error<{error}>> = client{services}.{}({}).await;\n",
                e.method,
                args.join(", ")
            );
            code.push_str(&format!("    match value::<{error}>() {{\n"));
            for (variant, _, _) in &e.error.variants {
                let _ = writeln!(
                    code,
                    "        {error}::{variant} {{ message }} => {{ let _: Option<String> = message; }}"
                );
            }
            let _ = writeln!(
                code,
                "        {error}::Other {{ error, message }} => {{ let _: (String, Option<String>) = (error, message); }}"
            );
            code.push_str("        _ => {}\n    }\n");
            code
        }
    }
}

/// The declared type of a field, as `codegen`'s emitter writes it.
fn field_type(field: &Field) -> String {
    let ty = rust_type(&field.ty);
    match (field.required, field.nullable) {
        (true, false) => ty,
        (false, false) | (true, true) => format!("Option<{ty}>"),
        (false, true) => format!("Option<Option<{ty}>>"),
    }
}

fn rust_type(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::Integer => "i64".into(),
        Type::String => "String".into(),
        Type::Format(format) => format!("api::runtime::{}", format.runtime_type()),
        Type::Bytes => "api::runtime::Bytes".into(),
        Type::CidLink => "api::runtime::CidLink".into(),
        Type::Blob => "api::runtime::Blob".into(),
        Type::Unknown => "api::runtime::Unknown".into(),
        Type::Array(item) => format!("Vec<{}>", rust_type(item)),
        Type::Named { path, boxed: true } => format!("Box<{}>", type_path(path)),
        Type::Named { path, boxed: false } => type_path(path),
    }
}

fn type_path(path: &TypePath) -> String {
    format!("api::{}::{}", path.module.join("::"), path.name)
}
