//! Unicode facts the readers and the tokeniser need without a table crate.

/// Whether `c` is an invisible format character (general category Cf: the byte-order mark,
/// zero-width space, joiner and non-joiner, bidirectional controls, soft hyphen, tag
/// characters, ...), per Unicode 15.1.
pub fn is_format(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// Whether a line shows nothing to a reader: only whitespace and format characters.
pub fn is_blank(line: &str) -> bool {
    line.chars().all(|c| c.is_whitespace() || is_format(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_lines_are_blank_and_visible_ones_are_not() {
        for blank in [
            "",
            "  \t",
            "\u{FEFF}",
            " \u{200B}\u{200D} ",
            "\u{2060}\u{00AD}",
        ] {
            assert!(is_blank(blank), "{blank:?}");
        }
        for text in ["a", "\u{FEFF}x", "中", "-", "\u{0301}"] {
            assert!(!is_blank(text), "{text:?}");
        }
    }
}
