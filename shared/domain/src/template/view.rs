//! The data a template sees. For sending, [`MergeData`] becomes a plain Liquid object: a name
//! absent from it fails the render. For the save-time check, the sample becomes a [`CheckView`]:
//! the open namespaces (`holding`, `journey`, `event`, `customer.attributes`) answer any key with
//! a placeholder, and every name looked up and not found elsewhere is recorded, including names
//! Liquid forgives silently (an `{% if customer.nmae %}` is simply false), so a typo is reported.
//! The placeholder is a number, which arithmetic and the amount and date filters accept; a field
//! that fails with it is tried again with nil, which a `for` loop accepts. Either way strings can
//! be HTML-escaped first, for the `html` part of an e-mail.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use liquid_core::model::{DisplayCow, KStringCow, ObjectRender, ObjectSource, ScalarCow, State};
use liquid_core::{Object, ObjectView, Value, ValueView};

use super::filters::PLACEHOLDER;
use super::{CUSTOMER_FIELDS, MergeData};

/// Whether strings are HTML-escaped on the way into the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Escape {
    None,
    Html,
}

/// HTML-escapes the five characters that matter in text and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON value as a Liquid value; strings escaped as asked. Numbers beyond `i64` become floats.
fn to_liquid(json: &serde_json::Value, escape: Escape) -> Value {
    use serde_json::Value as J;
    match json {
        J::Null => Value::Nil,
        J::Bool(b) => Value::scalar(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::scalar(i),
            None => Value::scalar(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => match escape {
            Escape::None => Value::scalar(s.clone()),
            Escape::Html => Value::scalar(escape_html(s)),
        },
        J::Array(items) => Value::Array(items.iter().map(|v| to_liquid(v, escape)).collect()),
        J::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone().into(), to_liquid(v, escape)))
                .collect(),
        ),
    }
}

/// The paths whose objects accept any key in the save-time check (and everything below them).
const OPEN_NAMESPACES: &[&str] = &["holding", "journey", "event", "customer.attributes"];

/// The namespaces of `data`: `(name, value)`. Absent
/// optional namespaces are left out, so a template using them fails to render. The customer
/// object gets every [`CUSTOMER_FIELDS`] name, null when the caller left it out.
fn namespaces(data: &MergeData) -> Vec<(&'static str, serde_json::Value)> {
    let mut customer = data.customer.clone();
    if let serde_json::Value::Object(map) = &mut customer {
        for field in CUSTOMER_FIELDS {
            map.entry(*field).or_insert(serde_json::Value::Null);
        }
    }
    let mut out = vec![
        ("customer", customer),
        ("message", data.message.clone()),
        ("organisation", data.organisation.clone()),
    ];
    for (name, value) in [
        ("holding", &data.holding),
        ("journey", &data.journey),
        ("event", &data.event),
    ] {
        if let Some(value) = value {
            out.push((name, value.clone()));
        }
    }
    out
}

/// `data` as the globals of a real render: a plain Liquid object, strict about absent names.
pub(super) fn globals(data: &MergeData, escape: Escape) -> Object {
    namespaces(data)
        .into_iter()
        .map(|(name, value)| (name.into(), to_liquid(&value, escape)))
        .collect()
}

/// Names looked up and not found while rendering with a [`CheckView`], as dotted paths.
pub(super) type Misses = RefCell<Vec<String>>;

/// The globals of the save-time check (see the module documentation).
#[derive(Debug)]
pub(super) struct CheckView<'m> {
    root: ObjectNode<'m>,
}

/// What an open namespace gives for a key the sample lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Placeholder {
    /// The whole number [`PLACEHOLDER`]: arithmetic, `vnd` and the check's date filters accept it.
    Number,
    /// Nil: a `for` loop over it runs zero times (a number would fail the loop).
    Nothing,
}

impl<'m> CheckView<'m> {
    /// Builds the view of `data` (the sample); the open namespaces are always present.
    pub(super) fn new(
        data: &MergeData,
        escape: Escape,
        placeholder: Placeholder,
        misses: &'m Misses,
    ) -> Self {
        let context = Context {
            escape,
            wildcard: match placeholder {
                Placeholder::Number => &WILDCARD_NUMBER,
                Placeholder::Nothing => &WILDCARD_NOTHING,
            },
            misses,
        };
        let mut fields = BTreeMap::new();
        for (name, value) in namespaces(data) {
            fields.insert(name.to_string(), Node::build(name, &value, false, context));
        }
        for name in ["holding", "journey", "event"] {
            fields
                .entry(name.to_string())
                .or_insert_with(|| Node::build(name, &serde_json::json!({}), false, context));
        }
        Self {
            root: ObjectNode {
                path: String::new(),
                fields,
                open: false,
                context,
            },
        }
    }

    /// The view as Liquid globals.
    pub(super) fn as_object(&self) -> &dyn ObjectView {
        &self.root
    }
}

/// One value in a [`CheckView`].
#[derive(Debug)]
enum Node<'m> {
    /// A scalar or an array: looked up the usual way.
    Leaf(Value),
    /// An object, strict or open.
    Object(ObjectNode<'m>),
}

impl<'m> Node<'m> {
    /// The node at `path`; open when `path` is an open namespace or inside one.
    fn build(
        path: &str,
        json: &serde_json::Value,
        inside_open: bool,
        context: Context<'m>,
    ) -> Self {
        let open = inside_open || OPEN_NAMESPACES.contains(&path);
        match json {
            serde_json::Value::Object(map) => Node::Object(ObjectNode {
                path: path.to_string(),
                fields: map
                    .iter()
                    .map(|(k, v)| {
                        let child = format!("{path}.{k}");
                        (k.clone(), Node::build(&child, v, open, context))
                    })
                    .collect(),
                open,
                context,
            }),
            other => Node::Leaf(to_liquid(other, context.escape)),
        }
    }

    fn as_view(&self) -> &dyn ValueView {
        match self {
            Node::Leaf(value) => value,
            Node::Object(object) => object,
        }
    }

    fn to_value(&self) -> Value {
        self.as_view().to_value()
    }
}

/// What every node of a [`CheckView`] shares.
#[derive(Debug, Clone, Copy)]
struct Context<'m> {
    escape: Escape,
    wildcard: &'static Wildcard,
    misses: &'m Misses,
}

/// An object of a [`CheckView`]. An open one answers unknown keys with its [`Wildcard`]; a strict
/// one records them as misses.
struct ObjectNode<'m> {
    /// Dotted path from the globals, empty for the globals themselves.
    path: String,
    fields: BTreeMap<String, Node<'m>>,
    open: bool,
    context: Context<'m>,
}

impl fmt::Debug for ObjectNode<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectNode")
            .field("path", &self.path)
            .field("fields", &self.fields)
            .field("open", &self.open)
            .finish()
    }
}

impl ObjectNode<'_> {
    fn miss(&self, key: &str) {
        // `size` falls back to the number of keys; `for` looks for an enclosing `forloop`
        // (`tablerow` for `tablerowloop`) before it sets its own. Neither is a miss.
        let name = if self.path.is_empty() {
            if matches!(key, "forloop" | "tablerowloop") {
                return;
            }
            key.to_string()
        } else if key == "size" {
            return;
        } else {
            format!("{}.{key}", self.path)
        };
        let mut misses = self.context.misses.borrow_mut();
        if !misses.contains(&name) {
            misses.push(name);
        }
    }
}

impl ValueView for ObjectNode<'_> {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(ObjectRender::new(self)))
    }
    fn source(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(ObjectSource::new(self)))
    }
    fn type_name(&self) -> &'static str {
        "object"
    }
    fn query_state(&self, state: State) -> bool {
        match state {
            State::Truthy => true,
            State::DefaultValue | State::Empty | State::Blank => {
                !self.open && self.fields.is_empty()
            }
        }
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        KStringCow::from_string(ObjectRender::new(self).to_string())
    }
    fn to_value(&self) -> Value {
        Value::Object(
            self.fields
                .iter()
                .map(|(k, v)| (k.clone().into(), v.to_value()))
                .collect(),
        )
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

impl ObjectView for ObjectNode<'_> {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        i64::try_from(self.fields.len()).unwrap_or(i64::MAX)
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        Box::new(self.fields.keys().map(|k| KStringCow::from(k.as_str())))
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(self.fields.values().map(Node::as_view))
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        Box::new(
            self.fields
                .iter()
                .map(|(k, v)| (KStringCow::from(k.as_str()), v.as_view())),
        )
    }
    fn contains_key(&self, index: &str) -> bool {
        let found = self.open || self.fields.contains_key(index);
        if !found {
            self.miss(index);
        }
        found
    }
    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        match self.fields.get(index) {
            Some(node) => Some(node.as_view()),
            None if self.open => Some(self.context.wildcard),
            None => {
                self.miss(index);
                None
            }
        }
    }
}

/// The placeholder an open namespace gives for a key the sample does not have (see
/// [`Placeholder`]). It is also an object whose every key is itself, so `event.a.b` works.
#[derive(Debug)]
struct Wildcard {
    /// [`Placeholder::Number`] when true, [`Placeholder::Nothing`] when false.
    number: bool,
}

static WILDCARD_NUMBER: Wildcard = Wildcard { number: true };
static WILDCARD_NOTHING: Wildcard = Wildcard { number: false };
static PLACEHOLDER_NUMBER: i64 = PLACEHOLDER;

impl ValueView for Wildcard {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        if self.number {
            DisplayCow::Borrowed(&PLACEHOLDER_NUMBER)
        } else {
            DisplayCow::Borrowed(&"")
        }
    }
    fn source(&self) -> DisplayCow<'_> {
        if self.number {
            DisplayCow::Borrowed(&PLACEHOLDER_NUMBER)
        } else {
            DisplayCow::Borrowed(&"nil")
        }
    }
    fn type_name(&self) -> &'static str {
        if self.number { "whole number" } else { "nil" }
    }
    fn query_state(&self, state: State) -> bool {
        // Truthy either way, so `{% if holding.x %}` renders its body and the names in it.
        matches!(state, State::Truthy)
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        if self.number {
            KStringCow::from_string(PLACEHOLDER.to_string())
        } else {
            KStringCow::from_static("")
        }
    }
    fn to_value(&self) -> Value {
        if self.number {
            Value::scalar(PLACEHOLDER)
        } else {
            Value::Nil
        }
    }
    fn as_scalar(&self) -> Option<ScalarCow<'_>> {
        self.number.then(|| ScalarCow::new(PLACEHOLDER))
    }
    fn is_nil(&self) -> bool {
        !self.number
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

impl ObjectView for Wildcard {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        0
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        Box::new(std::iter::empty())
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(std::iter::empty())
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        Box::new(std::iter::empty())
    }
    fn contains_key(&self, _index: &str) -> bool {
        true
    }
    fn get<'s>(&'s self, _index: &str) -> Option<&'s dyn ValueView> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_five_html_characters() {
        assert_eq!(
            escape_html(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape_html("Nguyễn Văn Minh"), "Nguyễn Văn Minh");
    }

    #[test]
    fn real_globals_fill_missing_customer_fields_with_null_and_omit_absent_namespaces() {
        let data = MergeData {
            customer: serde_json::json!({ "full_name": "<b>Minh</b>" }),
            ..MergeData::default()
        };
        let plain = globals(&data, Escape::None);
        let customer = plain
            .get("customer")
            .and_then(|c| c.as_object())
            .expect("customer");
        assert_eq!(customer.size(), CUSTOMER_FIELDS.len() as i64);
        assert!(customer.get("email").is_some_and(|v| v.is_nil()));
        assert!(!plain.contains_key("holding"));
        let html = globals(&data, Escape::Html);
        let name = html
            .get("customer")
            .and_then(|c| c.as_object())
            .and_then(|c| c.get("full_name"))
            .map(|v| v.to_kstr().to_string());
        assert_eq!(name.as_deref(), Some("&lt;b&gt;Minh&lt;/b&gt;"));
    }
}
