//! [`sanitize`]: strip the control characters a prompt must never carry into a terminal.

/// A text with its control characters removed, and a record of what was removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sanitized {
    /// The text without control characters (newlines and tabs are kept).
    pub text: String,
    /// Every removed character, in order.
    pub stripped: Vec<Stripped>,
}

/// One removed control character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stripped {
    /// Byte offset of the character in the original text.
    pub offset: usize,
    /// The character removed.
    pub ch: char,
}

/// Whether `ch` is removed by [`sanitize`]: C0 except `\n` and `\t`, DEL, and C1.
fn is_stripped(ch: char) -> bool {
    matches!(ch, '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// Remove every control character except `\n` and `\t`: C0 (ESC, CR, NUL, BEL...), DEL and
/// C1 (U+0080..=U+009F). Nothing else changes.
pub fn sanitize(text: &str) -> Sanitized {
    let mut out = Sanitized {
        text: String::with_capacity(text.len()),
        stripped: Vec::new(),
    };
    for (offset, ch) in text.char_indices() {
        if is_stripped(ch) {
            out.stripped.push(Stripped { offset, ch });
        } else {
            out.text.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_text_newlines_tabs_and_unicode() {
        let text = "Café déjà vu 🎉\n\tindent $(rm -rf ~) `x` \"q\" 'q' \u{a0}\u{200b}";
        let s = sanitize(text);
        assert_eq!(s.text, text);
        assert!(s.stripped.is_empty());
    }

    #[test]
    fn strips_c0_del_c1_with_original_offsets() {
        let text = "a\x1b[31mb\r\n\0c\x07\x7fé\u{85}\u{9b}d\u{9f}\u{a0}";
        let s = sanitize(text);
        assert_eq!(s.text, "a[31mb\nc\u{e9}d\u{a0}");
        let got: Vec<(usize, char)> = s.stripped.iter().map(|x| (x.offset, x.ch)).collect();
        assert_eq!(
            got,
            vec![
                (1, '\x1b'),
                (7, '\r'),
                (9, '\0'),
                (11, '\x07'),
                (12, '\x7f'),
                (15, '\u{85}'),
                (17, '\u{9b}'),
                (20, '\u{9f}'),
            ]
        );
        for x in &s.stripped {
            assert!(text[x.offset..].starts_with(x.ch));
        }
    }

    #[test]
    fn empty_and_all_control() {
        assert_eq!(sanitize("").text, "");
        let s = sanitize("\x1b\r\x00");
        assert_eq!(s.text, "");
        assert_eq!(s.stripped.len(), 3);
    }
}
