//! The XRPC side of a module: params encoding, the client method of each endpoint, and the
//! namespace services that make `client.com().atproto().server().create_session(..)` read
//! like the NSID.

use super::docs;
use super::types::{ident, type_path};
use crate::ir::*;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// Query-string encoding of a `Params` struct: unset parameters with a lexicon default send it.
pub fn params(s: &Struct) -> TokenStream {
    let name = ident(&s.name);
    let pushes = s.fields.iter().map(|field| {
        let rust_name = ident(&field.rust_name);
        let json_name = &field.json_name;
        let default = field.default.as_ref().map(|value| {
            let text = wire_default(value);
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
            #[inline]
            fn push_to(&self, #query: &mut crate::runtime::client::Query) {
                #(#pushes)*
            }
        }
    }
}

/// A parameter's lexicon default as the query string carries it.
pub fn wire_default(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The client methods of a query or procedure, on the service of its parent namespace.
pub fn endpoint(e: &Endpoint, from: &[String]) -> TokenStream {
    inherent(EndpointMethod::all(e, from, from))
}

/// The client methods of a subscription (feature `stream`), on the service of its parent
/// namespace.
pub fn subscribe(s: &crate::ir::Subscription, from: &[String]) -> TokenStream {
    inherent(EndpointMethod::subscription(s, from, from))
}

/// Methods in an inherent impl of the parent namespace's service.
fn inherent(methods: Vec<EndpointMethod>) -> TokenStream {
    let methods = methods.into_iter().map(|method| {
        let (attrs, cfg, signature, body) =
            (method.attrs, method.cfg, method.signature, method.body);
        quote! {
            #attrs
            #cfg
            pub #signature {
                #body
            }
        }
    });
    quote! {
        impl<T: crate::runtime::client::Transport + ?Sized> super::Service<'_, T> {
            #(#methods)*
        }
    }
}

/// The pieces of an endpoint's client method, to place in an inherent impl or in a trait.
pub struct EndpointMethod {
    /// Doc comment and deprecation.
    pub attrs: TokenStream,
    /// The feature the method needs (`stream`), on its declaration and its body alike.
    pub cfg: TokenStream,
    /// `async fn name(&self, ..) -> Result<..>`.
    pub signature: TokenStream,
    pub body: TokenStream,
}

impl EndpointMethod {
    /// The endpoint's method, and for a binary output (a blob, a CAR file) a `*_stream`
    /// method beside it that reads the body as it arrives, with no size limit.
    pub fn all(e: &Endpoint, module: &[String], from: &[String]) -> Vec<Self> {
        let mut methods = vec![EndpointMethod::new(e, module, from)];
        if matches!(e.output, Some(Body { ty: None, .. })) {
            methods.push(EndpointMethod::streaming(e, module, from));
        }
        methods
    }

    /// The two methods of a subscription: the event stream over WebSocket, and the same with
    /// [`SubscribeOptions`]; none when the lexicon gives it no message type.
    pub fn subscription(s: &Subscription, module: &[String], from: &[String]) -> Vec<Self> {
        let Some(message) = &s.message else {
            return Vec::new();
        };
        let message = type_path(message, from);
        let error = type_path(
            &TypePath {
                external: None,
                module: module.to_vec(),
                name: s.error.name.clone(),
            },
            from,
        );
        let name = s.nsid.rsplit('.').next().unwrap_or(&s.nsid);
        let method = ident(&crate::naming::field(name));
        let method_with = format_ident!("{}_with", crate::naming::unraw(&method.to_string()));
        let nsid = &s.nsid;
        let (params, query, args) = match &s.params {
            Some(path) => {
                let ty = type_path(path, from);
                (
                    quote!(params: &#ty,),
                    quote! {
                        let mut query = crate::runtime::client::Query::default();
                        crate::runtime::client::QueryParams::push_to(params, &mut query);
                    },
                    quote!(params,),
                )
            }
            None => (
                TokenStream::new(),
                quote!(let query = crate::runtime::client::Query::default();),
                TokenStream::new(),
            ),
        };
        let doc = docs::attrs_with_lead(
            &format!(
                "`{nsid}`: the event stream over WebSocket, decoded frame by frame and resumed \
                 from the last cursor after a disconnect (see [`crate::runtime::stream`])."
            ),
            None,
        );
        let subscription = quote!(crate::runtime::stream::Subscription<#message, #error>);
        vec![
            EndpointMethod {
                attrs: doc,
                cfg: quote!(#[cfg(feature = "stream")]),
                signature: quote!(fn #method(&self, #params) -> #subscription),
                body: quote!(self.#method_with(#args ::std::default::Default::default())),
            },
            EndpointMethod {
                attrs: quote!(#[doc = " The same, with buffering and reconnection options."]),
                cfg: quote!(#[cfg(feature = "stream")]),
                signature: quote! {
                    fn #method_with(&self, #params options: crate::runtime::stream::SubscribeOptions) -> #subscription
                },
                body: quote! {
                    #query
                    crate::runtime::stream::subscribe(self.0.base_url(), #nsid, query, options)
                },
            },
        ]
    }

    /// The `*_stream` method of an endpoint with a binary output.
    fn streaming(e: &Endpoint, module: &[String], from: &[String]) -> Self {
        let method = ident(&format!("{}_stream", crate::naming::unraw(&e.method)));
        let error = EndpointMethod::error_path(e, module, from);
        let verb = EndpointMethod::verb(e);
        let nsid = &e.nsid;
        let (args, build) = EndpointMethod::args(e, from);
        let lead = format!(
            "`{nsid}` with its body read as it arrives, chunk by chunk and with no size limit: \
             for outputs too large to hold in memory."
        );
        let doc = docs::attrs_with_lead(&lead, None);
        let deprecated = docs::deprecation(e.doc.as_deref());
        EndpointMethod {
            attrs: quote!(#doc #deprecated),
            cfg: TokenStream::new(),
            signature: quote! {
                async fn #method(&self, #(#args),*) -> ::std::result::Result<crate::runtime::client::StreamingResponse, crate::runtime::client::Error<#error>>
            },
            body: quote!(self.0.#verb(#nsid) #(#build)* .send_streaming::<#error>().await),
        }
    }

    /// `module` is the endpoint's own module; `from` the module the method is written in.
    pub fn new(e: &Endpoint, module: &[String], from: &[String]) -> Self {
        let method = ident(&e.method);
        let error = EndpointMethod::error_path(e, module, from);
        let verb = EndpointMethod::verb(e);
        let kind = match e.kind {
            EndpointKind::Query => "GET (query)",
            EndpointKind::Procedure => "POST (procedure)",
        };
        let doc = docs::attrs_with_lead(
            &format!("`{}`: {kind} `/xrpc/{}`.", e.nsid, e.nsid),
            e.doc.as_deref(),
        );
        let deprecated = docs::deprecation(e.doc.as_deref());
        let (args, build) = EndpointMethod::args(e, from);
        let (output, finish) = match &e.output {
            Some(Body { ty: Some(ty), .. }) => {
                let ty = type_path(ty, from);
                (ty, quote!(.json()))
            }
            Some(Body { ty: None, .. }) => {
                (quote!(crate::runtime::client::RawBody), quote!(.raw()))
            }
            None => (quote!(()), quote!(.empty())),
        };
        let nsid = &e.nsid;
        EndpointMethod {
            attrs: quote!(#doc #deprecated),
            cfg: TokenStream::new(),
            signature: quote! {
                async fn #method(&self, #(#args),*) -> ::std::result::Result<#output, crate::runtime::client::Error<#error>>
            },
            body: quote!(self.0.#verb(#nsid) #(#build)* .send::<#error>().await? #finish),
        }
    }

    fn error_path(e: &Endpoint, module: &[String], from: &[String]) -> TokenStream {
        type_path(
            &TypePath {
                external: None,
                module: module.to_vec(),
                name: e.error.name.clone(),
            },
            from,
        )
    }

    fn verb(e: &Endpoint) -> TokenStream {
        match e.kind {
            EndpointKind::Query => quote!(query),
            EndpointKind::Procedure => quote!(procedure),
        }
    }

    /// The method's arguments, and the request builder calls that send them.
    fn args(e: &Endpoint, from: &[String]) -> (Vec<TokenStream>, Vec<TokenStream>) {
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
        (args, build)
    }
}

/// A namespace a base crate already has a service for: this crate adds its child namespaces
/// and methods there through an extension trait (`use my_api::prelude::*`).
pub struct Extension<'a> {
    /// The trait's name (`ComAtprotoExt`, `ClientExt` for the client itself).
    pub name: String,
    /// The NSID of the namespace (empty for the client).
    pub nsid: &'a str,
    /// The type the trait is implemented for (the base's service, or the client).
    pub target: TokenStream,
    /// Child namespaces this crate adds, with their cfgs.
    pub children: Vec<(String, TokenStream)>,
    pub methods: Vec<EndpointMethod>,
}

pub fn extension(ext: &Extension<'_>) -> TokenStream {
    let name = ident(&ext.name);
    let root = ext.nsid.is_empty();
    let lifetime = if root { quote!('_) } else { quote!('a) };
    let client = if root { quote!(self) } else { quote!(self.0) };
    let (decls, impls): (Vec<TokenStream>, Vec<TokenStream>) = ext
        .children
        .iter()
        .map(|(child, cfg)| {
            let child = ident(child);
            let doc = format!(
                " The XRPC methods of the `{}` namespace.",
                if root {
                    crate::naming::unraw(&child.to_string()).to_owned()
                } else {
                    format!("{}.{}", ext.nsid, crate::naming::unraw(&child.to_string()))
                }
            );
            (
                quote! {
                    #[doc = #doc]
                    #cfg
                    fn #child(&self) -> #child::Service<#lifetime, T>;
                },
                quote! {
                    #cfg
                    fn #child(&self) -> #child::Service<#lifetime, T> {
                        #child::Service(#client)
                    }
                },
            )
        })
        .chain(ext.methods.iter().map(|m| {
            let (attrs, cfg, signature, body) = (&m.attrs, &m.cfg, &m.signature, &m.body);
            (
                quote! {
                    #attrs
                    #cfg
                    #signature;
                },
                quote! {
                    #cfg
                    #signature {
                        #body
                    }
                },
            )
        }))
        .unzip();
    let lead = if root {
        " The XRPC namespaces this crate adds to the client: `use` it (or the `prelude`)."
            .to_owned()
    } else {
        format!(
            " The XRPC methods this crate adds to the `{}` namespace of a base crate: `use` it (or the `prelude`).",
            ext.nsid
        )
    };
    let target = &ext.target;
    let (params, args) = if root {
        (quote!(<T: ?::std::marker::Sized>), quote!(<T>))
    } else {
        (quote!(<'a, T: ?::std::marker::Sized>), quote!(<'a, T>))
    };
    let impl_params = if root {
        quote!(<T: crate::runtime::client::Transport + ?::std::marker::Sized>)
    } else {
        quote!(<'a, T: crate::runtime::client::Transport + ?::std::marker::Sized>)
    };
    quote! {
        #[doc = #lead]
        #[allow(async_fn_in_trait)]
        pub trait #name #params {
            #(#decls)*
        }
        impl #impl_params #name #args for #target {
            #(#impls)*
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
        pub struct Service<'a, T: ?Sized>(
            /// The client the calls go through (crates layered on this one reach it here).
            pub &'a crate::runtime::client::Client<T>,
        );
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
