//! The server side of a module (feature `server`): the `Endpoint` marker of each query,
//! procedure and subscription, which tells `runtime::server` the endpoint's NSID, kind,
//! parameter defaults, encodings and types. Handlers and routing are all in the runtime.

use super::client::wire_default;
use super::types::{ident, type_path};
use crate::ir::*;
use proc_macro2::TokenStream;
use quote::quote;

/// The `(name, default)` pairs of an endpoint's parameters that have a lexicon default.
fn defaults(params: Option<&TypePath>, items: &[Item]) -> TokenStream {
    let fields = params.and_then(|path| {
        items.iter().find_map(|item| match item {
            Item::Struct(s) if path.external.is_none() && s.name == path.name => Some(&s.fields),
            _ => None,
        })
    });
    let pairs = fields.into_iter().flatten().filter_map(|field| {
        let value = wire_default(field.default.as_ref()?);
        let name = &field.json_name;
        Some(quote!((#name, #value)))
    });
    quote!(&[#(#pairs),*])
}

fn params_type(params: Option<&TypePath>, from: &[String]) -> TokenStream {
    match params {
        Some(path) => type_path(path, from),
        None => quote!(crate::runtime::server::NoParams),
    }
}

/// The body codec of an input or output, and its encoding.
fn body(body: Option<&Body>, from: &[String]) -> (TokenStream, TokenStream) {
    match body {
        None => (
            quote!(crate::runtime::server::NoBody),
            quote!(::std::option::Option::None),
        ),
        Some(Body { encoding, ty }) => {
            let codec = match ty {
                Some(ty) => {
                    let ty = type_path(ty, from);
                    quote!(crate::runtime::server::Json<#ty>)
                }
                None => quote!(crate::runtime::server::Binary),
            };
            (codec, quote!(::std::option::Option::Some(#encoding)))
        }
    }
}

/// `mount` is the router method that takes it (`handle`, `subscribe`).
fn marker_struct(name: &syn::Ident, nsid: &str, mount: &str) -> TokenStream {
    let doc = format!(
        " `{nsid}`, to serve: `XrpcRouter::{mount}({name}, handler)` (see [`crate::runtime::server`])."
    );
    quote! {
        #[doc = #doc]
        #[cfg(feature = "server")]
        #[derive(Debug, Clone, Copy, Default)]
        pub struct #name;
    }
}

/// The marker of a query or procedure.
pub fn endpoint(e: &Endpoint, items: &[Item], from: &[String]) -> TokenStream {
    let name = ident(&e.marker);
    let nsid = &e.nsid;
    let kind = match e.kind {
        EndpointKind::Query => quote!(Query),
        EndpointKind::Procedure => quote!(Procedure),
    };
    let defaults = defaults(e.params.as_ref(), items);
    let params = params_type(e.params.as_ref(), from);
    let (input, input_encoding) = body(e.input.as_ref(), from);
    let (output, output_encoding) = body(e.output.as_ref(), from);
    let error = ident(&e.error.name);
    let marker = marker_struct(&name, nsid, "handle");
    quote! {
        #marker
        #[cfg(feature = "server")]
        impl crate::runtime::server::Endpoint for #name {
            const NSID: &'static str = #nsid;
            const KIND: crate::runtime::server::Kind = crate::runtime::server::Kind::#kind;
            const DEFAULTS: &'static [(&'static str, &'static str)] = #defaults;
            const INPUT_ENCODING: ::std::option::Option<&'static str> = #input_encoding;
            const OUTPUT_ENCODING: ::std::option::Option<&'static str> = #output_encoding;
            type Params = #params;
            type Input = #input;
            type Output = #output;
            type Error = #error;
        }
    }
}

/// The marker of a subscription (none without a message type: nothing could be sent).
pub fn subscription(s: &Subscription, items: &[Item], from: &[String]) -> TokenStream {
    let Some(message) = &s.message else {
        return TokenStream::new();
    };
    let name = ident(&s.marker);
    let nsid = &s.nsid;
    let defaults = defaults(s.params.as_ref(), items);
    let params = params_type(s.params.as_ref(), from);
    let message = type_path(message, from);
    let error = ident(&s.error.name);
    let marker = marker_struct(&name, nsid, "subscribe");
    quote! {
        #marker
        #[cfg(feature = "server")]
        impl crate::runtime::server::SubscriptionEndpoint for #name {
            const NSID: &'static str = #nsid;
            const DEFAULTS: &'static [(&'static str, &'static str)] = #defaults;
            type Params = #params;
            type Message = #message;
            type Error = #error;
        }
    }
}
