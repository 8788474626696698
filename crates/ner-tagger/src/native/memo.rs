//! A bounded memo of the first layer's input projection of known words (see [`super::first`]):
//! a direct-mapped table, like a CPU cache, of rows keyed by everything the projected features
//! depend on (word id, casing id, character ids, word pieces). A slot holds one key; a new key
//! that maps to a taken slot replaces it. Lookups and replacements are constant time, and the
//! memory is fixed when the table is first used, so the server's memory stays flat.

use crate::vocab::UNK;

/// Memory a memo may take by default; at most [`MAX_SLOTS`] slots are used below it.
const BUDGET_BYTES: usize = 32 << 20;
/// Measured on the CoNLL-2003 test set read as one stream from a cold table, with the shipped
/// English model: 4,096 slots served 70% of all tokens (89% are known words), 8,192 slots 73%.
const MAX_SLOTS: usize = 4096;

/// What a memoised row depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key<'a> {
    pub word: i64,
    pub casing: i64,
    pub chars: &'a [i64],
    pub pieces: &'a [i64],
}

#[derive(Debug, Clone, Default)]
struct Stored {
    word: i64,
    casing: i64,
    chars: Vec<i64>,
    pieces: Vec<i64>,
}

impl Stored {
    fn is(&self, k: &Key) -> bool {
        self.word == k.word
            && self.casing == k.casing
            && self.chars == k.chars
            && self.pieces == k.pieces
    }
}

/// The memo: `slots` rows of `width` values.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    slots: usize,
    width: usize,
    keys: Vec<Option<Stored>>,
    rows: Vec<f32>,
    hits: u64,
    misses: u64,
}

impl Memo {
    /// An empty memo of `slots` slots (rounded down to a power of two; 0 memoises nothing) of
    /// `width` values each; `None`: the default size for that width.
    pub(crate) fn new(slots: Option<usize>, width: usize) -> Memo {
        let slots = slots.unwrap_or_else(|| default_slots(width));
        let slots = if slots == 0 { 0 } else { 1 << slots.ilog2() };
        Memo {
            slots,
            width,
            keys: vec![None; slots],
            ..Memo::default()
        }
    }

    /// The slot that holds `key`'s row, counting a hit or a miss.
    pub(crate) fn find(&mut self, key: &Key) -> Option<usize> {
        let found = self
            .slot(key)
            .filter(|&s| self.keys[s].as_ref().is_some_and(|k| k.is(key)));
        match found {
            Some(_) => self.hits += 1,
            None => self.misses += 1,
        }
        found
    }

    /// The row in slot `s` (as [`Memo::find`] gave it).
    pub(crate) fn row(&self, s: usize) -> &[f32] {
        &self.rows[s * self.width..(s + 1) * self.width]
    }

    /// Stores the row made of `parts`, one after the other, for `key`, replacing whatever held
    /// its slot; unknown words are not stored (their rows depend on the pieces alone, and a
    /// text of new words must not evict the vocabulary's).
    pub(crate) fn put(&mut self, key: &Key, parts: &[&[f32]]) {
        let width: usize = parts.iter().map(|p| p.len()).sum();
        let Some(s) = self
            .slot(key)
            .filter(|_| key.word > UNK && width == self.width)
        else {
            return;
        };
        if self.rows.is_empty() {
            // Allocated once, on first use: a model that never runs natively costs nothing.
            self.rows = vec![0.0; self.slots * self.width];
        }
        let mut at = s * self.width;
        for part in parts {
            self.rows[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        let stored = self.keys[s].get_or_insert_with(Stored::default);
        stored.word = key.word;
        stored.casing = key.casing;
        stored.chars.clear();
        stored.chars.extend_from_slice(key.chars);
        stored.pieces.clear();
        stored.pieces.extend_from_slice(key.pieces);
    }

    /// Lookups that found their row, and lookups that did not, since the memo was made.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    fn slot(&self, key: &Key) -> Option<usize> {
        if self.slots == 0 {
            return None;
        }
        let mut h = mix(0, key.word as u64);
        h = mix(h, key.casing as u64);
        // Hashed too, so that two spellings of a word in one casing class do not evict each
        // other.
        for &p in key.chars.iter().chain(key.pieces) {
            h = mix(h, p as u64);
        }
        // The high bits of a multiplicative hash are the well-mixed ones.
        Some((h >> (64 - self.slots.ilog2().max(1))) as usize & (self.slots - 1))
    }
}

/// One step of FxHash's mixing (rustc's hasher): fast, and enough to spread ids over slots.
fn mix(h: u64, v: u64) -> u64 {
    (h.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
}

fn default_slots(width: usize) -> usize {
    (BUDGET_BYTES / (width.max(1) * std::mem::size_of::<f32>())).min(MAX_SLOTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(word: i64, pieces: &[i64]) -> Key<'_> {
        Key {
            word,
            casing: 1,
            chars: &[],
            pieces,
        }
    }

    fn get<'m>(m: &'m mut Memo, k: &Key) -> Option<&'m [f32]> {
        let s = m.find(k)?;
        Some(m.row(s))
    }

    #[test]
    fn returns_what_was_stored_for_exactly_that_key() {
        let mut m = Memo::new(Some(64), 3);
        assert_eq!(get(&mut m, &key(5, &[7, 8])), None);
        m.put(&key(5, &[7, 8]), &[&[1.0], &[2.0, 3.0]]);
        assert_eq!(get(&mut m, &key(5, &[7, 8])), Some(&[1.0, 2.0, 3.0][..]));
        // Another casing or other pieces are other keys.
        assert_eq!(
            get(
                &mut m,
                &Key {
                    casing: 2,
                    ..key(5, &[7, 8])
                }
            ),
            None
        );
        assert_eq!(get(&mut m, &key(5, &[7])), None);
        // So are other characters ("Apple" and "APPLE" may share a word id and casing).
        let chars = Key {
            chars: &[3, 4],
            ..key(5, &[7, 8])
        };
        assert_eq!(get(&mut m, &chars), None);
        assert_eq!(m.counts(), (1, 4));
    }

    #[test]
    fn a_colliding_key_replaces_the_slot_and_unknown_words_are_not_stored() {
        // One slot: every key collides.
        let mut m = Memo::new(Some(1), 2);
        m.put(&key(5, &[]), &[&[1.0, 1.0]]);
        m.put(&key(6, &[]), &[&[2.0, 2.0]]);
        assert_eq!(get(&mut m, &key(5, &[])), None);
        assert_eq!(get(&mut m, &key(6, &[])), Some(&[2.0, 2.0][..]));
        m.put(&key(UNK, &[3]), &[&[9.0, 9.0]]);
        assert_eq!(get(&mut m, &key(UNK, &[3])), None);
        assert_eq!(get(&mut m, &key(6, &[])), Some(&[2.0, 2.0][..]));
    }

    #[test]
    fn no_slots_memoises_nothing_and_sizes_follow_the_budget() {
        let mut m = Memo::new(Some(0), 2);
        m.put(&key(5, &[]), &[&[1.0, 1.0]]);
        assert_eq!(get(&mut m, &key(5, &[])), None);
        assert_eq!(Memo::new(Some(100), 1).slots, 64);
        // The shipped English model's rows: 2 directions × 4 gates × 200 = 1,600 values.
        assert_eq!(Memo::new(None, 1600).slots, 4096);
        assert_eq!(Memo::new(None, 16_384).slots, 512);
    }
}
