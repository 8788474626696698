//! The CoNLL reader under proptest: arbitrary bytes, and CoNLL-like lines with odd columns,
//! tags, BOMs, invisible characters and invalid UTF-8. Whatever it reads is a round trip (the
//! sentences written back with `write_sentence` read as the same tokens and tags), every
//! sentence has as many tags as tokens, and an error names a line of the input and a kind
//! that is not I/O (the input is in memory).

use ner_core::conll::{write_sentence, ConllErrorKind, Reader, ReaderOptions, Sentence};
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

/// The sentences before the first error, checking each and the error.
fn read(bytes: &[u8], comments: bool) -> Result<Vec<Sentence>, TestCaseError> {
    let opts = ReaderOptions {
        comment_prefix: comments.then(|| "#".to_owned()),
        ..ReaderOptions::default()
    };
    let lines = bytes.split(|&b| b == b'\n').count();
    let mut out = Vec::new();
    for s in Reader::new(bytes, "fuzz", opts) {
        match s {
            Ok(s) => {
                prop_assert!(!s.tokens.is_empty());
                for tags in &s.tags {
                    prop_assert_eq!(tags.len(), s.tokens.len());
                }
                out.push(s);
            }
            Err(e) => {
                prop_assert!(
                    (1..=lines).contains(&e.line),
                    "line {} of {lines}: {e}",
                    e.line
                );
                prop_assert!(!matches!(e.kind, ConllErrorKind::Io(_)), "{e}");
                break;
            }
        }
    }
    Ok(out)
}

/// Writes the sentences back (after a blank line, so that no token opens the file, where a
/// byte-order mark would be dropped) and reads them again.
fn round_trip(sentences: &[Sentence]) -> Result<(), TestCaseError> {
    let mut out = b"\n".to_vec();
    for s in sentences {
        write_sentence(&mut out, &s.tokens, &[&s.raw_tags[0]]).unwrap();
    }
    let again: Vec<Sentence> = Reader::new(&out[..], "again", ReaderOptions::default())
        .collect::<Result<_, _>>()
        .map_err(|e| TestCaseError::fail(format!("written back, it does not read: {e}")))?;
    prop_assert_eq!(again.len(), sentences.len());
    for (a, s) in again.iter().zip(sentences) {
        prop_assert_eq!(&a.tokens, &s.tokens);
        prop_assert_eq!(&a.raw_tags, &s.raw_tags);
        prop_assert_eq!(&a.tags, &s.tags);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn conll_like_files_read_as_a_round_trip_or_a_located_error(bytes in file(), comments in any::<bool>()) {
        round_trip(&read(&bytes, comments)?)?;
    }

    #[test]
    fn arbitrary_bytes_read_as_a_round_trip_or_a_located_error(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        round_trip(&read(&bytes, false)?)?;
    }
}
