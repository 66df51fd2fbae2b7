//! Items for the data types of a module: structs, unions, string sets, aliases, tokens,
//! error enums.

use super::docs;
use crate::ir::*;
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

/// An identifier from a name made by [`crate::naming`] (which may be raw, `r#type`).
pub fn ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

/// A path to a generated type, as seen from the module `from`.
pub fn type_path(path: &TypePath, from: &[String]) -> TokenStream {
    let name = ident(&path.name);
    if let Some(lib) = &path.external {
        let lib = ident(lib);
        let segments = path.module.iter().map(|s| ident(s));
        quote!(:: #lib #(:: #segments)* :: #name)
    } else if path.module == from {
        quote!(#name)
    } else {
        let segments = path.module.iter().map(|s| ident(s));
        quote!(crate #(:: #segments)* :: #name)
    }
}

pub fn rust_type(ty: &Type, from: &[String]) -> TokenStream {
    match ty {
        Type::Bool => quote!(bool),
        Type::Integer => quote!(i64),
        Type::String => quote!(::std::string::String),
        Type::Format(format) => {
            let name = format_ident!("{}", format.runtime_type());
            quote!(crate::runtime::#name)
        }
        Type::Bytes => quote!(crate::runtime::Bytes),
        Type::CidLink => quote!(crate::runtime::CidLink),
        Type::Blob => quote!(crate::runtime::Blob),
        Type::Unknown => quote!(crate::runtime::Unknown),
        Type::Array(item) => {
            let item = rust_type(item, from);
            quote!(::std::vec::Vec<#item>)
        }
        Type::Named { path, boxed } => {
            let path = type_path(path, from);
            if *boxed {
                quote!(::std::boxed::Box<#path>)
            } else {
                path
            }
        }
    }
}

/// How a field is declared, read and written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldShape {
    /// `T`; a `null` read is an error.
    Required,
    /// `Vec<T>`; a `null` read (as Go servers write empty lists) is kept as an empty list.
    RequiredList,
    /// `Option<T>`, `None` being `null`.
    RequiredNullable,
    /// `Option<T>`; a `null` read is kept as `None`.
    Optional,
    /// `Option<Option<T>>`: absent, `null` and a value stay distinct.
    OptionalNullable,
}

pub(super) fn field_shape(field: &Field) -> FieldShape {
    match (field.required, field.nullable) {
        (true, false) if matches!(field.ty, Type::Array(_)) => FieldShape::RequiredList,
        (true, false) => FieldShape::Required,
        (true, true) => FieldShape::RequiredNullable,
        (false, false) => FieldShape::Optional,
        (false, true) => FieldShape::OptionalNullable,
    }
}

/// The field's declared type: absent, `null` and a value stay distinct when the lexicon allows
/// all three (`Option<Option<T>>`).
fn field_type(field: &Field, from: &[String]) -> TokenStream {
    let ty = rust_type(&field.ty, from);
    match field_shape(field) {
        FieldShape::Required | FieldShape::RequiredList => ty,
        FieldShape::RequiredNullable | FieldShape::Optional => quote!(::std::option::Option<#ty>),
        FieldShape::OptionalNullable => {
            quote!(::std::option::Option<::std::option::Option<#ty>>)
        }
    }
}

/// The serde impls of generated types name their type parameters `__S`, `__M`, `__A` and `__D`:
/// a lexicon def may well be called `A`, and a parameter of that name would shadow it.
pub fn structure(s: &Struct, from: &[String]) -> TokenStream {
    let name = ident(&s.name);
    let doc = docs::attrs(s.doc.as_deref());
    let fields = s.fields.iter().map(|field| {
        let doc = docs::attrs(field.doc.as_deref());
        let deprecated = docs::deprecation(field.doc.as_deref());
        let rust_name = ident(&field.rust_name);
        let ty = field_type(field, from);
        quote! { #doc #deprecated pub #rust_name: #ty, }
    });
    let writes = s.fields.iter().map(|field| {
        let rust_name = ident(&field.rust_name);
        let json_name = &field.json_name;
        match field_shape(field) {
            FieldShape::RequiredList => quote! {
                crate::runtime::tri!(map.list_entry(#json_name, &self.#rust_name, &self.extra));
            },
            FieldShape::Required | FieldShape::RequiredNullable => quote! {
                crate::runtime::tri!(map.serialize_entry(#json_name, &self.#rust_name));
            },
            FieldShape::Optional | FieldShape::OptionalNullable => quote! {
                crate::runtime::tri!(map.optional_entry(#json_name, &self.#rust_name, &self.extra));
            },
        }
    });
    let field_names = s.fields.iter().map(|field| &field.json_name);
    let ser_ext = s
        .fields
        .iter()
        .any(|field| {
            !matches!(
                field_shape(field),
                FieldShape::Required | FieldShape::RequiredNullable
            )
        })
        .then(|| {
            quote!(
                use crate::runtime::ser::SerializeMapExt as _;
            )
        });
    let own_type = match &s.record {
        Some(_) => quote!(::std::option::Option::Some(Self::NSID)),
        None => quote!(::std::option::Option::None),
    };
    let record = s.record.as_ref().map(|record| {
        let nsid = &record.nsid;
        let key = &record.key;
        let (key_type, literal) = match key.as_str() {
            "tid" => (
                quote!(crate::runtime::Tid),
                quote!(::std::option::Option::None),
            ),
            "nsid" => (
                quote!(crate::runtime::Nsid),
                quote!(::std::option::Option::None),
            ),
            other => {
                let literal = match other.strip_prefix("literal:") {
                    Some(value) => quote!(::std::option::Option::Some(#value)),
                    None => quote!(::std::option::Option::None),
                };
                (quote!(crate::runtime::RecordKey), literal)
            }
        };
        quote! {
            impl #name {
                /// The collection NSID: records of this type are stored under it, and written with it as `$type`.
                pub const NSID: &'static str = #nsid;
                /// The record-key type of the collection, as the lexicon states it.
                pub const KEY: &'static str = #key;
            }
            impl crate::runtime::Collection for #name {
                const NSID: &'static str = #nsid;
                type Key = #key_type;
                const LITERAL_KEY: ::std::option::Option<&'static str> = #literal;
            }
        }
    });
    let constructor = constructor(s, from);
    let defaults = default_accessors(s);
    let secret = s.fields.iter().any(is_secret);
    let derive_debug = (!secret).then(|| quote!(Debug,));
    let derive_default = s
        .fields
        .iter()
        .all(|f| !f.required)
        .then(|| quote!(Default,));
    let debug = secret.then(|| redacted_debug(s));
    let deserialize = deserialize_object(s, from);
    quote! {
        #doc
        #[derive(#derive_debug #derive_default Clone, PartialEq)]
        #[non_exhaustive]
        pub struct #name {
            #(#fields)*
            /// Fields this version of the lexicon does not define, kept so that writing the
            /// value back loses nothing.
            pub extra: crate::runtime::Extra,
        }
        #record
        #constructor
        #defaults
        #debug
        impl ::serde::Serialize for #name {
            fn serialize<__S: ::serde::Serializer>(&self, serializer: __S) -> ::std::result::Result<__S::Ok, __S::Error> {
                crate::runtime::ser::object(serializer, #own_type, self)
            }
        }
        impl crate::runtime::ser::Fields for #name {
            fn serialize_fields<__M: ::serde::ser::SerializeMap>(&self, map: &mut __M) -> ::std::result::Result<(), __M::Error> {
                #ser_ext
                #(#writes)*
                crate::runtime::ser::extra(map, &self.extra, &[#(#field_names),*])
            }
            #[inline]
            fn extra_fields(&self) -> &crate::runtime::Extra {
                &self.extra
            }
        }
        #deserialize
    }
}

/// `Deserialize` without serde's derive: one pass over the map, matching keys as borrowed
/// strings, unknown keys kept in `extra`, `$type` skipped (records and unions know theirs).
/// No buffering, so it is also what a union calls after reading `$type` first.
fn deserialize_object(s: &Struct, from: &[String]) -> TokenStream {
    let name = ident(&s.name);
    let local = |field: &Field| {
        format_ident!(
            "f_{}",
            crate::naming::unraw(&field.rust_name).trim_start_matches('_')
        )
    };
    let locals = s.fields.iter().map(|field| {
        let local = local(field);
        let ty = rust_type(&field.ty, from);
        // Nullable fields read `Option<T>` (null is a value); others read `T` (null is an error).
        let read = if field.nullable {
            quote!(::std::option::Option<#ty>)
        } else {
            ty
        };
        quote!(let mut #local: ::std::option::Option<#read> = ::std::option::Option::None;)
    });
    let arms = s.fields.iter().map(|field| {
        let local = local(field);
        let json_name = &field.json_name;
        if field.nullable {
            quote!(#json_name => map.read_nullable(&mut #local, #json_name),)
        } else {
            quote!(#json_name => map.read_field(&mut #local, #json_name, &mut extra),)
        }
    });
    let keep_type = s.record.is_none();
    let de_ext = (!s.fields.is_empty()).then(|| {
        quote!(
            use crate::runtime::de::MapAccessExt as _;
        )
    });
    let dispatch = if s.fields.is_empty() {
        quote!(crate::runtime::de::other_field(&mut map, key, &mut extra, #keep_type)?;)
    } else {
        // One early return for the whole match rather than one per field: each return drops
        // every field read so far, so this keeps the body linear in its fields.
        quote! {
            let read = match key.as_str() {
                #(#arms)*
                _ => crate::runtime::de::other_field(&mut map, key, &mut extra, #keep_type),
            };
            crate::runtime::tri!(read);
        }
    };
    let inits = s.fields.iter().map(|field| {
        let local = local(field);
        let rust_name = ident(&field.rust_name);
        let json_name = &field.json_name;
        match field_shape(field) {
            FieldShape::Required => {
                quote!(#rust_name: crate::runtime::de::required(#local, #json_name, &extra)?,)
            }
            FieldShape::RequiredList => {
                quote!(#rust_name: crate::runtime::de::required_list(#local, #json_name, &extra)?,)
            }
            // A required nullable field that is absent reads as null.
            FieldShape::RequiredNullable => quote!(#rust_name: #local.flatten(),),
            FieldShape::Optional | FieldShape::OptionalNullable => quote!(#rust_name: #local,),
        }
    });
    let expecting = format!("a {} object", s.type_tag);
    quote! {
        impl<'de> crate::runtime::de::Object<'de> for #name {
            const EXPECTING: &'static str = #expecting;
            fn from_map<__A: ::serde::de::MapAccess<'de>>(mut map: __A) -> ::std::result::Result<Self, __A::Error> {
                #de_ext
                #(#locals)*
                let mut extra = crate::runtime::Extra::default();
                while let ::std::option::Option::Some(key) = map.next_key::<crate::runtime::de::Key<'de>>()? {
                    #dispatch
                }
                ::std::result::Result::Ok(Self { #(#inits)* extra })
            }
        }
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<__D: ::serde::Deserializer<'de>>(deserializer: __D) -> ::std::result::Result<Self, __D::Error> {
                crate::runtime::de::object(deserializer)
            }
        }
    }
}

/// Credentials must never reach logs through `Debug`; which fields carry them is decided
/// when the IR is built ([`crate::secrets`]).
fn is_secret(field: &Field) -> bool {
    field.secret
}

/// `Debug` that prints `<redacted>` for credentials.
fn redacted_debug(s: &Struct) -> TokenStream {
    let name = ident(&s.name);
    let label = &s.name;
    let entries = s.fields.iter().map(|field| {
        let rust_name = ident(&field.rust_name);
        let label = crate::naming::unraw(&field.rust_name);
        let value = match (is_secret(field), field.required && !field.nullable) {
            (false, _) => quote!(&self.#rust_name),
            (true, true) => quote!(&crate::runtime::Redacted),
            (true, false) => quote!(&self.#rust_name.as_ref().map(|_| crate::runtime::Redacted)),
        };
        quote!(.field(#label, #value))
    });
    quote! {
        impl ::std::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(#label) #(#entries)* .field("extra", &self.extra).finish()
            }
        }
    }
}

/// For optional fields with a lexicon `default`, a method of the same name that applies it
/// (the field itself stays an `Option`, so data is written back as it was read).
fn default_accessors(s: &Struct) -> TokenStream {
    let methods: Vec<TokenStream> = s
        .fields
        .iter()
        .filter(|f| !f.required && !f.nullable)
        .filter_map(|field| {
            let rust_name = ident(&field.rust_name);
            let doc = format!(
                " `{}`, or its lexicon default when absent.",
                field.json_name
            );
            let (ty, body) = match (&field.ty, field.default.as_ref()?) {
                (Type::Bool, serde_json::Value::Bool(b)) => {
                    (quote!(bool), quote!(self.#rust_name.unwrap_or(#b)))
                }
                (Type::Integer, serde_json::Value::Number(n)) => {
                    let n = n.as_i64()?;
                    (quote!(i64), quote!(self.#rust_name.unwrap_or(#n)))
                }
                (Type::String, serde_json::Value::String(text)) => (
                    quote!(&str),
                    quote!(self.#rust_name.as_deref().unwrap_or(#text)),
                ),
                _ => return None,
            };
            Some(quote! {
                #[doc = #doc]
                #[inline]
                pub fn #rust_name(&self) -> #ty {
                    #body
                }
            })
        })
        .collect();
    if methods.is_empty() {
        return TokenStream::new();
    }
    let name = ident(&s.name);
    quote! { impl #name { #(#methods)* } }
}

/// `new(required fields...)`: the optional fields start unset, so adding an optional field to
/// the lexicon does not break code that builds the struct.
fn constructor(s: &Struct, from: &[String]) -> TokenStream {
    let name = ident(&s.name);
    let required: Vec<&Field> = s.fields.iter().filter(|f| f.required).collect();
    let params = required.iter().map(|f| {
        let rust_name = ident(&f.rust_name);
        match (&f.ty, f.nullable) {
            (Type::String, false) => {
                quote!(#rust_name: impl ::std::convert::Into<::std::string::String>)
            }
            _ => {
                let ty = field_type(f, from);
                quote!(#rust_name: #ty)
            }
        }
    });
    let inits = s.fields.iter().map(|f| {
        let rust_name = ident(&f.rust_name);
        match (&f.ty, f.required, f.nullable) {
            (Type::String, true, false) => quote!(#rust_name: #rust_name.into(),),
            (_, true, _) => quote!(#rust_name,),
            (_, false, _) => quote!(#rust_name: ::std::option::Option::None,),
        }
    });
    let many = (required.len() > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
    quote! {
        impl #name {
            /// Builds a value from its required fields; the optional ones start unset.
            #many
            #[inline]
            pub fn new(#(#params),*) -> Self {
                Self { #(#inits)* extra: ::std::default::Default::default() }
            }
        }
    }
}

pub fn union(u: &Union, from: &[String]) -> TokenStream {
    let name = ident(&u.name);
    let doc = docs::attrs(u.doc.as_deref());
    let variants = u.variants.iter().map(|v| {
        let variant = ident(&v.name);
        let ty = type_path(&v.ty, from);
        let lead = format!(" `$type`: `{}`", v.tag);
        quote! { #[doc = #lead] #variant(::std::boxed::Box<#ty>), }
    });
    let unknown_variant = (!u.closed).then(|| {
        quote! {
            /// An object whose `$type` this version of the lexicons does not list, kept whole.
            Unknown(crate::runtime::Unknown),
        }
    });
    let serialize_arms = u.variants.iter().map(|v| {
        let variant = ident(&v.name);
        let tag = &v.tag;
        quote! { Self::#variant(value) => crate::runtime::ser::tagged(serializer, #tag, value.as_ref()), }
    });
    let unknown_serialize = (!u.closed).then(
        || quote! { Self::Unknown(value) => ::serde::Serialize::serialize(value, serializer), },
    );
    let deserialize_arms = u.variants.iter().map(|v| {
        let variant = ident(&v.name);
        let tag = &v.tag;
        // `nsid#main` is not the canonical spelling, but it is seen in the wild.
        let main_alias = (!tag.contains('#')).then(|| {
            let alias = format!("{tag}#main");
            quote!(| #alias)
        });
        quote! {
            #tag #main_alias => crate::runtime::de::variant(tag, map).map(|value| Self::#variant(::std::boxed::Box::new(value))),
        }
    });
    let fallback = if u.closed {
        let expected = u
            .variants
            .iter()
            .map(|v| v.tag.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        quote! { _ => crate::runtime::de::closed(tag, #expected), }
    } else {
        quote! { _ => crate::runtime::de::unknown(tag, map).map(Self::Unknown), }
    };
    // An empty open union holds any object with a `$type`; skip the one-arm `match`.
    let (serialize_body, deserialize_body) = if u.variants.is_empty() && !u.closed {
        (
            quote! {
                let Self::Unknown(value) = self;
                ::serde::Serialize::serialize(value, serializer)
            },
            quote! {
                crate::runtime::de::unknown(tag, map).map(Self::Unknown)
            },
        )
    } else {
        (
            quote! {
                match self {
                    #(#serialize_arms)*
                    #unknown_serialize
                }
            },
            quote! {
                match tag {
                    #(#deserialize_arms)*
                    #fallback
                }
            },
        )
    };
    quote! {
        #doc
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum #name {
            #(#variants)*
            #unknown_variant
        }
        impl ::serde::Serialize for #name {
            fn serialize<__S: ::serde::Serializer>(&self, serializer: __S) -> ::std::result::Result<__S::Ok, __S::Error> {
                #serialize_body
            }
        }
        impl<'de> crate::runtime::de::Union<'de> for #name {
            fn from_tagged<__A: ::serde::de::MapAccess<'de>>(tag: &str, map: __A) -> ::std::result::Result<Self, __A::Error> {
                #deserialize_body
            }
        }
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<__D: ::serde::Deserializer<'de>>(deserializer: __D) -> ::std::result::Result<Self, __D::Error> {
                crate::runtime::de::union(deserializer)
            }
        }
    }
}

pub fn strings(s: &Strings) -> TokenStream {
    let name = ident(&s.name);
    let doc = docs::attrs(s.doc.as_deref());
    let variants = s.values.iter().map(|(variant, value)| {
        let variant = ident(variant);
        let lead = format!(" `{value}`");
        quote! { #[doc = #lead] #variant, }
    });
    let as_str = s.values.iter().map(|(variant, value)| {
        let variant = ident(variant);
        quote!(Self::#variant => #value,)
    });
    let from_str = s.values.iter().map(|(variant, value)| {
        let variant = ident(variant);
        quote!(#value => ::std::option::Option::Some(Self::#variant),)
    });
    let (other_variant, other_as_str, parse) = if s.open {
        (
            quote! {
                /// A value this version of the lexicon does not list, kept as it is.
                Other(::std::string::String),
            },
            quote!(Self::Other(value) => value,),
            quote! {
                impl ::std::convert::From<&str> for #name {
                    #[inline]
                    fn from(value: &str) -> Self {
                        Self::known(value).unwrap_or_else(|| Self::Other(value.to_owned()))
                    }
                }
                impl ::std::convert::From<::std::string::String> for #name {
                    #[inline]
                    fn from(value: ::std::string::String) -> Self {
                        Self::known(&value).unwrap_or(Self::Other(value))
                    }
                }
                impl<'de> ::serde::Deserialize<'de> for #name {
                    fn deserialize<__D: ::serde::Deserializer<'de>>(deserializer: __D) -> ::std::result::Result<Self, __D::Error> {
                        let value = <::std::string::String as ::serde::Deserialize>::deserialize(deserializer)?;
                        ::std::result::Result::Ok(Self::from(value))
                    }
                }
            },
        )
    } else {
        let expected = s
            .values
            .iter()
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        (
            TokenStream::new(),
            TokenStream::new(),
            quote! {
                impl ::std::str::FromStr for #name {
                    type Err = crate::runtime::UnknownValue;
                    #[inline]
                    fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                        Self::known(value).ok_or_else(|| crate::runtime::UnknownValue::new(value, #expected))
                    }
                }
                impl<'de> ::serde::Deserialize<'de> for #name {
                    fn deserialize<__D: ::serde::Deserializer<'de>>(deserializer: __D) -> ::std::result::Result<Self, __D::Error> {
                        let value = <::std::string::String as ::serde::Deserialize>::deserialize(deserializer)?;
                        value.parse().map_err(::serde::de::Error::custom)
                    }
                }
            },
        )
    };
    quote! {
        #doc
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum #name {
            #(#variants)*
            #other_variant
        }
        impl #name {
            /// The value as written in JSON.
            #[inline]
            pub fn as_str(&self) -> &str {
                match self {
                    #(#as_str)*
                    #other_as_str
                }
            }
            #[inline]
            fn known(value: &str) -> ::std::option::Option<Self> {
                match value {
                    #(#from_str)*
                    _ => ::std::option::Option::None,
                }
            }
        }
        impl ::std::fmt::Display for #name {
            #[inline]
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl ::serde::Serialize for #name {
            fn serialize<__S: ::serde::Serializer>(&self, serializer: __S) -> ::std::result::Result<__S::Ok, __S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl crate::runtime::client::QueryValue for #name {
            #[inline]
            fn push_to(&self, name: &'static str, query: &mut crate::runtime::client::Query) {
                query.push(name, self.as_str());
            }
        }
        #parse
    }
}

pub fn alias(a: &Alias, from: &[String]) -> TokenStream {
    let name = ident(&a.name);
    let doc = docs::attrs(a.doc.as_deref());
    let ty = rust_type(&a.ty, from);
    quote! { #doc pub type #name = #ty; }
}

pub fn token(t: &Token) -> TokenStream {
    let name = ident(&t.name);
    let value = &t.value;
    let doc = docs::attrs_with_lead(&format!("Token `{value}`."), t.doc.as_deref());
    quote! { #doc pub const #name: &str = #value; }
}

/// The error enum of an endpoint: its named errors, and `Other` for any other name (or a
/// body that was not an XRPC error at all), keeping the name and message.
pub fn error_enum(e: &ErrorEnum) -> TokenStream {
    let name = ident(&e.name);
    let variants = e.variants.iter().map(|(variant, error, doc)| {
        let variant = ident(variant);
        let doc = docs::attrs_with_lead(&format!("`{error}`"), doc.as_deref());
        quote! { #doc #variant { message: ::std::option::Option<::std::string::String> }, }
    });
    let from_arms = e.variants.iter().map(|(variant, error, _)| {
        let variant = ident(variant);
        quote!(#error => Self::#variant { message },)
    });
    let name_arms = e.variants.iter().map(|(variant, error, _)| {
        let variant = ident(variant);
        quote!(Self::#variant { message } => (#error, message.as_deref()),)
    });
    // A `match` with only the fallback arm is noise (and a clippy warning).
    let (from_parts, parts) = if e.variants.is_empty() {
        (
            quote!(Self::Other { error, message }),
            quote! {
                let Self::Other { error, message } = self;
                (error, message.as_deref())
            },
        )
    } else {
        (
            quote! {
                match error.as_str() {
                    #(#from_arms)*
                    _ => Self::Other { error, message },
                }
            },
            quote! {
                match self {
                    #(#name_arms)*
                    Self::Other { error, message } => (error, message.as_deref()),
                }
            },
        )
    };
    quote! {
        /// The errors this endpoint declares, and any other error the server sends.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum #name {
            #(#variants)*
            /// An error this version of the lexicon does not declare.
            Other { error: ::std::string::String, message: ::std::option::Option<::std::string::String> },
        }
        impl crate::runtime::client::XrpcErrorKind for #name {
            #[inline]
            fn from_parts(error: ::std::string::String, message: ::std::option::Option<::std::string::String>) -> Self {
                #from_parts
            }
            #[inline]
            fn parts(&self) -> (&str, ::std::option::Option<&str>) {
                #parts
            }
        }
        impl ::std::fmt::Display for #name {
            #[inline]
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                crate::runtime::client::display_error(self, f)
            }
        }
        impl ::std::error::Error for #name {}
    }
}
