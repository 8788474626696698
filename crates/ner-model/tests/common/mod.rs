//! Sentences shared by the model tests: short and long, Unicode, a one-word sentence.

pub const SENTENCES: &[&str] = &[
    "John Smith visited Paris on Monday .",
    "Reuters",
    "Shares of Acme Corp rose 5 percent in New York trading , officials said .",
    "Ünïcödé wörds and 中文 too",
    "A B",
];

/// Each sentence as its tokens.
pub fn tokens() -> Vec<Vec<&'static str>> {
    SENTENCES.iter().map(|s| s.split(' ').collect()).collect()
}
