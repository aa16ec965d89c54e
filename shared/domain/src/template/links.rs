//! Which links a message may carry. A link in an e-mail (any `href`, a form's `action`, a
//! frame's `src`…) or a push notification's deep link must use `http`, `https`, `mailto` or
//! `tel`, or, for a deep link, one of the organisation's app schemes: `javascript:`, `data:`,
//! `vbscript:` and every other scheme are refused. The scheme is read the way a browser reads
//! it: character references decoded (`&#106;avascript:`), tabs and newlines anywhere removed
//! (`java\tscript:`), leading spaces and control characters trimmed, letters in any case
//! (`JaVaScRiPt:`). A link without a scheme (`#top`, `/uu-dai`) opens nothing dangerous and
//! passes.
//!
//! Checked twice: when a template is saved (its literal links, as the sample renders them) and
//! when a message is rendered (what customer data put into an `href` is data, and a customer
//! attribute holding `javascript:…` must not become a link).

use std::cell::RefCell;

use super::{Content, TemplateErrors};

/// The schemes every message may link to.
pub const WEB_SCHEMES: [&str; 4] = ["http", "https", "mailto", "tel"];

/// The attributes that make a link or load a document, on any element.
const LINK_ATTRIBUTES: [&str; 8] = [
    "href",
    "xlink:href",
    "action",
    "formaction",
    "src",
    "data",
    "poster",
    "background",
];

/// A link's scheme as a browser resolves it, lowercased; `None` for a link without one.
pub fn scheme_of(link: &str) -> Option<String> {
    let decoded = html_escape::decode_html_entities(link);
    let cleaned: String = decoded
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let colon = cleaned.find(':')?;
    let scheme = &cleaned[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then(|| scheme.to_ascii_lowercase())
}

/// Whether `link` may be sent: no scheme, a [`WEB_SCHEMES`] one, or one of `app_schemes`.
pub fn allowed(link: &str, app_schemes: &[String]) -> bool {
    match scheme_of(link) {
        None => true,
        Some(scheme) => {
            WEB_SCHEMES.contains(&scheme.as_str())
                || app_schemes.iter().any(|s| s.eq_ignore_ascii_case(&scheme))
        }
    }
}

/// Every link-bearing attribute value of `html`, as a browser's tokenizer would find it.
pub fn html_links(html: &str) -> Vec<String> {
    let found = RefCell::new(Vec::new());
    let selector = LINK_ATTRIBUTES
        .iter()
        .map(|a| format!("[{}]", a.replace(':', "\\:")))
        .collect::<Vec<_>>()
        .join(",");
    let settings = lol_html::RewriteStrSettings::new().append_element_content_handler(
        lol_html::element!(selector, |el| {
            for attribute in el.attributes() {
                let name = attribute.name();
                if LINK_ATTRIBUTES.contains(&name.as_str()) {
                    found.borrow_mut().push(attribute.value());
                }
            }
            Ok(())
        }),
    );
    if lol_html::rewrite_str(html, settings).is_err() {
        // The tokenizer does not fail on malformed HTML; should it ever, keep nothing back.
        return vec![html.to_owned()];
    }
    found.into_inner()
}

/// The links of a rendered message that may not be sent, as template problems by field
/// (`html`, `deep_link`), each naming the refused scheme and never the link itself (it may
/// carry customer data).
pub fn check(content: &Content, app_schemes: &[String]) -> Result<(), TemplateErrors> {
    let mut problems = super::errors::Problems::default();
    let mut refuse = |field: &str, link: &str| {
        let scheme = scheme_of(link).unwrap_or_default();
        problems.add(
            field,
            format!(
                "Liên kết dùng giao thức «{scheme}:» không được phép; chỉ http, https, mailto, \
                 tel{}",
                if field == "deep_link" {
                    " hoặc giao thức của ứng dụng"
                } else {
                    ""
                }
            ),
        );
    };
    match content {
        Content::Email { html, .. } => {
            for link in html_links(html) {
                if !allowed(&link, &[]) {
                    refuse("html", &link);
                }
            }
        }
        Content::Push {
            deep_link: Some(link),
            ..
        } if !allowed(link, app_schemes) => refuse("deep_link", link),
        _ => {}
    }
    problems.finish(Some(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_read_as_a_browser_reads_them() {
        for (link, scheme) in [
            ("https://abc.vn/uu-dai", Some("https")),
            ("JaVaScRiPt:alert(1)", Some("javascript")),
            ("&#106;avascript:alert(1)", Some("javascript")),
            ("&#x6A;avascript&#58;alert(1)", Some("javascript")),
            ("java\tscript:alert(1)", Some("javascript")),
            ("java\nscript:alert(1)", Some("javascript")),
            ("  \u{1}javascript:alert(1)", Some("javascript")),
            ("javascript&colon;alert(1)", Some("javascript")),
            ("data:text/html;base64,PHNjcmlwdD4=", Some("data")),
            ("/uu-dai?x=1", None),
            ("#dau-trang", None),
            ("uu-dai/tra-gop", None),
            ("?a=b:c", None),
            ("", None),
        ] {
            assert_eq!(scheme_of(link).as_deref(), scheme, "{link:?}");
        }
    }

    #[test]
    fn only_web_schemes_and_the_apps_own_pass() {
        let app = vec!["nhipbank".to_owned()];
        for link in [
            "https://a.vn",
            "http://a.vn",
            "mailto:cskh@a.vn",
            "tel:19001234",
            "/x",
        ] {
            assert!(allowed(link, &app), "{link}");
        }
        assert!(allowed("NhipBank://hop-dong/1", &app));
        assert!(!allowed("nhipbank://hop-dong/1", &[]));
        for link in ["javascript:x", "data:x", "vbscript:x", "file:///etc/passwd"] {
            assert!(!allowed(link, &app), "{link}");
        }
    }

    #[test]
    fn every_link_attribute_of_any_element_and_quoting_is_found() {
        let html = "<a href=\"https://a.vn\">a</a><A HREF='JAVASCRIPT:x'>b</A>\
                    <a href=&#106;avascript:y>c</a><form action=\"data:z\"></form>\
                    <svg><a xlink:href=\"javascript:w\"></a></svg><iframe src=\"javascript:v\">\
                    </iframe><p>javascript:not-a-link</p>";
        let links = html_links(html);
        assert_eq!(links.len(), 6, "{links:?}");
        assert_eq!(
            links.iter().filter(|l| !allowed(l, &[])).count(),
            5,
            "{links:?}"
        );
    }
}
