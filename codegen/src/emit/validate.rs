//! `Validate` impls: the lexicon's constraints as code, reported with JSON paths.
//!
//! Each `validate_into` is `#[inline]`, so that it is compiled in the programs that validate
//! that type rather than with the crate: a fifth of the crate's own machine code was checks of
//! types most programs never validate.

use super::types::{FieldShape, field_shape, ident};
use crate::ir::{Checks, Field, Strings, Struct, Type, Union};
use proc_macro2::TokenStream;
use quote::quote;

/// `Some(n)` / `None` with an unsuffixed literal.
fn some<T: Into<Number>>(value: Option<T>) -> TokenStream {
    match value.map(Into::into) {
        Some(Number(literal)) => quote!(::std::option::Option::Some(#literal)),
        None => quote!(::std::option::Option::None),
    }
}

struct Number(proc_macro2::Literal);

impl From<u64> for Number {
    fn from(n: u64) -> Self {
        Number(proc_macro2::Literal::u64_unsuffixed(n))
    }
}

impl From<i64> for Number {
    fn from(n: i64) -> Self {
        Number(proc_macro2::Literal::i64_unsuffixed(n))
    }
}

/// Whether values of the type can break a constraint of their own (a format, a nested
/// object): plain strings, integers, booleans and bytes cannot.
fn validates_itself(ty: &Type) -> bool {
    match ty {
        Type::Bool | Type::Integer | Type::String | Type::Bytes => false,
        Type::Array(item) => validates_itself(item),
        Type::Format(_) | Type::CidLink | Type::Blob | Type::Unknown | Type::Named { .. } => true,
    }
}

/// Checks of one value of type `ty` reachable as `value` (a reference), at the current path.
fn checks(ty: &Type, checks: &Checks, value: TokenStream) -> TokenStream {
    let (min, max) = (some(checks.min_length), some(checks.max_length));
    let mut out = TokenStream::new();
    match ty {
        Type::String | Type::Format(_) => {
            let text = quote!(#value.as_str());
            if checks.min_length.is_some() || checks.max_length.is_some() {
                out.extend(quote!(v.string_length(#text, #min, #max);));
            }
            if checks.min_graphemes.is_some() || checks.max_graphemes.is_some() {
                let (gmin, gmax) = (some(checks.min_graphemes), some(checks.max_graphemes));
                out.extend(quote!(v.graphemes(#text, #gmin, #gmax);));
            }
            if let Some(expected) = &checks.string_const {
                out.extend(quote!(v.constant(#text, #expected);));
            }
        }
        Type::Integer => {
            if checks.minimum.is_some() || checks.maximum.is_some() {
                let (lo, hi) = (some(checks.minimum), some(checks.maximum));
                out.extend(quote!(v.integer(*#value, #lo, #hi);));
            }
            if let Some(allowed) = &checks.integer_enum {
                let allowed = allowed
                    .iter()
                    .map(|n| proc_macro2::Literal::i64_unsuffixed(*n));
                out.extend(quote!(v.one_of(#value, &[#(&#allowed),*]);));
            }
            if let Some(expected) = checks.integer_const {
                let expected = proc_macro2::Literal::i64_unsuffixed(expected);
                out.extend(quote!(v.constant(#value, &#expected);));
            }
        }
        Type::Bool => {
            if let Some(expected) = checks.boolean_const {
                out.extend(quote!(v.constant(#value, &#expected);));
            }
        }
        Type::Bytes => {
            if checks.min_length.is_some() || checks.max_length.is_some() {
                out.extend(quote!(v.bytes_length(#value, #min, #max);));
            }
        }
        Type::Blob => {
            if checks.accept.is_some() || checks.max_size.is_some() {
                let accept = checks.accept.iter().flatten();
                let size = some(checks.max_size);
                out.extend(quote!(v.blob(#value, &[#(#accept),*], #size);));
            }
        }
        Type::Array(item) => {
            if checks.min_length.is_some() || checks.max_length.is_some() {
                out.extend(quote!(v.count(#value.len(), #min, #max);));
            }
            if let Some(item_checks) = &checks.items {
                let inner = self::checks(item, item_checks, quote!(item));
                if !inner.is_empty() {
                    out.extend(quote! {
                        for (i, item) in #value.iter().enumerate() {
                            v.enter_index(i);
                            #inner
                            v.leave();
                        }
                    });
                }
            }
        }
        Type::CidLink | Type::Unknown | Type::Named { .. } => {}
    }
    out
}

fn field_checks(field: &Field) -> TokenStream {
    let rust_name = ident(&field.rust_name);
    let json_name = &field.json_name;
    let constraints = checks(&field.ty, &field.checks, quote!(value));
    // Formats, nested objects and unions check themselves.
    let nested = validates_itself(&field.ty)
        .then(|| quote!(crate::runtime::Validate::validate_into(&self.#rust_name, v);));
    if constraints.is_empty() && nested.is_none() {
        return TokenStream::new();
    }
    let constraints = match (field.required, field.nullable) {
        _ if constraints.is_empty() => TokenStream::new(),
        (true, false) => quote!(let value = &self.#rust_name; #constraints),
        (false, false) | (true, true) => quote! {
            if let ::std::option::Option::Some(value) = &self.#rust_name {
                #constraints
            }
        },
        (false, true) => quote! {
            if let ::std::option::Option::Some(::std::option::Option::Some(value)) = &self.#rust_name {
                #constraints
            }
        },
    };
    quote! {
        v.enter(#json_name);
        #nested
        #constraints
        v.leave();
    }
}

/// Reports the `null`s read where the lexicon does not allow them (kept in `extra` to be
/// written back) for the fields that are still absent.
fn read_nulls(s: &Struct) -> Option<TokenStream> {
    let fields: Vec<TokenStream> = s
        .fields
        .iter()
        .filter_map(|field| {
            let rust_name = ident(&field.rust_name);
            let json_name = &field.json_name;
            let absent = match field_shape(field) {
                FieldShape::Optional => quote!(self.#rust_name.is_none()),
                FieldShape::RequiredList => quote!(self.#rust_name.is_empty()),
                _ => return None,
            };
            Some(quote!((#json_name, #absent)))
        })
        .collect();
    (!fields.is_empty()).then(|| {
        quote! {
            if !self.extra.is_empty() {
                v.read_nulls(&self.extra, &[#(#fields),*]);
            }
        }
    })
}

pub fn for_struct(s: &Struct) -> TokenStream {
    let name = ident(&s.name);
    let fields: Vec<TokenStream> = s
        .fields
        .iter()
        .map(field_checks)
        .filter(|f| !f.is_empty())
        .chain(read_nulls(s))
        .collect();
    let v = if fields.is_empty() {
        quote!(_v)
    } else {
        quote!(v)
    };
    quote! {
        impl crate::runtime::Validate for #name {
            #[inline]
            fn validate_into(&self, #v: &mut crate::runtime::Validator) {
                #(#fields)*
            }
        }
    }
}

pub fn for_union(u: &Union) -> TokenStream {
    let name = ident(&u.name);
    let arms = u.variants.iter().map(|variant| {
        let variant = ident(&variant.name);
        quote!(Self::#variant(value) => crate::runtime::Validate::validate_into(value, v),)
    });
    let unknown = (!u.closed).then(
        || quote!(Self::Unknown(value) => crate::runtime::Validate::validate_into(value, v),),
    );
    let body = if u.variants.is_empty() && !u.closed {
        quote! {
            let Self::Unknown(value) = self;
            crate::runtime::Validate::validate_into(value, v);
        }
    } else {
        quote! {
            match self {
                #(#arms)*
                #unknown
            }
        }
    };
    quote! {
        impl crate::runtime::Validate for #name {
            #[inline]
            fn validate_into(&self, v: &mut crate::runtime::Validator) {
                #body
            }
        }
    }
}

/// String sets are checked when read (closed) or accept anything (open).
pub fn for_strings(s: &Strings) -> TokenStream {
    let name = ident(&s.name);
    quote! {
        impl crate::runtime::Validate for #name {
            #[inline]
            fn validate_into(&self, _: &mut crate::runtime::Validator) {}
        }
    }
}
