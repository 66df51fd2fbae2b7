//! `AnyRecord`: every record type of the crate in one enum, read by collection, for code that
//! meets records of many collections (a firehose commit, a repository export). A layered
//! crate's `AnyRecord` also reads the records of its base crates, as their `AnyRecord`s.

use super::features::Features;
use super::types::type_path;
use crate::ir::{Ir, Item, TypePath};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use std::collections::BTreeSet;

/// The enum and its readers; empty when the crate has no records of its own. `bases` are the
/// libraries of the base crates that have records, tried in that order.
pub fn any_record(ir: &Ir, features: &Features, bases: &[String]) -> TokenStream {
    let mut taken = BTreeSet::new();
    let records: Vec<(String, TokenStream, TokenStream, TokenStream)> = ir
        .own_modules()
        .flat_map(|module| {
            module.items.iter().filter_map(move |item| match item {
                Item::Struct(s) if s.record.is_some() => Some((module, s)),
                _ => None,
            })
        })
        .map(|(module, s)| {
            let nsid = module.nsid.clone();
            let mut name = crate::naming::type_name(&nsid.replace('.', "_"));
            let base = name.clone();
            let mut n = 2;
            while !taken.insert(name.clone()) {
                name = format!("{base}{n}");
                n += 1;
            }
            let variant = format_ident!("{}", name);
            let path = type_path(
                &TypePath {
                    external: None,
                    module: module.path.clone(),
                    name: s.name.clone(),
                },
                &[],
            );
            let cfg = match features.of(&module.path[..module.path.len().min(2)]) {
                Some(feature) => quote!(#[cfg(feature = #feature)]),
                None => TokenStream::new(),
            };
            (nsid, quote!(#variant), path, cfg)
        })
        .collect();
    if records.is_empty() {
        return TokenStream::new();
    }
    let bases: Vec<(TokenStream, TokenStream, String)> = bases
        .iter()
        .map(|lib| {
            let base = crate::naming::type_name(lib);
            let mut name = base.clone();
            let mut n = 2;
            while !taken.insert(name.clone()) {
                name = format!("{base}{n}");
                n += 1;
            }
            let variant = format_ident!("{}", name);
            let doc = format!(" A record of a collection of the base crate `{lib}`.");
            let lib = format_ident!("{}", lib);
            (quote!(#variant), quote!(::#lib::AnyRecord), doc)
        })
        .collect();
    let base_variants = bases
        .iter()
        .map(|(variant, path, doc)| quote!(#[doc = #doc] #variant(#path),));
    let base_json_arms = bases.iter().map(|(variant, path, _)| {
        quote!(_ if #path::owns(collection) => #path::from_json(collection, record).map(Self::#variant),)
    });
    let base_cbor_arms = bases.iter().map(|(variant, path, _)| {
        quote!(_ if #path::owns(collection) => #path::from_cbor(collection, bytes).map(Self::#variant),)
    });
    let base_collection_arms = bases
        .iter()
        .map(|(variant, _, _)| quote!(Self::#variant(record) => record.collection(),));
    let base_serialize_arms = bases.iter().map(|(variant, _, _)| {
        quote!(Self::#variant(record) => ::serde::Serialize::serialize(record, serializer),)
    });
    let owns_arms = records
        .iter()
        .map(|(nsid, _, _, cfg)| quote!(#cfg #nsid => true,));
    let variants = records.iter().map(|(nsid, variant, path, cfg)| {
        let doc = format!(" A `{nsid}` record.");
        quote!(#[doc = #doc] #cfg #variant(::std::boxed::Box<#path>),)
    });
    let json_arms = records.iter().map(|(nsid, variant, _, cfg)| {
        quote!(#cfg #nsid => ::serde_json::from_value(record).map(|r| Self::#variant(::std::boxed::Box::new(r))),)
    });
    let cbor_arms = records.iter().map(|(nsid, variant, _, cfg)| {
        quote!(#cfg #nsid => crate::runtime::cbor::from_slice(bytes).map(|r| Self::#variant(::std::boxed::Box::new(r))),)
    });
    let collection_arms = records.iter().map(|(nsid, variant, _, cfg)| {
        quote!(#cfg Self::#variant(_) => ::std::option::Option::Some(#nsid),)
    });
    let serialize_arms = records.iter().map(|(_, variant, _, cfg)| {
        quote!(#cfg Self::#variant(record) => ::serde::Serialize::serialize(record, serializer),)
    });
    quote! {
        /// Any record of a collection this crate knows, read by its collection (a layered
        /// crate's also reads its base crates' records, as their `AnyRecord`); a record of
        /// another collection (or of a namespace whose feature is off) is kept whole.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum AnyRecord {
            #(#variants)*
            #(#base_variants)*
            /// A record of a collection this crate does not know, kept whole.
            Unknown(crate::runtime::Unknown),
        }

        impl AnyRecord {
            /// Reads a record of `collection` from its JSON form.
            // Inline (like the DAG-CBOR reader): it instantiates every record's reader, which is
            // then compiled only in programs that call it, not with the crate.
            #[inline]
            pub fn from_json(collection: &str, record: ::serde_json::Value) -> ::std::result::Result<Self, ::serde_json::Error> {
                match collection {
                    #(#json_arms)*
                    #(#base_json_arms)*
                    _ => ::serde_json::from_value(record).map(Self::Unknown),
                }
            }

            /// Reads a record of `collection` from its DAG-CBOR bytes, as a repository (and a
            /// firehose commit's blocks) holds it.
            #[cfg(feature = "dag-cbor")]
            #[inline]
            pub fn from_cbor(collection: &str, bytes: &[u8]) -> ::std::result::Result<Self, crate::runtime::cbor::CborError> {
                match collection {
                    #(#cbor_arms)*
                    #(#base_cbor_arms)*
                    _ => crate::runtime::cbor::from_slice(bytes).map(Self::Unknown),
                }
            }

            /// Whether `collection` is one of this crate's own (not a base crate's), with the
            /// features that are on.
            pub fn owns(collection: &str) -> bool {
                match collection {
                    #(#owns_arms)*
                    _ => false,
                }
            }

            /// The collection of a known record; `None` for one kept whole.
            pub fn collection(&self) -> ::std::option::Option<&'static str> {
                match self {
                    #(#collection_arms)*
                    #(#base_collection_arms)*
                    Self::Unknown(_) => ::std::option::Option::None,
                }
            }
        }

        impl ::serde::Serialize for AnyRecord {
            fn serialize<__S: ::serde::Serializer>(&self, serializer: __S) -> ::std::result::Result<__S::Ok, __S::Error> {
                match self {
                    #(#serialize_arms)*
                    #(#base_serialize_arms)*
                    Self::Unknown(record) => ::serde::Serialize::serialize(record, serializer),
                }
            }
        }
    }
}
