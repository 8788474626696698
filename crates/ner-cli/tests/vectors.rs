//! `scripts/spacy-vectors.py` on a hand-made spaCy vocabulary: `vectors` (numpy), `key2row`
//! (msgpack) keyed by the hashes spaCy's documentation gives for "apple" and "coffee", so the
//! script's MurmurHash64A and readers are checked against spaCy itself. Runs `$NER_PYTHON`
//! (or `python3`) with numpy, which scripts/test.sh installs.

use std::path::Path;
use std::process::Command;

/// spaCy's `nlp.vocab.strings["apple"]` and `["coffee"]`, as its documentation prints them.
const APPLE: u64 = 8566208034543834098;
const COFFEE: u64 = 3197928453018144401;

const ROWS: [[f32; 4]; 3] = [
    [0.5, -1.0, 2.0, 0.25],
    [9.0, 9.0, 9.0, 9.0],
    [1.5, 0.0, -0.5, 3.0],
];

/// A numpy `.npy` file of `ROWS` (format 1.0, little-endian f32, C order).
fn npy() -> Vec<u8> {
    let mut header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }".to_owned();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(ROWS.iter().flatten().flat_map(|x| x.to_le_bytes()));
    out
}

/// msgpack `{APPLE: 0, COFFEE: 2}` as spaCy writes key2row.
fn key2row() -> Vec<u8> {
    let mut out = vec![0x82];
    for (key, row) in [(APPLE, 0u8), (COFFEE, 2)] {
        out.push(0xcf);
        out.extend(key.to_be_bytes());
        out.push(row);
    }
    out
}

fn convert(dir: &Path, extra: &[&str]) -> Vec<(String, Vec<f64>)> {
    let vocab = dir.join("vocab");
    std::fs::create_dir_all(&vocab).unwrap();
    std::fs::write(vocab.join("vectors"), npy()).unwrap();
    std::fs::write(vocab.join("key2row"), key2row()).unwrap();
    let words = dir.join("words.conll");
    let corpus = "-DOCSTART- O\n\napple O\nCoffee B-MISC\npear O\napple O\n";
    std::fs::write(&words, corpus).unwrap();
    let out = dir.join("out.txt");
    let py = std::env::var("NER_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/spacy-vectors.py");
    let run = Command::new(&py)
        .arg(script)
        .args([
            vocab.as_os_str(),
            out.as_os_str(),
            "--words".as_ref(),
            words.as_os_str(),
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{py} scripts/spacy-vectors.py failed (it needs numpy: `{py} -m pip install numpy`, which scripts/test.sh runs): {}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            let mut f = l.split(' ');
            let word = f.next().unwrap().to_owned();
            (word, f.map(|x| x.parse().unwrap()).collect())
        })
        .collect()
}

#[test]
fn words_get_their_rows_by_spacys_hashes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let got = convert(dir.path(), &["--sd", "0"]);
    // "Coffee" is found lower-cased; "pear" has no vector; "apple" is written once.
    let want = vec![
        ("apple".to_owned(), ROWS[0].map(f64::from).to_vec()),
        ("Coffee".to_owned(), ROWS[2].map(f64::from).to_vec()),
    ];
    assert_eq!(got, want);
    let text = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
    assert_eq!(text, "apple 0.5 -1 2 0.25\nCoffee 1.5 0 -0.5 3\n");
}

#[test]
fn vectors_are_rescaled_to_the_asked_spread_and_projected() {
    let dir = tempfile::tempdir().unwrap();
    let got = convert(dir.path(), &["--sd", "0.1"]);
    // The mean over dimensions of the per-dimension standard deviation of the written rows.
    let sd = |rows: &[Vec<f64>]| {
        let dims = rows[0].len();
        (0..dims)
            .map(|d| {
                let mean = rows.iter().map(|r| r[d]).sum::<f64>() / rows.len() as f64;
                let var = rows.iter().map(|r| (r[d] - mean).powi(2)).sum::<f64>();
                (var / rows.len() as f64).sqrt()
            })
            .sum::<f64>()
            / dims as f64
    };
    let rows: Vec<Vec<f64>> = got.iter().map(|(_, v)| v.clone()).collect();
    assert!((sd(&rows) - 0.1).abs() < 1e-5, "{rows:?}");
    let scale = rows[0][0] / 0.5;
    for (r, want) in rows.iter().zip([ROWS[0], ROWS[2]]) {
        for (x, w) in r.iter().zip(want) {
            assert!((x - scale * f64::from(w)).abs() < 1e-5, "{rows:?}");
        }
    }
    let projected = convert(dir.path(), &["--dim", "2", "--sd", "0"]);
    assert!(projected.iter().all(|(_, v)| v.len() == 2), "{projected:?}");
}
