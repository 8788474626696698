//! Fuzzing the CoNLL reader with proptest: arbitrary bytes, and CoNLL-like lines with odd
//! columns, tags, BOMs, invisible characters and invalid UTF-8, give sentences or an error,
//! never a panic; a sentence that is read has as many tags as tokens in every tag column.

use ner_core::conll::{Reader, ReaderOptions};
use proptest::prelude::*;

fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"EU NNP B-NP B-ORG".to_vec()),
        Just(b"rejects VBZ B-VP O".to_vec()),
        Just(b"-DOCSTART- -X- -X- O".to_vec()),
        Just(b"X B-PER".to_vec()),
        Just(b"Y I-LOC".to_vec()),
        Just(b"Z E-MISC".to_vec()),
        Just(b"W S-ORG".to_vec()),
        Just(b"V Q-XX".to_vec()),
        Just(b"U B-".to_vec()),
        Just("\u{FEFF}".as_bytes().to_vec()),
        Just("\u{200B} \u{2060}".as_bytes().to_vec()),
        Just(b"".to_vec()),
        Just(b"   \t".to_vec()),
        Just(b"\xEF\xBB\xBFa O".to_vec()),
        Just(b"\xff\xfe O".to_vec()),
        Just(b"# comment".to_vec()),
        "[a-z]{1,5}( [A-Z]{1,3}){0,4}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..20),
    ]
}

fn file() -> impl Strategy<Value = Vec<u8>> {
    (proptest::collection::vec(line(), 0..30), any::<bool>())
        .prop_map(|(lines, crlf)| lines.join(if crlf { &b"\r\n"[..] } else { &b"\n"[..] }))
}

fn read(bytes: &[u8], comments: bool) {
    let opts = ReaderOptions {
        comment_prefix: comments.then(|| "#".to_owned()),
        ..ReaderOptions::default()
    };
    for s in Reader::new(bytes, "fuzz", opts) {
        let Ok(s) = s else { break };
        for tags in &s.tags {
            assert_eq!(tags.len(), s.tokens.len());
        }
        assert!(!s.tokens.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn the_reader_never_panics_on_conll_like_files(bytes in file(), comments in any::<bool>()) {
        read(&bytes, comments);
    }

    #[test]
    fn the_reader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        read(&bytes, false);
    }
}
