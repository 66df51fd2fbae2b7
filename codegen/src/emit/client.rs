//! The XRPC side of a module: params encoding, the client method of each endpoint, and the
//! namespace services that make `client.com().atproto().server().create_session(..)` read
//! like the NSID.

use super::docs;
use super::types::{ident, type_path};
use crate::ir::*;
use proc_macro2::TokenStream;
use quote::quote;

/// Query-string encoding of a `Params` struct: unset parameters with a lexicon default send it.
pub fn params(s: &Struct) -> TokenStream {
    let name = ident(&s.name);
    let pushes = s.fields.iter().map(|field| {
        let rust_name = ident(&field.rust_name);
        let json_name = &field.json_name;
        let default = field.default.as_ref().map(|value| {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            quote! {
                if self.#rust_name.is_none() {
                    query.push(#json_name, #text);
                }
            }
        });
        quote! {
            crate::runtime::client::QueryValue::push_to(&self.#rust_name, #json_name, query);
            #default
        }
    });
    let query = if s.fields.is_empty() {
        quote!(_query)
    } else {
        quote!(query)
    };
    quote! {
        impl crate::runtime::client::QueryParams for #name {
            fn push_to(&self, #query: &mut crate::runtime::client::Query) {
                #(#pushes)*
            }
        }
    }
}

/// The client method of a query or procedure, on the service of its parent namespace.
pub fn endpoint(e: &Endpoint, from: &[String]) -> TokenStream {
    let method = ident(&e.method);
    let error = ident(&e.error.name);
    let verb = match e.kind {
        EndpointKind::Query => quote!(query),
        EndpointKind::Procedure => quote!(procedure),
    };
    let kind = match e.kind {
        EndpointKind::Query => "GET (query)",
        EndpointKind::Procedure => "POST (procedure)",
    };
    let doc = docs::attrs_with_lead(
        &format!("`{}`: {kind} `/xrpc/{}`.", e.nsid, e.nsid),
        e.doc.as_deref(),
    );
    let deprecated = docs::deprecation(e.doc.as_deref());

    let mut args = Vec::new();
    let mut build = Vec::new();
    if let Some(params) = &e.params {
        let ty = type_path(params, from);
        args.push(quote!(params: &#ty));
        build.push(quote!(.params(params)));
    }
    match &e.input {
        Some(Body { ty: Some(ty), .. }) => {
            let ty = type_path(ty, from);
            args.push(quote!(input: &#ty));
            build.push(quote!(.json(input)));
        }
        Some(Body { ty: None, .. }) => {
            args.push(quote!(body: ::std::vec::Vec<u8>));
            args.push(quote!(content_type: &str));
            build.push(quote!(.bytes(body, content_type)));
        }
        None => {}
    }
    let (output, finish) = match &e.output {
        Some(Body { ty: Some(ty), .. }) => {
            let ty = type_path(ty, from);
            (ty, quote!(.json()))
        }
        Some(Body { ty: None, .. }) => (quote!(crate::runtime::client::RawBody), quote!(.raw())),
        None => (quote!(()), quote!(.empty())),
    };
    let nsid = &e.nsid;
    quote! {
        impl<T: crate::runtime::client::Transport + ?Sized> super::Service<'_, T> {
            #doc
            #deprecated
            pub async fn #method(&self, #(#args),*) -> ::std::result::Result<#output, crate::runtime::client::Error<#error>> {
                self.0.#verb(#nsid) #(#build)* .send::<#error>().await? #finish
            }
        }
    }
}

/// The service of one namespace node, with an accessor for each child namespace.
pub fn service(nsid: &str, children: &[String], cfgs: &[TokenStream]) -> TokenStream {
    let lead = format!(" The XRPC methods of the `{nsid}` namespace.");
    let accessors = children.iter().zip(cfgs).map(|(child, cfg)| {
        let child = ident(child);
        quote! {
            #cfg
            pub fn #child(&self) -> #child::Service<'a, T> {
                #child::Service(self.0)
            }
        }
    });
    quote! {
        #[doc = #lead]
        #[derive(Debug)]
        pub struct Service<'a, T: ?Sized>(pub(crate) &'a crate::runtime::client::Client<T>);
        impl<T: ?Sized> ::std::clone::Clone for Service<'_, T> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<T: ?Sized> ::std::marker::Copy for Service<'_, T> {}
        impl<'a, T: ?Sized> Service<'a, T> {
            #(#accessors)*
        }
    }
}

/// Accessors on the client for the top-level namespaces (`client.com()`).
pub fn root_accessors(children: &[String], cfgs: &[TokenStream]) -> TokenStream {
    let accessors = children.iter().zip(cfgs).map(|(child, cfg)| {
        let child = ident(child);
        let doc = format!(
            " The XRPC methods of the `{}` namespace.",
            crate::naming::unraw(&child.to_string())
        );
        quote! {
            #[doc = #doc]
            #cfg
            pub fn #child(&self) -> #child::Service<'_, T> {
                #child::Service(self)
            }
        }
    });
    quote! {
        impl<T: ?Sized> crate::runtime::client::Client<T> {
            #(#accessors)*
        }
    }
}
