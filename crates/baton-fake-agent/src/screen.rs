//! Terminal cell widths and fitting a screen's lines into the terminal.

/// Returns how many terminal cells `c` takes (0, 1 or 2), close to what tmux does.
pub fn char_width(c: char) -> usize {
    let cp = u32::from(c);
    match cp {
        0x0300..=0x036F | 0x200B..=0x200F | 0x20D0..=0x20FF | 0xFE00..=0xFE0F => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F680..=0x1F6FF
        | 0x1F900..=0x1FAFF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// Returns how many terminal cells `s` takes.
pub fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Returns `s` cut to at most `max` cells, with control characters shown as spaces.
pub fn truncate(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        let w = char_width(c);
        if used + w > max {
            break;
        }
        used += w;
        out.push(c);
    }
    out
}

/// Returns `s` cut or padded with spaces to exactly `cells` cells.
pub fn pad(s: &str, cells: usize) -> String {
    let mut out = truncate(s, cells);
    let w = width(&out);
    out.extend(std::iter::repeat_n(' ', cells.saturating_sub(w)));
    out
}

/// Returns `c` repeated `n` times.
pub fn repeat(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

/// A screen in three parts: the transcript is trimmed from the top to fit.
#[derive(Debug, Default)]
pub struct Layout {
    /// Lines at the top (header).
    pub top: Vec<String>,
    /// The conversation so far.
    pub transcript: Vec<String>,
    /// Lines at the bottom (spinner, input box, footer).
    pub bottom: Vec<String>,
}

impl Layout {
    /// Returns the lines to draw: at most `height` lines, none wider than `width`.
    pub fn fit(self, width: usize, height: usize) -> Vec<String> {
        let fixed = self.top.len() + self.bottom.len();
        let room = height.saturating_sub(fixed);
        let skip = self.transcript.len().saturating_sub(room);
        let mut lines: Vec<String> = self.top;
        lines.extend(self.transcript.into_iter().skip(skip));
        lines.extend(self.bottom);
        let extra = lines.len().saturating_sub(height);
        lines
            .into_iter()
            .skip(extra)
            .map(|l| truncate(&l, width))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("é🎉"), 3);
        assert_eq!(width("❯ ─"), 3);
        assert_eq!(truncate("a🎉b", 2), "a");
        assert_eq!(truncate("a\tb", 10), "a b");
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad("abcdef", 4), "abcd");
    }

    #[test]
    fn fit_trims_transcript_first() {
        let l = Layout {
            top: vec!["top".into()],
            transcript: (0..10).map(|i| format!("t{i}")).collect(),
            bottom: vec!["box".into(), "footer is long".into()],
        };
        assert_eq!(l.fit(6, 5), vec!["top", "t8", "t9", "box", "footer"]);
        let l = Layout {
            top: vec!["a".into(), "b".into()],
            transcript: vec![],
            bottom: vec!["c".into(), "d".into()],
        };
        assert_eq!(l.fit(5, 3), vec!["b", "c", "d"]);
    }
}
