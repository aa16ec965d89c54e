//! Payment card numbers. Card data is sensitive under Decree 356/2025: Nhịp keeps at most the
//! last four digits of a card, and refuses any text that looks like a full card number (PAN).

/// Whether `digits` (ASCII digits only) passes the Luhn check.
pub fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether `text` holds something that looks like a full card number (PAN): a run of 13–19
/// digits, possibly grouped by single spaces or hyphens, that passes the Luhn check. Card
/// data is sensitive under Decree 356/2025; only the last four digits may be kept.
pub fn looks_like_card_number(text: &str) -> bool {
    let is_pan = |digits: &str| (13..=19).contains(&digits.len()) && luhn(digits);
    let mut digits = String::new();
    let mut after_separator = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            after_separator = false;
        } else if (c == ' ' || c == '-') && !digits.is_empty() && !after_separator {
            after_separator = true;
        } else {
            if is_pan(&digits) {
                return true;
            }
            digits.clear();
            after_separator = false;
        }
    }
    is_pan(&digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_card_numbers_are_recognised_and_last_digits_are_not() {
        for pan in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "thẻ 5500 0000 0000 0004 của khách",
            "378282246310005",
        ] {
            assert!(looks_like_card_number(pan), "{pan}");
        }
        for other in [
            "1111",
            "4111111111111112",
            "0912345678",
            "HĐ-2026-000123",
            "4111  1111 1111 1111",
        ] {
            assert!(!looks_like_card_number(other), "{other}");
        }
        assert!(luhn("79927398713"));
        assert!(!luhn("79927398710"));
    }
}
