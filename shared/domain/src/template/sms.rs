//! SMS text as carriers see it: which encoding a text needs, how many segments it is billed as,
//! and the unaccented form offered for brandname SMS. Accented Vietnamese is outside the GSM
//! alphabet, so it goes out as UCS-2 at 70 characters a segment instead of 160.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The GSM 03.38 default alphabet, one septet each (the escape code itself is not a character).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                          ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The GSM 03.38 extension table: each is sent as escape + character, two septets.
const GSM7_EXTENSION: &str = "\u{0C}^{}\\[~]|€";

/// Septets a single-segment GSM-7 message may hold.
const GSM7_SINGLE: usize = 160;
/// Septets per segment of a concatenated GSM-7 message (the rest carries the UDH).
const GSM7_PART: usize = 153;
/// UTF-16 units a single-segment UCS-2 message may hold.
const UCS2_SINGLE: usize = 70;
/// UTF-16 units per segment of a concatenated UCS-2 message.
const UCS2_PART: usize = 67;

/// How an SMS is encoded on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsEncoding {
    /// The GSM 03.38 7-bit default alphabet (unaccented text).
    Gsm7,
    /// UCS-2 (UTF-16): anything outside the GSM alphabet, such as accented Vietnamese.
    Ucs2,
}

/// The encoding and size of an SMS, as carriers count and bill it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsSegments {
    /// The encoding the text needs.
    pub encoding: SmsEncoding,
    /// Septets for GSM-7 (extension characters count 2), UTF-16 units for UCS-2.
    pub characters: usize,
    /// Segments billed; 0 for an empty text.
    pub segments: usize,
}

/// The GSM 03.38 septets `c` takes, or `None` when it is outside the alphabet.
fn gsm7_septets(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The encoding and segment count of `text`. GSM 03.38 default alphabet (extension-table
/// characters such as `€`, `{`, `[` count as 2 septets): up to 160 septets is 1 segment, more is
/// `ceil(n / 153)`. Anything outside it (accented Vietnamese, `₫`, emoji) makes the whole text
/// UCS-2, counted in UTF-16 units: up to 70 is 1 segment, more is `ceil(n / 67)`. Empty text is
/// 0 segments.
pub fn sms_segments(text: &str) -> SmsSegments {
    let septets: Option<usize> = text.chars().map(gsm7_septets).sum();
    let (encoding, characters, single, part) = match septets {
        Some(n) => (SmsEncoding::Gsm7, n, GSM7_SINGLE, GSM7_PART),
        None => (
            SmsEncoding::Ucs2,
            text.encode_utf16().count(),
            UCS2_SINGLE,
            UCS2_PART,
        ),
    };
    let segments = match characters {
        0 => 0,
        n if n <= single => 1,
        n => n.div_ceil(part),
    };
    SmsSegments {
        encoding,
        characters,
        segments,
    }
}

/// Removes Vietnamese diacritics keeping case and spacing: "Đặng Thị Ánh" → "Dang Thi Anh".
/// Decomposes (NFD), drops the combining marks, maps `đ`/`Đ` to `d`/`D` by hand (they are
/// letters of their own, not a `d` with a mark) and the đồng sign `₫` to `VND`, so that an
/// unaccented brandname SMS fits the GSM alphabet. The output is NFC.
pub fn unaccent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfd().filter(|c| !is_combining_mark(*c)) {
        match c {
            'đ' => out.push('d'),
            'Đ' => out.push('D'),
            '₫' => out.push_str("VND"),
            c => out.push(c),
        }
    }
    out.nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seg(encoding: SmsEncoding, characters: usize, segments: usize) -> SmsSegments {
        SmsSegments {
            encoding,
            characters,
            segments,
        }
    }

    #[test]
    fn the_gsm_tables_have_their_standard_sizes() {
        // 128 code points less the escape code; 10 extension characters.
        assert_eq!(GSM7_BASIC.chars().count(), 127);
        assert_eq!(GSM7_EXTENSION.chars().count(), 10);
    }

    #[test]
    fn gsm7_boundaries() {
        use SmsEncoding::Gsm7;
        assert_eq!(sms_segments(""), seg(Gsm7, 0, 0));
        assert_eq!(sms_segments("a"), seg(Gsm7, 1, 1));
        assert_eq!(sms_segments(&"a".repeat(160)), seg(Gsm7, 160, 1));
        assert_eq!(sms_segments(&"a".repeat(161)), seg(Gsm7, 161, 2));
        assert_eq!(sms_segments(&"a".repeat(306)), seg(Gsm7, 306, 2));
        assert_eq!(sms_segments(&"a".repeat(307)), seg(Gsm7, 307, 3));
        // Accents in the GSM alphabet stay GSM-7.
        assert_eq!(sms_segments("é à ü Ñ £ @"), seg(Gsm7, 11, 1));
    }

    #[test]
    fn extension_characters_count_two_septets() {
        use SmsEncoding::Gsm7;
        assert_eq!(sms_segments("€"), seg(Gsm7, 2, 1));
        assert_eq!(sms_segments("{}"), seg(Gsm7, 4, 1));
        // 159 + one extension character = 161 septets: two segments.
        let text = format!("{}€", "a".repeat(159));
        assert_eq!(sms_segments(&text), seg(Gsm7, 161, 2));
        let text = format!("{}[", "a".repeat(158));
        assert_eq!(sms_segments(&text), seg(Gsm7, 160, 1));
    }

    #[test]
    fn ucs2_boundaries() {
        use SmsEncoding::Ucs2;
        assert_eq!(sms_segments(&"ă".repeat(70)), seg(Ucs2, 70, 1));
        assert_eq!(sms_segments(&"ă".repeat(71)), seg(Ucs2, 71, 2));
        assert_eq!(sms_segments(&"ă".repeat(134)), seg(Ucs2, 134, 2));
        assert_eq!(sms_segments(&"ă".repeat(135)), seg(Ucs2, 135, 3));
        // One Vietnamese letter turns the whole message into UCS-2.
        let text = format!("{}ệ", "a".repeat(69));
        assert_eq!(sms_segments(&text), seg(Ucs2, 70, 1));
        // The đồng sign is outside the GSM alphabet.
        assert_eq!(sms_segments("1.000 ₫").encoding, Ucs2);
        // Characters outside the BMP take two UTF-16 units.
        assert_eq!(sms_segments("😀"), seg(Ucs2, 2, 1));
    }

    #[test]
    fn unaccent_strips_vietnamese_diacritics_keeping_case() {
        assert_eq!(unaccent("Đặng Thị Ánh"), "Dang Thi Anh");
        assert_eq!(
            unaccent("Nguyễn Văn Minh, kỳ 7/24: 3.250.000 ₫"),
            "Nguyen Van Minh, ky 7/24: 3.250.000 VND"
        );
        assert_eq!(unaccent("ĂÂÊÔƠƯ ăâêôơư ỳýỷỹỵ đĐ"), "AAEOOU aaeoou yyyyy dD");
        // Decomposed input (NFD) gives the same result.
        assert_eq!(unaccent("Nguye\u{302}\u{303}n"), "Nguyen");
        assert_eq!(unaccent("Hello {name} €"), "Hello {name} €");
        assert_eq!(unaccent(""), "");
    }

    proptest! {
        #[test]
        fn unaccented_vietnamese_is_gsm7(s in "[ a-zA-Z0-9.,:/àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵĐÂĂÊÔƠƯ₫]{0,200}") {
            let plain = unaccent(&s);
            prop_assert!(plain.is_ascii(), "{}", plain);
            let segments = sms_segments(&plain);
            prop_assert_eq!(segments.encoding, SmsEncoding::Gsm7);
            prop_assert_eq!(unaccent(&plain), plain.clone());
        }

        #[test]
        fn segments_hold_every_character(s in any::<String>()) {
            let SmsSegments { encoding, characters, segments } = sms_segments(&s);
            let (single, part) = match encoding {
                SmsEncoding::Gsm7 => (GSM7_SINGLE, GSM7_PART),
                SmsEncoding::Ucs2 => (UCS2_SINGLE, UCS2_PART),
            };
            prop_assert_eq!(characters == 0, segments == 0);
            if segments == 1 {
                prop_assert!(characters <= single);
            } else if segments > 1 {
                prop_assert!(characters > single);
                prop_assert!(characters <= segments * part);
                prop_assert!(characters > (segments - 1) * part);
            }
        }
    }
}
