//! Offsets in three units: Unicode scalar values (`char`, Python's string indices, the
//! default), UTF-8 bytes (Rust, Go) and UTF-16 code units (JavaScript, Java).
//!
//! Everything inside the project works in bytes; conversion happens once, at the edge.

use serde::{Deserialize, Serialize};

/// The unit of `start` and `end`: Unicode scalar values (Python's string indices), UTF-8
/// bytes, or UTF-16 code units (JavaScript's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum OffsetUnit {
    #[default]
    /// Unicode scalar values (Python's string indices).
    Char,
    /// UTF-8 bytes.
    Byte,
    /// UTF-16 code units (JavaScript's string indices).
    Utf16,
}

impl OffsetUnit {
    /// Every unit.
    pub const ALL: [OffsetUnit; 3] = [OffsetUnit::Char, OffsetUnit::Byte, OffsetUnit::Utf16];

    fn width(self, c: char) -> usize {
        match self {
            OffsetUnit::Char => 1,
            OffsetUnit::Byte => c.len_utf8(),
            OffsetUnit::Utf16 => c.len_utf16(),
        }
    }
}

/// Converts byte offsets (each on a character boundary of `text`) to `unit`, in place, with a
/// single pass over the text whatever their order.
pub fn bytes_to_unit(text: &str, offsets: &mut [usize], unit: OffsetUnit) {
    if unit == OffsetUnit::Byte || offsets.is_empty() {
        return;
    }
    let mut order: Vec<usize> = (0..offsets.len()).collect();
    order.sort_by_key(|&i| offsets[i]);
    let mut converted = vec![0usize; offsets.len()];
    let mut next = 0;
    let mut pos = 0usize;
    for (b, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), '\0')))
    {
        while next < order.len() && offsets[order[next]] <= b {
            converted[order[next]] = pos;
            next += 1;
        }
        if next == order.len() {
            break;
        }
        pos += unit.width(c);
    }
    for i in order[next..].iter().copied() {
        converted[i] = pos;
    }
    offsets.copy_from_slice(&converted);
}

/// The byte offset of `offset` given in `unit`, or `None` when it is past the end or inside a
/// character.
pub fn unit_to_byte(text: &str, offset: usize, unit: OffsetUnit) -> Option<usize> {
    if unit == OffsetUnit::Byte {
        return text.is_char_boundary(offset).then_some(offset);
    }
    let mut pos = 0;
    for (b, c) in text.char_indices() {
        if pos == offset {
            return Some(b);
        }
        if pos > offset {
            return None;
        }
        pos += unit.width(c);
    }
    (pos == offset).then_some(text.len())
}

/// The text between two offsets given in `unit`.
pub fn slice(text: &str, start: usize, end: usize, unit: OffsetUnit) -> Option<&str> {
    let (s, e) = (
        unit_to_byte(text, start, unit)?,
        unit_to_byte(text, end, unit)?,
    );
    text.get(s..e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_known_cases() {
        let text = "a😀é中b";
        // bytes: a=0, 😀=1..5, é=5..7, 中=7..10, b=10..11
        let bytes = [0, 1, 5, 7, 10, 11];
        let mut c = bytes;
        bytes_to_unit(text, &mut c, OffsetUnit::Char);
        assert_eq!(c, [0, 1, 2, 3, 4, 5]);
        let mut u = bytes;
        bytes_to_unit(text, &mut u, OffsetUnit::Utf16);
        assert_eq!(u, [0, 1, 3, 4, 5, 6]);
        let mut unordered = [10, 1, 11, 0];
        bytes_to_unit(text, &mut unordered, OffsetUnit::Char);
        assert_eq!(unordered, [4, 1, 5, 0]);
        assert_eq!(slice(text, 1, 3, OffsetUnit::Utf16), Some("😀"));
        assert_eq!(slice(text, 2, 3, OffsetUnit::Utf16), None);
        assert_eq!(slice(text, 3, 4, OffsetUnit::Char), Some("中"));
    }
}
