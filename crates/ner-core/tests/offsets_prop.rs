//! Property tests: on random Unicode, every token's offsets slice the original text to exactly
//! that token, in every unit, and nothing panics.

use ner_core::offsets::{bytes_to_unit, slice, OffsetUnit};
use ner_core::tokenize::{sentences, tokenize, Mode};
use proptest::prelude::*;

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z]{1,8}".prop_map(String::from),
        "[0-9]{1,4}([-.,:/][0-9]{1,3})?".prop_map(String::from),
        Just("U.S.".to_owned()),
        Just("don't".to_owned()),
        Just("'s".to_owned()),
        Just("👩\u{200D}👩\u{200D}👧".to_owned()),
        Just("❤\u{FE0F}".to_owned()),
        Just("👍🏽".to_owned()),
        Just("e\u{301}\u{302}".to_owned()),
        Just("\u{301}".to_owned()),
        Just("中文字".to_owned()),
        Just("ひらがなカタカナ한국어".to_owned()),
        Just("שלום עולם".to_owned()),
        Just("مرحبا".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\u{7}\u{1b}".to_owned()),
        Just("\u{200B}\u{FEFF}".to_owned()),
        Just("\r\n".to_owned()),
        Just("\n\n".to_owned()),
        Just("...".to_owned()),
        Just("«»—“”".to_owned()),
        "[ \t]{1,3}".prop_map(String::from),
        "[.,;:!?()'\"-]{1,3}".prop_map(String::from),
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(piece(), 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn offsets_slice_the_text_in_every_unit(text in text()) {
        for mode in [Mode::Word, Mode::Char] {
            let toks = tokenize(&text, mode);
            let mut last_end = 0;
            for t in &toks {
                prop_assert!(t.start < t.end, "empty token {:?}", t);
                prop_assert!(t.start >= last_end, "overlap or disorder at {:?}", t);
                prop_assert!(text.is_char_boundary(t.start) && text.is_char_boundary(t.end));
                prop_assert!(!text[t.clone()].chars().any(char::is_whitespace));
                last_end = t.end;
            }
            for unit in OffsetUnit::ALL {
                let mut offs: Vec<usize> = toks.iter().flat_map(|t| [t.start, t.end]).collect();
                bytes_to_unit(&text, &mut offs, unit);
                for (i, t) in toks.iter().enumerate() {
                    let got = slice(&text, offs[2 * i], offs[2 * i + 1], unit);
                    prop_assert_eq!(got, Some(&text[t.clone()]), "unit {:?}", unit);
                }
            }
            let sents = sentences(&text, &toks, 7);
            let mut next = 0;
            for s in &sents {
                prop_assert_eq!(s.start, next);
                prop_assert!(!s.is_empty() && s.len() <= 7);
                next = s.end;
            }
            prop_assert_eq!(next, toks.len());
        }
    }

    #[test]
    fn nothing_but_whitespace_is_lost(text in text()) {
        // Every non-separator character of the text is inside some token.
        let toks = tokenize(&text, Mode::Word);
        let mut covered = vec![false; text.len()];
        for t in &toks {
            for b in t.clone() {
                covered[b] = true;
            }
        }
        for (b, c) in text.char_indices() {
            let separator = c.is_whitespace() || (c.is_control() && c != '\u{200C}' && c != '\u{200D}');
            prop_assert!(covered[b] || separator, "{:?} at byte {} was dropped", c, b);
        }
    }
}
