//! [`sanitize`]: strip what a prompt must never carry into a terminal — control characters and
//! whole escape sequences, not just their ESC.
//!
//! Removing only the ESC of `ESC [ 2 J` would leave `[2J` in the prompt: harmless to the
//! terminal but garbage to the agent. So every sequence a terminal would act on goes whole:
//!
//! - CSI: `ESC [` or U+009B, parameter and intermediate characters (0x20–0x3F), a final
//!   character (0x40–0x7E); at most [`MAX_CSI`] characters before the final one.
//! - OSC (`ESC ]`, U+009D), DCS (`ESC P`, U+0090), SOS (`ESC X`, U+0098), PM (`ESC ^`,
//!   U+009E), APC (`ESC _`, U+009F): a string up to its terminator, ST (`ESC \` or U+009C) or,
//!   for OSC, BEL.
//! - `ESC` with intermediates (0x20–0x2F) and one final character (0x30–0x7E): `ESC 7`,
//!   `ESC c`, `ESC ( B`.
//!
//! A sequence without its end never swallows the rest of a prompt: a CSI must end within
//! [`MAX_CSI`] characters, a string before any other control character (a newline ends
//! the search) and within [`MAX_STRING`] characters. Otherwise only its introducer (`ESC [`,
//! `ESC ]`, U+009D…) is removed and the rest is kept as the text it is. Every other control
//! character (C0 but `\n` and `\t`, DEL, C1) is removed on its own.

/// Most parameter and intermediate characters a CSI may have before its final character.
pub const MAX_CSI: usize = 64;

/// Most characters of an OSC, DCS, SOS, PM or APC string before its terminator.
pub const MAX_STRING: usize = 4096;

/// ESC.
const ESC: char = '\u{1b}';

/// A text with its control characters and escape sequences removed, and a record of what was
/// removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sanitized {
    /// The text without them (newlines and tabs are kept).
    pub text: String,
    /// Every removed piece, in order.
    pub stripped: Vec<Stripped>,
}

/// What a removed piece was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrippedKind {
    /// One control character on its own.
    Control,
    /// `ESC`, intermediates and a final character (`ESC 7`, `ESC ( B`).
    Escape,
    /// A control sequence (`ESC [ 3 1 m`).
    Csi,
    /// An operating system command (`ESC ] 0 ; title BEL`).
    Osc,
    /// A device control string.
    Dcs,
    /// A start-of-string string.
    Sos,
    /// A privacy message.
    Pm,
    /// An application program command.
    Apc,
}

impl StrippedKind {
    /// The lowercase name used in reports: `control`, `csi`, `osc`…
    pub fn name(self) -> &'static str {
        match self {
            StrippedKind::Control => "control",
            StrippedKind::Escape => "escape",
            StrippedKind::Csi => "csi",
            StrippedKind::Osc => "osc",
            StrippedKind::Dcs => "dcs",
            StrippedKind::Sos => "sos",
            StrippedKind::Pm => "pm",
            StrippedKind::Apc => "apc",
        }
    }
}

/// One removed piece: a control character or a whole escape sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stripped {
    /// Byte offset of the piece in the original text.
    pub offset: usize,
    /// The piece removed, verbatim.
    pub removed: String,
    /// Its first character (ESC, U+009B, the control character…).
    pub ch: char,
    /// What it was.
    pub kind: StrippedKind,
    /// False for a sequence whose end never came: only its introducer was removed.
    pub complete: bool,
}

impl Stripped {
    /// The removed piece in visible characters (`ESC[2J`, `^M`, `<U+009B>`), at most 40
    /// characters of it.
    pub fn printable(&self) -> String {
        let mut out = String::new();
        for (n, ch) in self.removed.chars().enumerate() {
            if n == 40 {
                out.push('…');
                break;
            }
            match ch {
                ESC => out.push_str("ESC"),
                '\u{7}' => out.push_str("BEL"),
                '\u{7f}' => out.push_str("^?"),
                '\u{0}'..='\u{1f}' => {
                    out.push('^');
                    out.push(char::from(b'@' + ch as u8));
                }
                '\u{80}'..='\u{9f}' => out.push_str(&format!("<U+{:04X}>", u32::from(ch))),
                _ => out.push(ch),
            }
        }
        out
    }

    /// One line for people: `U+000D`, `CSI ESC[2J`, `OSC without its end (ESC] removed)`.
    pub fn describe(&self) -> String {
        match (self.kind, self.complete) {
            (StrippedKind::Control, _) => format!("U+{:04X}", u32::from(self.ch)),
            (kind, true) => format!("{} {}", kind.name().to_uppercase(), self.printable()),
            (kind, false) => format!(
                "{} without its end ({} removed)",
                kind.name().to_uppercase(),
                self.printable()
            ),
        }
    }
}

/// Whether `ch` is a control character: C0 except `\n` and `\t`, DEL, and C1.
fn is_control(ch: char) -> bool {
    matches!(ch, '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// A sequence found at some index: its kind, the index after it, and whether it is complete.
struct Found {
    kind: StrippedKind,
    end: usize,
    complete: bool,
}

/// The string kind an introducer character (after ESC, or the C1 form) starts, if any.
fn string_kind(after_esc: Option<char>, c1: char) -> Option<StrippedKind> {
    let kind = match (after_esc, c1) {
        (Some(']'), _) | (None, '\u{9d}') => StrippedKind::Osc,
        (Some('P'), _) | (None, '\u{90}') => StrippedKind::Dcs,
        (Some('X'), _) | (None, '\u{98}') => StrippedKind::Sos,
        (Some('^'), _) | (None, '\u{9e}') => StrippedKind::Pm,
        (Some('_'), _) | (None, '\u{9f}') => StrippedKind::Apc,
        _ => return None,
    };
    Some(kind)
}

/// A CSI whose parameters and final character start at `body`.
fn csi(chars: &[char], body: usize) -> Found {
    let mut k = body;
    while k < chars.len() && k - body < MAX_CSI && matches!(chars[k], '\u{20}'..='\u{3f}') {
        k += 1;
    }
    match chars.get(k) {
        Some('\u{40}'..='\u{7e}') => Found {
            kind: StrippedKind::Csi,
            end: k + 1,
            complete: true,
        },
        _ => Found {
            kind: StrippedKind::Csi,
            end: body,
            complete: false,
        },
    }
}

/// A string sequence whose body starts at `body`.
fn string(chars: &[char], body: usize, kind: StrippedKind) -> Found {
    let unterminated = Found {
        kind,
        end: body,
        complete: false,
    };
    let mut k = body;
    while k < chars.len() && k - body <= MAX_STRING {
        let ch = chars[k];
        let end = match ch {
            '\u{7}' if kind == StrippedKind::Osc => Some(k + 1),
            '\u{9c}' => Some(k + 1),
            ESC if chars.get(k + 1) == Some(&'\\') => Some(k + 2),
            _ if is_control(ch) || ch == '\n' || ch == '\t' => return unterminated,
            _ => None,
        };
        if let Some(end) = end {
            return Found {
                kind,
                end,
                complete: true,
            };
        }
        k += 1;
    }
    unterminated
}

/// The sequence or control character starting at `i`, if `chars[i]` starts one.
fn scan(chars: &[char], i: usize) -> Option<Found> {
    let ch = chars[i];
    if ch == ESC {
        let next = chars.get(i + 1).copied();
        if next == Some('[') {
            return Some(csi(chars, i + 2));
        }
        if let Some(kind) = string_kind(next, ch) {
            return Some(string(chars, i + 2, kind));
        }
        // ESC, intermediates, a final character.
        let mut k = i + 1;
        while k < chars.len() && k - i <= 8 && matches!(chars[k], '\u{20}'..='\u{2f}') {
            k += 1;
        }
        let complete = matches!(chars.get(k), Some('\u{30}'..='\u{7e}'));
        return Some(Found {
            kind: if complete {
                StrippedKind::Escape
            } else {
                StrippedKind::Control
            },
            end: if complete { k + 1 } else { i + 1 },
            complete: true,
        });
    }
    if ch == '\u{9b}' {
        return Some(csi(chars, i + 1));
    }
    if let Some(kind) = string_kind(None, ch) {
        return Some(string(chars, i + 1, kind));
    }
    is_control(ch).then_some(Found {
        kind: StrippedKind::Control,
        end: i + 1,
        complete: true,
    })
}

/// Remove every escape sequence (whole) and every other control character except `\n` and
/// `\t`; see the module's documentation for the rules. Nothing else changes.
pub fn sanitize(text: &str) -> Sanitized {
    let offsets: Vec<usize> = text.char_indices().map(|(o, _)| o).collect();
    let chars: Vec<char> = text.chars().collect();
    let offset_of = |i: usize| offsets.get(i).copied().unwrap_or(text.len());
    let mut out = Sanitized {
        text: String::with_capacity(text.len()),
        stripped: Vec::new(),
    };
    let mut i = 0;
    while i < chars.len() {
        match scan(&chars, i) {
            Some(found) => {
                let (start, end) = (offset_of(i), offset_of(found.end));
                out.stripped.push(Stripped {
                    offset: start,
                    removed: text[start..end].to_owned(),
                    ch: chars[i],
                    kind: found.kind,
                    complete: found.complete,
                });
                i = found.end;
            }
            None => {
                out.text.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (offset, removed, kind, complete) of each stripped piece.
    fn pieces(s: &Sanitized) -> Vec<(usize, &str, &'static str, bool)> {
        s.stripped
            .iter()
            .map(|x| (x.offset, x.removed.as_str(), x.kind.name(), x.complete))
            .collect()
    }

    #[test]
    fn keeps_plain_text_newlines_tabs_and_unicode() {
        let text =
            "Café déjà vu 🎉\n\tindent $(rm -rf ~) `x` \"q\" 'q' \u{a0}\u{200b} [2J ]0; P X ^ _";
        let s = sanitize(text);
        assert_eq!(s.text, text);
        assert!(s.stripped.is_empty());
    }

    #[test]
    fn csi_sequences_go_whole() {
        let s = sanitize("a \x1b[2J\x1b[31mred\x1b[0m \x1b[?2004l\x1b[201~x\x1b[Z\u{9b}1;2H.");
        assert_eq!(s.text, "a red x.");
        // Every one a whole CSI.
        let all = pieces(&s);
        assert!(all.iter().all(|p| (p.2, p.3) == ("csi", true)), "{all:?}");
        let removed: Vec<(usize, &str)> = all.iter().map(|p| (p.0, p.1)).collect();
        assert_eq!(
            removed,
            [
                (2, "\x1b[2J"),
                (6, "\x1b[31m"),
                (14, "\x1b[0m"),
                (19, "\x1b[?2004l"),
                (27, "\x1b[201~"),
                (34, "\x1b[Z"),
                (37, "\u{9b}1;2H"),
            ]
        );
    }

    #[test]
    fn string_sequences_go_whole_up_to_their_terminator() {
        let text = "t\x1b]0;tïtle\x07 \x1b]8;;http://127.0.0.1/\x1b\\link\x1b]8;;\x1b\\ \
                    \x1bPq#0;2\x1b\\\x1bXsos\u{9c}\x1b^pm\x1b\\\x1b_apc\x1b\\\u{9d}2;c1\u{9c}!";
        let s = sanitize(text);
        assert_eq!(s.text, "t link !");
        let kinds: Vec<(&str, bool)> = s
            .stripped
            .iter()
            .map(|x| (x.kind.name(), x.complete))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("osc", true),
                ("osc", true),
                ("osc", true),
                ("dcs", true),
                ("sos", true),
                ("pm", true),
                ("apc", true),
                ("osc", true),
            ]
        );
        assert_eq!(s.stripped[0].removed, "\x1b]0;tïtle\x07");
        // A BEL ends only an OSC: inside a DCS it is no terminator.
        let s = sanitize("\x1bPdata\x07more\x1b\\end");
        assert_eq!(s.text, "datamoreend");
        assert!(!s.stripped[0].complete);
    }

    #[test]
    fn two_and_three_byte_escapes() {
        let s = sanitize("\x1b7a\x1b8b\x1bcc\x1b(Bd\x1b#8e\x1b=f");
        assert_eq!(s.text, "abcdef");
        assert!(s.stripped.iter().all(|x| x.kind == StrippedKind::Escape));
        assert_eq!(s.stripped[3].removed, "\x1b(B");
    }

    #[test]
    fn an_unterminated_sequence_loses_only_its_introducer() {
        // An OSC with no end on its line: the rest of the prompt stays.
        let s = sanitize("open \x1b]52;c;abc\nnext line");
        assert_eq!(s.text, "open 52;c;abc\nnext line");
        assert_eq!(pieces(&s), vec![(5, "\x1b]", "osc", false)]);
        // At the end of the text, cut by another sequence, or too long.
        assert_eq!(sanitize("x\x1b]0;title").text, "x0;title");
        assert_eq!(sanitize("x\u{9d}0;ti\x1b[1mtle").text, "x0;title");
        let long = format!("\x1b]{}\x07tail", "y".repeat(MAX_STRING + 10));
        let s = sanitize(&long);
        assert_eq!(s.text, format!("{}tail", "y".repeat(MAX_STRING + 10)));
        assert_eq!(s.stripped.len(), 2, "the introducer and the lone BEL");
        // A CSI broken by a newline or too long keeps its parameters as text.
        assert_eq!(sanitize("\x1b[12\n3").text, "12\n3");
        let s = sanitize(&format!("\x1b[{}m", "1".repeat(MAX_CSI + 1)));
        assert_eq!(s.text, format!("{}m", "1".repeat(MAX_CSI + 1)));
        assert_eq!(pieces(&s), vec![(0, "\x1b[", "csi", false)]);
        // ESC before nothing that makes a sequence goes alone.
        let s = sanitize("a\x1b\x1b\u{e9}\x1b");
        assert_eq!(s.text, "a\u{e9}");
        assert_eq!(
            pieces(&s),
            vec![
                (1, "\x1b", "control", true),
                (2, "\x1b", "control", true),
                (5, "\x1b", "control", true)
            ]
        );
    }

    #[test]
    fn lone_controls_with_original_offsets() {
        let text = "a\rb\n\0c\x07\x7fé\u{85}d\u{9c}\u{a0}";
        let s = sanitize(text);
        assert_eq!(s.text, "ab\nc\u{e9}d\u{a0}");
        let got: Vec<(usize, char)> = s.stripped.iter().map(|x| (x.offset, x.ch)).collect();
        assert_eq!(
            got,
            vec![
                (1, '\r'),
                (4, '\0'),
                (6, '\x07'),
                (7, '\x7f'),
                (10, '\u{85}'),
                (13, '\u{9c}'),
            ]
        );
        for x in &s.stripped {
            assert!(text[x.offset..].starts_with(&x.removed));
            assert_eq!(x.kind, StrippedKind::Control);
        }
    }

    #[test]
    fn what_was_removed_adds_up_to_the_original() {
        let text = "x\x1b[2Jy\x1b]0;t\x07z\x1b]open\n\u{9b}5Aw\x1b";
        let s = sanitize(text);
        let removed: usize = s.stripped.iter().map(|x| x.removed.len()).sum();
        assert_eq!(removed + s.text.len(), text.len());
    }

    #[test]
    fn descriptions_are_readable() {
        let s = sanitize("\x1b[2J\r\x1b]open\u{9b}5A");
        let d: Vec<String> = s.stripped.iter().map(Stripped::describe).collect();
        assert_eq!(
            d,
            vec![
                "CSI ESC[2J",
                "U+000D",
                "OSC without its end (ESC] removed)",
                "CSI <U+009B>5A"
            ]
        );
        let long = sanitize(&format!("\x1b]0;{}\x07", "t".repeat(100)));
        assert!(long.stripped[0].printable().ends_with('…'));
    }

    #[test]
    fn empty_and_all_control() {
        assert_eq!(sanitize("").text, "");
        let s = sanitize("\x1b\r\x00");
        assert_eq!(s.text, "");
        assert_eq!(s.stripped.len(), 3);
    }
}
