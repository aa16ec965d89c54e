//! Signed tokens for the public messaging routes: tracked links (`/t/{token}`) in SMS, ZNS and
//! push, and unsubscribe pages (`/u/{token}`). A token names the message (and the link's
//! position in it) and carries an HMAC-SHA256 tag over that, so it cannot be forged or pointed
//! elsewhere: the redirect target is read from the stored message, never from the token, so
//! there is no open redirect.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of the HMAC tag kept in a token (96 bits).
const TAG_BYTES: usize = 12;
/// Length of a message id.
const ID_LEN: usize = 26;

fn tag(secret: &[u8], purpose: &str, payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.update(b":");
    mac.update(payload.as_bytes());
    URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..TAG_BYTES])
}

fn verify(secret: &[u8], purpose: &str, payload: &str, given: &str) -> bool {
    let Ok(given) = URL_SAFE_NO_PAD.decode(given) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.update(b":");
    mac.update(payload.as_bytes());
    mac.verify_truncated_left(&given).is_ok() && given.len() == TAG_BYTES
}

/// The token of link `index` (0–255) of message `message_id`.
pub fn link_token(secret: &[u8], message_id: &str, index: usize) -> String {
    let payload = format!("{message_id}{index:02x}");
    let tag = tag(secret, "link", &payload);
    format!("{payload}{tag}")
}

/// The message id and link index a link token names, if its tag is right.
pub fn open_link_token(secret: &[u8], token: &str) -> Option<(String, usize)> {
    if token.len() <= ID_LEN + 2 || !token.is_ascii() {
        return None;
    }
    let (payload, given) = token.split_at(ID_LEN + 2);
    if !verify(secret, "link", payload, given) {
        return None;
    }
    let (id, index) = payload.split_at(ID_LEN);
    Some((id.to_owned(), usize::from_str_radix(index, 16).ok()?))
}

/// The unsubscribe token of message `message_id`.
pub fn unsubscribe_token(secret: &[u8], message_id: &str) -> String {
    format!("{message_id}{}", tag(secret, "unsubscribe", message_id))
}

/// The message id an unsubscribe token names, if its tag is right.
pub fn open_unsubscribe_token(secret: &[u8], token: &str) -> Option<String> {
    if token.len() <= ID_LEN || !token.is_ascii() {
        return None;
    }
    let (id, given) = token.split_at(ID_LEN);
    verify(secret, "unsubscribe", id, given).then(|| id.to_owned())
}

/// The token of the link confirming consents that an anonymous form asked for on behalf of
/// customer `customer_id` (request `request_id`, a ULID).
pub fn consent_token(secret: &[u8], customer_id: &str, request_id: &str) -> String {
    let payload = format!("{customer_id}{request_id}");
    format!("{payload}{}", tag(secret, "consent", &payload))
}

/// The customer and request a consent token names, if its tag is right.
pub fn open_consent_token(secret: &[u8], token: &str) -> Option<(String, String)> {
    if token.len() <= 2 * ID_LEN || !token.is_ascii() {
        return None;
    }
    let (payload, given) = token.split_at(2 * ID_LEN);
    if !verify(secret, "consent", payload, given) {
        return None;
    }
    let (customer, request) = payload.split_at(ID_LEN);
    Some((customer.to_owned(), request.to_owned()))
}

/// Most links rewritten in one message.
pub const MAX_LINKS: usize = 32;

/// Replaces every `http://` or `https://` URL in `text` with a tracked link under `base_url`,
/// appending the originals to `links` (their index is their position there). A URL ends at
/// whitespace; trailing punctuation (`.,;:!?)`) stays outside it.
pub fn rewrite(
    text: &str,
    base_url: &str,
    secret: &[u8],
    message_id: &str,
    links: &mut Vec<String>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_url(rest) {
        out.push_str(&rest[..start]);
        let candidate = &rest[start..];
        let end = candidate
            .find(char::is_whitespace)
            .unwrap_or(candidate.len());
        let mut url = &candidate[..end];
        while url.ends_with(['.', ',', ';', ':', '!', '?', ')']) {
            url = &url[..url.len() - 1];
        }
        if links.len() < MAX_LINKS && url.len() > "https://".len() {
            let index = links.len();
            links.push(url.to_owned());
            out.push_str(&format!(
                "{base_url}/t/{}",
                link_token(secret, message_id, index)
            ));
        } else {
            out.push_str(url);
        }
        rest = &candidate[url.len()..];
    }
    out.push_str(rest);
    out
}

fn find_url(text: &str) -> Option<usize> {
    match (text.find("https://"), text.find("http://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a-link-signing-secret-of-32-bytes!!";
    const ID: &str = "01KAQ3V2J5N8W6Y4X0Z9B7C1D3";

    #[test]
    fn link_tokens_round_trip_and_reject_tampering() {
        let token = link_token(SECRET, ID, 3);
        assert_eq!(open_link_token(SECRET, &token), Some((ID.to_owned(), 3)));
        let mut forged = token.clone().into_bytes();
        forged[ID.len() + 1] = b'4';
        assert_eq!(
            open_link_token(SECRET, std::str::from_utf8(&forged).unwrap()),
            None
        );
        assert_eq!(
            open_link_token(b"another-secret-of-at-least-32-byte", &token),
            None
        );
        assert_eq!(open_link_token(SECRET, "short"), None);
        assert_eq!(open_link_token(SECRET, &format!("{ID}03")), None);
    }

    #[test]
    fn unsubscribe_tokens_are_not_link_tokens() {
        let token = unsubscribe_token(SECRET, ID);
        assert_eq!(open_unsubscribe_token(SECRET, &token), Some(ID.to_owned()));
        assert_eq!(open_link_token(SECRET, &token), None);
        assert_eq!(
            open_unsubscribe_token(SECRET, &link_token(SECRET, ID, 0)),
            None
        );
    }

    #[test]
    fn consent_tokens_round_trip_and_are_no_other_token() {
        let request = "01KAQ3V2J5N8W6Y4X0Z9B7C1D4";
        let token = consent_token(SECRET, ID, request);
        assert_eq!(
            open_consent_token(SECRET, &token),
            Some((ID.to_owned(), request.to_owned()))
        );
        assert_eq!(
            open_consent_token(b"another-secret-of-at-least-32-byte", &token),
            None
        );
        assert_eq!(open_unsubscribe_token(SECRET, &token), None);
        let forged = token.replacen(ID, "01KAQ3V2J5N8W6Y4X0Z9B7C1D5", 1);
        assert_eq!(open_consent_token(SECRET, &forged), None);
    }

    #[test]
    fn urls_are_rewritten_in_order_and_punctuation_stays() {
        let mut links = Vec::new();
        let text = "Xem https://abc.vn/uu-dai?x=1. Hoặc http://abc.vn/b, cảm ơn";
        let out = rewrite(text, "https://n.vn", SECRET, ID, &mut links);
        assert_eq!(links, ["https://abc.vn/uu-dai?x=1", "http://abc.vn/b"]);
        assert!(out.starts_with("Xem https://n.vn/t/"));
        assert!(out.contains(". Hoặc https://n.vn/t/"));
        assert!(out.ends_with(", cảm ơn"));
        assert_eq!(
            rewrite("không có link", "x", SECRET, ID, &mut links),
            "không có link"
        );
    }
}
