//! `ConfigError`: an error in `baton.toml` with the line, the column and the key, and
//! how a key's position is found in the text.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// An error in `baton.toml`, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// Line and column, from 1, when known.
    pub position: Option<(usize, usize)>,
    /// The key, such as `agent[2].cli`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Returns the 1-based line and column of a byte span's start in `text`.
pub fn line_col(text: &str, span: Option<Range<usize>>) -> Option<(usize, usize)> {
    let start = span?.start.min(text.len());
    let before = text.get(..start)?;
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some((line, col))
}

/// Returns the span of a key's entry in `text`: `key` is dotted, with `[n]` for an array's
/// element (`lead.chain[1]`, `profile.x.patterns.working[0]`). A key names its entry (the
/// line where it is set), an element its value. `None` when the text does not set it.
pub fn key_span(text: &str, key: &str) -> Option<Range<usize>> {
    use toml::de::DeTable;
    use toml::de::DeValue;
    let doc = DeTable::parse(text).ok()?;
    let mut table: &DeTable<'_> = doc.get_ref();
    let mut found: Option<Range<usize>> = None;
    let mut value: Option<&DeValue<'_>> = None;
    for part in key.split('.') {
        let (name, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if let Some(DeValue::Table(t)) = value {
            table = t;
        } else if value.is_some() {
            return None;
        }
        let (k, v) = table.iter().find(|(k, _)| k.get_ref() == name)?;
        found = Some(k.span());
        value = Some(v.get_ref());
        for index in indexes
            .split(']')
            .filter_map(|s| s.strip_prefix('['))
            .map(str::parse::<usize>)
        {
            let DeValue::Array(a) = value? else {
                return None;
            };
            let item = a.get(index.ok()?)?;
            found = Some(item.span());
            value = Some(item.get_ref());
        }
    }
    found
}
