//! One cargo feature per namespace (the first two NSID segments: `app.bsky` -> `app-bsky`),
//! each enabling the namespaces its types refer to, so users build only what they use.

use crate::ir::{Body, Ir, Item, Type, TypePath};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Default)]
pub struct Features {
    /// Feature name of each namespace, keyed by its two-segment module path.
    by_path: BTreeMap<Vec<String>, String>,
    /// Each feature and the features it needs (`base-package/feature` for a base crate's).
    pub needs: BTreeMap<String, BTreeSet<String>>,
}

impl Features {
    /// The features of this crate's own modules. `external` gives the feature of each base
    /// namespace, keyed by library and two-segment module path, as `package/feature`.
    /// `base_services` are the namespace nodes whose service a base crate defines (with its
    /// library): a module below one extends that service, so it needs the base's feature.
    pub fn new(
        ir: &Ir,
        external: &BTreeMap<(String, Vec<String>), String>,
        base_services: &BTreeMap<Vec<String>, String>,
    ) -> Self {
        let mut features = Features::default();
        for module in ir.own_modules() {
            let name = feature_name(&module.nsid);
            features
                .by_path
                .insert(module.path.iter().take(2).cloned().collect(), name.clone());
            features.needs.entry(name).or_default();
        }
        for module in ir.own_modules() {
            let own =
                features.by_path[&module.path.iter().take(2).cloned().collect::<Vec<_>>()].clone();
            let mut targets = BTreeSet::new();
            for item in &module.items {
                referenced(item, &mut |path| {
                    let prefix = path.module.get(..2).unwrap_or(&path.module).to_vec();
                    let feature = match &path.external {
                        Some(lib) => external.get(&(lib.clone(), prefix)).map(String::as_str),
                        None => features.by_path.get(&prefix).map(String::as_str),
                    };
                    if let Some(feature) = feature
                        && feature != own
                    {
                        targets.insert(feature.to_owned());
                    }
                });
            }
            for depth in 1..module.path.len() {
                let node = &module.path[..depth];
                let Some(lib) = base_services.get(node) else {
                    continue;
                };
                // A top-level node's service exists with any of the base's features below it.
                let feature = external
                    .range((lib.clone(), node.to_vec())..)
                    .find(|((l, path), _)| l == lib && path.starts_with(node))
                    .filter(|((_, path), _)| depth == 1 || path.as_slice() == node)
                    .map(|(_, feature)| feature.clone());
                targets.extend(feature);
            }
            features.needs.entry(own).or_default().extend(targets);
        }
        features
    }

    /// The feature of a module path of depth two or more.
    pub fn of(&self, path: &[String]) -> Option<&str> {
        self.by_path.get(path.get(..2)?).map(String::as_str)
    }

    /// The features below a top-level module (`app` -> `app-bsky`).
    pub fn below(&self, top: &str) -> Vec<&str> {
        self.by_path
            .iter()
            .filter(|(path, _)| path[0] == top)
            .map(|(_, f)| f.as_str())
            .collect()
    }
}

/// `app.bsky.feed.post` -> `app-bsky`.
pub fn feature_name(nsid: &str) -> String {
    let prefix: Vec<&str> = nsid.split('.').take(2).collect();
    prefix
        .join("-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Calls `visit` for every generated type an item mentions.
fn referenced(item: &Item, visit: &mut impl FnMut(&TypePath)) {
    fn ty(t: &Type, visit: &mut impl FnMut(&TypePath)) {
        match t {
            Type::Named { path, .. } => visit(path),
            Type::Array(inner) => ty(inner, visit),
            _ => {}
        }
    }
    let body = |b: &Option<Body>, visit: &mut dyn FnMut(&TypePath)| {
        if let Some(Body { ty: Some(path), .. }) = b {
            visit(path);
        }
    };
    match item {
        Item::Struct(s) => s.fields.iter().for_each(|f| ty(&f.ty, visit)),
        Item::Alias(a) => ty(&a.ty, visit),
        Item::Union(u) => u.variants.iter().for_each(|v| visit(&v.ty)),
        Item::Endpoint(e) => {
            body(&e.input, visit);
            body(&e.output, visit);
        }
        Item::Subscription(s) => {
            if let Some(message) = &s.message {
                visit(message);
            }
        }
        Item::Strings(_) | Item::Token(_) | Item::PermissionSet(_) => {}
    }
}
