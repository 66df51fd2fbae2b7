//! Lexicon descriptions as rustdoc: escaped so they never become links, HTML or doctests.

use proc_macro2::TokenStream;
use quote::quote;

/// Escapes a description for rustdoc: link brackets and HTML angle brackets are escaped,
/// code fences and indentation (which would make doctests) are neutralised, and bare URLs
/// are wrapped so rustdoc does not warn about them. Other markdown is left to render.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let line = line.trim().replace("```", "\\`\\`\\`");
        let mut words = line.split(' ').peekable();
        while let Some(word) = words.next() {
            if word.starts_with("http://") || word.starts_with("https://") {
                let end = word.trim_end_matches(['.', ',', ')', ';', ':']);
                out.push('<');
                out.push_str(&end.replace('>', "%3E"));
                out.push('>');
                out.push_str(&word[end.len()..]);
            } else {
                for c in word.chars() {
                    if matches!(c, '[' | ']' | '<' | '>') {
                        out.push('\\');
                    }
                    out.push(c);
                }
            }
            if words.peek().is_some() {
                out.push(' ');
            }
        }
    }
    out
}

/// `#[doc = ...]` attributes for an optional description, one per line.
pub fn attrs(text: Option<&str>) -> TokenStream {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return TokenStream::new();
    };
    let lines = escape(text);
    let lines = lines.lines().map(|line| {
        if line.is_empty() {
            String::new()
        } else {
            format!(" {line}")
        }
    });
    quote! { #( #[doc = #lines] )* }
}

/// A doc line and then a description paragraph.
pub fn attrs_with_lead(lead: &str, text: Option<&str>) -> TokenStream {
    let lead = format!(" {lead}");
    let rest = attrs(text);
    if rest.is_empty() {
        quote! { #[doc = #lead] }
    } else {
        quote! { #[doc = #lead] #[doc = ""] #rest }
    }
}

/// `#[deprecated]` for a description that starts with "deprecated" (as upstream lexicons
/// mark retired fields), so users see a compiler warning where they use it.
pub fn deprecation(text: Option<&str>) -> Option<TokenStream> {
    let text = text?.trim();
    let lead = text.get(..10)?;
    lead.eq_ignore_ascii_case("deprecated")
        .then(|| quote!(#[deprecated(note = #text)]))
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn neutralises_markdown_html_and_doctests() {
        assert_eq!(
            escape("See [spec] <b>bold</b>"),
            "See \\[spec\\] \\<b\\>bold\\</b\\>"
        );
        assert_eq!(
            escape("```\n    indented code\n```"),
            "\\`\\`\\`\nindented code\n\\`\\`\\`"
        );
        assert_eq!(
            escape("docs at https://atproto.com/specs."),
            "docs at <https://atproto.com/specs>."
        );
        assert_eq!(escape("a_b *c* `d`"), "a_b *c* `d`");
    }
}
