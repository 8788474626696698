//! Tag schemes (IOB1, BIO, BIOES, BMES), typed tags, chunk decoding and conversion.
//!
//! Every scheme is read into one typed form, [`Tag`]: a [`Prefix`] and, unless the tag is `O`,
//! a label. BMES's `M` is BIOES's `I`, and BILOU's `L`/`U` are read as `E`/`S`, so one decoder
//! serves all of them. Decoding follows conlleval's chunk rules (as extended by seqeval to `S`),
//! which also say what an ill-formed sequence such as `O I-PER` or `B-PER I-LOC` means.
//! Converting between schemes is decoding to [`Span`]s and encoding them again, which is lossless
//! for every well-formed sequence.

use crate::label::{LabelId, LabelSet};
use crate::span::Span;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The part of a tag before the hyphen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prefix {
    /// Outside any entity.
    O,
    /// The beginning of an entity.
    B,
    /// Inside; written `M` in BMES.
    I,
    /// End; `L` in BILOU.
    E,
    /// Single-token entity; `U` in BILOU.
    S,
}

impl Prefix {
    fn parse(c: &str) -> Option<Self> {
        Some(match c {
            "B" => Prefix::B,
            "I" | "M" => Prefix::I,
            "E" | "L" => Prefix::E,
            "S" | "U" => Prefix::S,
            _ => return None,
        })
    }
}

/// A tag with a typed label: `O` has none, every other prefix has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag<L = LabelId> {
    /// The position in the entity.
    pub prefix: Prefix,
    /// The entity type (`None` for `O`).
    pub label: Option<L>,
}

impl<L> Tag<L> {
    /// The outside tag.
    pub const O: Tag<L> = Tag {
        prefix: Prefix::O,
        label: None,
    };

    /// A tag of `label` at `prefix`.
    pub fn new(prefix: Prefix, label: L) -> Self {
        Tag {
            prefix,
            label: Some(label),
        }
    }

    /// Whether it is `O`.
    pub fn is_outside(&self) -> bool {
        self.prefix == Prefix::O
    }
}

/// Why a tag string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("tag {0:?} has an unknown prefix: expected O or B-, I-, E-, S-, M- (also L-, U-) followed by a type")]
    /// A prefix that is not one of the scheme's.
    UnknownPrefix(String),
    #[error("tag {0:?} has no type after its prefix")]
    /// An entity tag without its type.
    MissingType(String),
}

/// Splits `B-PER` into its prefix and type name. `O` gives `(O, "")`.
pub fn parse_tag(tag: &str) -> Result<(Prefix, &str), TagError> {
    if tag == "O" {
        return Ok((Prefix::O, ""));
    }
    let (p, ty) = tag
        .split_once('-')
        .ok_or_else(|| TagError::UnknownPrefix(tag.to_owned()))?;
    let prefix = Prefix::parse(p).ok_or_else(|| TagError::UnknownPrefix(tag.to_owned()))?;
    if ty.is_empty() {
        return Err(TagError::MissingType(tag.to_owned()));
    }
    Ok((prefix, ty))
}

/// The tag schemes a corpus can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum TagScheme {
    /// `I-` everywhere; `B-` only between two adjacent entities of the same type.
    Iob1,
    /// Also called IOB2: every entity starts with `B-`.
    #[serde(alias = "iob2")]
    #[cfg_attr(feature = "clap", value(alias = "iob2"))]
    Bio,
    /// Also called IOBES: `S-` for single tokens, `E-` for the last token.
    #[serde(alias = "iobes", alias = "bilou")]
    #[cfg_attr(feature = "clap", value(alias = "iobes", alias = "bilou"))]
    Bioes,
    /// BIOES with `M-` for inside tokens, as Chinese corpora write it.
    Bmes,
}

impl TagScheme {
    /// Every scheme.
    pub const ALL: [TagScheme; 4] = [
        TagScheme::Iob1,
        TagScheme::Bio,
        TagScheme::Bioes,
        TagScheme::Bmes,
    ];

    /// The scheme's name, as flags and files spell it.
    pub fn name(self) -> &'static str {
        match self {
            TagScheme::Iob1 => "iob1",
            TagScheme::Bio => "bio",
            TagScheme::Bioes => "bioes",
            TagScheme::Bmes => "bmes",
        }
    }

    /// The prefixes a tag inventory of this scheme uses besides `O`, in model order.
    pub fn prefixes(self) -> &'static [Prefix] {
        match self {
            TagScheme::Iob1 | TagScheme::Bio => &[Prefix::B, Prefix::I],
            TagScheme::Bioes | TagScheme::Bmes => &[Prefix::B, Prefix::I, Prefix::E, Prefix::S],
        }
    }

    /// Writes a tag in this scheme's letters.
    pub fn render<L>(self, tag: Tag<L>, name: impl Fn(&L) -> String) -> String {
        let Some(label) = tag.label.as_ref() else {
            return "O".to_owned();
        };
        let p = match (tag.prefix, self) {
            (Prefix::O, _) => return "O".to_owned(),
            (Prefix::B, _) => 'B',
            (Prefix::I, TagScheme::Bmes) => 'M',
            (Prefix::I, _) => 'I',
            (Prefix::E, _) => 'E',
            (Prefix::S, _) => 'S',
        };
        format!("{p}-{}", name(label))
    }
}

impl fmt::Display for TagScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Accumulates evidence about the scheme of a corpus, one sentence at a time.
#[derive(Debug, Default, Clone)]
pub struct SchemeDetector {
    saw_m: bool,
    saw_es: bool,
    saw_i_start: bool,
    saw_any: bool,
}

impl SchemeDetector {
    /// Feeds the raw tag strings of one sentence (they must parse; others are ignored).
    pub fn observe<'a>(&mut self, tags: impl IntoIterator<Item = &'a str>) {
        let mut prev: (Prefix, &str) = (Prefix::O, "");
        for t in tags {
            let Ok((p, ty)) = parse_tag(t) else { continue };
            self.saw_m |= t.starts_with("M-");
            self.step(prev, (p, ty));
            prev = (p, ty);
        }
    }

    /// Feeds one sentence of typed tags; `written_m` says whether any was written `M-`
    /// (BMES's spelling of `I`, which the typed form does not keep).
    pub fn observe_typed<L: PartialEq + Copy>(&mut self, tags: &[Tag<L>], written_m: bool) {
        self.saw_m |= written_m;
        let mut prev = (Prefix::O, None);
        for t in tags {
            self.step(prev, (t.prefix, t.label));
            prev = (t.prefix, t.label);
        }
    }

    fn step<L: PartialEq>(&mut self, prev: (Prefix, L), cur: (Prefix, L)) {
        let p = cur.0;
        self.saw_any |= p != Prefix::O;
        self.saw_es |= matches!(p, Prefix::E | Prefix::S);
        if p == Prefix::I && !(matches!(prev.0, Prefix::B | Prefix::I) && prev.1 == cur.1) {
            self.saw_i_start = true;
        }
    }

    /// The scheme the evidence points to. Files with no entity at all read as BIO.
    pub fn scheme(&self) -> TagScheme {
        if self.saw_m {
            TagScheme::Bmes
        } else if self.saw_es {
            TagScheme::Bioes
        } else if self.saw_i_start {
            TagScheme::Iob1
        } else {
            TagScheme::Bio
        }
    }
}

/// Detects the scheme of whole sentences of tag strings.
pub fn detect_scheme<'a, S>(sentences: impl IntoIterator<Item = S>) -> TagScheme
where
    S: IntoIterator<Item = &'a str>,
{
    let mut d = SchemeDetector::default();
    for s in sentences {
        d.observe(s);
    }
    d.scheme()
}

fn end_of_chunk<L: PartialEq>(prev: &Tag<L>, cur: &Tag<L>) -> bool {
    use Prefix::*;
    match (prev.prefix, cur.prefix) {
        (O, _) => false,
        (E | S, _) => true,
        (B | I, B | S | O) => true,
        _ => prev.label != cur.label,
    }
}

fn start_of_chunk<L: PartialEq>(prev: &Tag<L>, cur: &Tag<L>) -> bool {
    use Prefix::*;
    match (prev.prefix, cur.prefix) {
        (_, O) => false,
        (_, B | S) => true,
        (E | S | O, I | E) => true,
        _ => prev.label != cur.label,
    }
}

/// Decodes a tag sequence into spans over token positions, by conlleval's rules.
///
/// Works for every scheme and for ill-formed sequences: `O I-PER` starts a `PER` entity,
/// `B-PER I-LOC` is a `PER` entity followed by a `LOC` one.
pub fn decode_spans<L: PartialEq + Clone>(tags: &[Tag<L>]) -> Vec<Span<L>> {
    let mut spans = Vec::new();
    let mut prev: Tag<L> = Tag::O;
    let mut begin = 0;
    for (i, cur) in tags.iter().chain(std::iter::once(&Tag::O)).enumerate() {
        if end_of_chunk(&prev, cur) {
            if let Some(label) = prev.label.clone() {
                spans.push(Span::new_unchecked(begin, i, label));
            }
        }
        if start_of_chunk(&prev, cur) {
            begin = i;
        }
        prev = cur.clone();
    }
    spans
}

/// Encodes non-overlapping spans, sorted by start, as tags of `scheme` for `len` tokens.
pub fn encode_spans<L: Clone + PartialEq>(
    spans: &[Span<L>],
    len: usize,
    scheme: TagScheme,
) -> Vec<Tag<L>> {
    let mut tags: Vec<Tag<L>> = vec![Tag::O; len];
    let mut prev_end: Option<(usize, &L)> = None;
    for span in spans {
        let (s, e, l) = (span.start(), span.end().min(len), span.label());
        if s >= e {
            continue;
        }
        for t in &mut tags[s..e] {
            *t = Tag::new(Prefix::I, l.clone());
        }
        match scheme {
            TagScheme::Iob1 => {
                if prev_end.is_some_and(|(pe, pl)| pe == s && pl == l) {
                    tags[s].prefix = Prefix::B;
                }
            }
            TagScheme::Bio => tags[s].prefix = Prefix::B,
            TagScheme::Bioes | TagScheme::Bmes => {
                if e - s == 1 {
                    tags[s].prefix = Prefix::S;
                } else {
                    tags[s].prefix = Prefix::B;
                    tags[e - 1].prefix = Prefix::E;
                }
            }
        }
        prev_end = Some((e, l));
    }
    tags
}

/// Converts a tag sequence from any scheme to `to` (decode, then encode).
pub fn convert<L: Clone + PartialEq>(tags: &[Tag<L>], to: TagScheme) -> Vec<Tag<L>> {
    encode_spans(&decode_spans(tags), tags.len(), to)
}

/// Reads tag strings into typed tags, interning labels into `labels`. A label a frozen set
/// does not know is returned as `Err` with its name.
pub fn intern_tags(tags: &[&str], labels: &mut LabelSet) -> Result<Vec<Tag>, InternError> {
    tags.iter()
        .map(|t| {
            let (p, ty) = parse_tag(t).map_err(InternError::Tag)?;
            if p == Prefix::O {
                return Ok(Tag::O);
            }
            labels
                .intern(ty)
                .map(|id| Tag::new(p, id))
                .ok_or_else(|| InternError::UnknownLabel(ty.to_owned()))
        })
        .collect()
}

/// Why [`intern_tags`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InternError {
    #[error(transparent)]
    /// A tag that cannot be read.
    Tag(TagError),
    #[error("label {0:?} is not in the model's label set")]
    /// A label that is not in the set.
    UnknownLabel(String),
}

/// The tag inventory of a model: `O` plus every prefix of its scheme for every label, numbered
/// `0 = O`, then label by label in the scheme's prefix order. Frozen with its label set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagSet {
    scheme: TagScheme,
    labels: LabelSet,
}

impl TagSet {
    /// A tag set of `scheme` (BIO or BIOES; IOB1 is stored as BIO and BMES as BIOES).
    pub fn new(scheme: TagScheme, labels: LabelSet) -> Self {
        let scheme = match scheme {
            TagScheme::Iob1 | TagScheme::Bio => TagScheme::Bio,
            TagScheme::Bioes | TagScheme::Bmes => TagScheme::Bioes,
        };
        let mut labels = labels;
        labels.freeze();
        TagSet { scheme, labels }
    }

    /// The scheme.
    pub fn scheme(&self) -> TagScheme {
        self.scheme
    }

    /// The entity labels.
    pub fn labels(&self) -> &LabelSet {
        &self.labels
    }

    /// Tags in the set.
    pub fn len(&self) -> usize {
        1 + self.labels.len() * self.scheme.prefixes().len()
    }

    /// Whether the set has no tag.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The index of a tag; tags with a prefix the scheme lacks are first converted by the
    /// caller (see [`convert`]), so they have none here.
    pub fn index(&self, tag: Tag) -> Option<usize> {
        let Some(label) = tag.label else {
            return Some(0);
        };
        if label.0 as usize >= self.labels.len() {
            return None;
        }
        let pos = self
            .scheme
            .prefixes()
            .iter()
            .position(|&p| p == tag.prefix)?;
        Some(1 + label.0 as usize * self.scheme.prefixes().len() + pos)
    }

    /// The tag at `index` (must be `< len()`).
    pub fn tag(&self, index: usize) -> Tag {
        if index == 0 {
            return Tag::O;
        }
        let n = self.scheme.prefixes().len();
        let label = LabelId(((index - 1) / n) as u16);
        Tag::new(self.scheme.prefixes()[(index - 1) % n], label)
    }

    /// The tag's name in the model's scheme, such as `B-PER`.
    pub fn name(&self, index: usize) -> String {
        self.scheme
            .render(self.tag(index), |l| self.labels.name(*l).to_owned())
    }

    /// Whether the scheme allows `to` right after `from`.
    pub fn allowed(&self, from: usize, to: usize) -> bool {
        let (a, b) = (self.tag(from), self.tag(to));
        use Prefix::*;
        match self.scheme {
            TagScheme::Bioes | TagScheme::Bmes => match (a.prefix, b.prefix) {
                (O | E | S, O | B | S) => true,
                (B | I, I | E) => a.label == b.label,
                _ => false,
            },
            _ => match (a.prefix, b.prefix) {
                (_, O | B) => true,
                (B | I, I) => a.label == b.label,
                _ => false,
            },
        }
    }

    /// Whether a sentence may start with `to`.
    pub fn allowed_start(&self, to: usize) -> bool {
        matches!(self.tag(to).prefix, Prefix::O | Prefix::B | Prefix::S)
    }

    /// Whether a sentence may end with `from`.
    pub fn allowed_end(&self, from: usize) -> bool {
        match self.scheme {
            TagScheme::Bioes | TagScheme::Bmes => {
                matches!(self.tag(from).prefix, Prefix::O | Prefix::E | Prefix::S)
            }
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(s: &str) -> Vec<Tag<&str>> {
        s.split_whitespace()
            .map(|t| {
                let (p, ty) = parse_tag(t).unwrap();
                if p == Prefix::O {
                    Tag::O
                } else {
                    Tag::new(p, ty)
                }
            })
            .collect()
    }

    fn render(t: &[Tag<&str>], scheme: TagScheme) -> String {
        t.iter()
            .map(|t| scheme.render(*t, |l| l.to_string()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn spans(s: &str) -> Vec<(usize, usize, &str)> {
        decode_spans(&tags(s))
            .iter()
            .map(|sp| (sp.start(), sp.end(), *sp.label()))
            .collect()
    }

    #[test]
    fn decodes_like_conlleval() {
        // table: tags -> spans (start, end exclusive, type)
        type Expected<'a> = &'a [(usize, usize, &'a str)];
        let cases: &[(&str, Expected)] = &[
            ("B-PER I-PER O B-LOC", &[(0, 2, "PER"), (3, 4, "LOC")]),
            ("I-PER I-PER O I-LOC", &[(0, 2, "PER"), (3, 4, "LOC")]),
            ("I-PER B-PER", &[(0, 1, "PER"), (1, 2, "PER")]),
            ("B-PER I-LOC", &[(0, 1, "PER"), (1, 2, "LOC")]),
            ("O I-PER I-PER", &[(1, 3, "PER")]),
            ("S-PER B-LOC E-LOC", &[(0, 1, "PER"), (1, 3, "LOC")]),
            ("B-ORG M-ORG E-ORG S-ORG", &[(0, 3, "ORG"), (3, 4, "ORG")]),
            ("E-PER E-PER", &[(0, 1, "PER"), (1, 2, "PER")]),
            ("B-PER", &[(0, 1, "PER")]),
            ("O O", &[]),
            ("", &[]),
        ];
        for (input, want) in cases {
            assert_eq!(spans(input), *want, "{input}");
        }
    }

    #[test]
    fn converts_between_all_schemes() {
        let bio = tags("B-PER I-PER B-PER O B-LOC O B-ORG I-ORG I-ORG");
        let want = [
            (
                TagScheme::Iob1,
                "I-PER I-PER B-PER O I-LOC O I-ORG I-ORG I-ORG",
            ),
            (
                TagScheme::Bio,
                "B-PER I-PER B-PER O B-LOC O B-ORG I-ORG I-ORG",
            ),
            (
                TagScheme::Bioes,
                "B-PER E-PER S-PER O S-LOC O B-ORG I-ORG E-ORG",
            ),
            (
                TagScheme::Bmes,
                "B-PER E-PER S-PER O S-LOC O B-ORG M-ORG E-ORG",
            ),
        ];
        for (scheme, expected) in want {
            let out = convert(&bio, scheme);
            assert_eq!(render(&out, scheme), expected, "{scheme}");
            for (back, _) in want {
                assert_eq!(decode_spans(&convert(&out, back)), decode_spans(&bio));
            }
        }
    }

    #[test]
    fn detects_schemes() {
        let d = |s: &str| detect_scheme([s.split_whitespace()]);
        assert_eq!(d("B-PER I-PER O"), TagScheme::Bio);
        assert_eq!(d("I-PER I-PER O I-LOC"), TagScheme::Iob1);
        assert_eq!(d("B-PER E-PER S-LOC"), TagScheme::Bioes);
        assert_eq!(d("B-PER M-PER E-PER"), TagScheme::Bmes);
        assert_eq!(d("O O"), TagScheme::Bio);
    }

    #[test]
    fn refuses_bad_tags() {
        assert!(matches!(
            parse_tag("X-PER"),
            Err(TagError::UnknownPrefix(_))
        ));
        assert!(matches!(parse_tag("PER"), Err(TagError::UnknownPrefix(_))));
        assert!(matches!(parse_tag("B-"), Err(TagError::MissingType(_))));
        assert_eq!(parse_tag("B-MISC-X").unwrap(), (Prefix::B, "MISC-X"));
    }

    #[test]
    fn tag_set_numbers_and_transitions() {
        let ts = TagSet::new(TagScheme::Bio, LabelSet::frozen_from(["LOC", "PER"]));
        assert_eq!(ts.len(), 5);
        let names: Vec<_> = (0..ts.len()).map(|i| ts.name(i)).collect();
        assert_eq!(names, ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]);
        for i in 0..ts.len() {
            assert_eq!(ts.index(ts.tag(i)), Some(i));
        }
        assert!(!ts.allowed(0, 2)); // O -> I-LOC
        assert!(!ts.allowed(1, 4)); // B-LOC -> I-PER
        assert!(ts.allowed(1, 2));
        assert!(!ts.allowed_start(2));
        let ts = TagSet::new(TagScheme::Bmes, LabelSet::frozen_from(["A"]));
        let names: Vec<_> = (0..ts.len()).map(|i| ts.name(i)).collect();
        assert_eq!(names, ["O", "B-A", "I-A", "E-A", "S-A"]);
        assert!(!ts.allowed_end(1));
        assert!(!ts.allowed(1, 0));
        assert!(ts.allowed(2, 3));
    }
}
