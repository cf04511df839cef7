//! Turns raw terminal bytes into key presses, typed text and pastes.
//!
//! The parser keeps incomplete sequences (a paste without its end marker, a CSI
//! sequence or a UTF-8 character cut between two reads) until more bytes arrive.

/// One thing the user did at the keyboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Printable text typed outside a paste.
    Text(String),
    /// A bracketed paste, with `\r` turned into `\n`.
    Paste(Vec<u8>),
    /// Enter (`\r`).
    Enter,
    /// Ctrl-J (`\n`): a newline in the input box.
    Newline,
    /// Tab.
    Tab,
    /// Backspace (`0x7f` or `0x08`).
    Backspace,
    /// Ctrl-C.
    CtrlC,
    /// Shift+Tab (`ESC [ Z`).
    BackTab,
    /// A lone Escape.
    Esc,
    /// Any other key, by name (`up`, `ctrl-d`, `alt-x`, `csi-…`).
    Key(String),
}

impl Input {
    /// Returns the name logged for a special key, or `None` for text and pastes.
    pub fn key_name(&self) -> Option<String> {
        let name = match self {
            Input::Text(_) | Input::Paste(_) => return None,
            Input::Enter => "enter",
            Input::Newline => "ctrl-j",
            Input::Tab => "tab",
            Input::Backspace => "backspace",
            Input::CtrlC => "ctrl-c",
            Input::BackTab => "backtab",
            Input::Esc => "esc",
            Input::Key(name) => name,
        };
        Some(name.to_owned())
    }
}

const PASTE_END: &[u8] = b"\x1b[201~";
const ESC: u8 = 0x1b;

/// An incremental parser of terminal input bytes.
#[derive(Debug, Default)]
pub struct Parser {
    buf: Vec<u8>,
    paste: Option<Vec<u8>>,
}

enum Step {
    /// Consumed this many bytes, producing maybe one input.
    Done(usize, Option<Input>),
    /// More bytes are needed.
    Incomplete,
}

impl Parser {
    /// Returns an empty parser.
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Feeds bytes read from the terminal and returns the inputs they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Input> {
        self.buf.extend_from_slice(bytes);
        self.parse()
    }

    /// Returns whether an escape sequence has started but not finished, outside a paste.
    ///
    /// The caller waits a little for more bytes, then calls [`Parser::flush_escape`].
    pub fn has_pending_escape(&self) -> bool {
        self.paste.is_none() && self.buf.first() == Some(&ESC)
    }

    /// Treats a pending escape as a lone Escape key and parses what follows it.
    pub fn flush_escape(&mut self) -> Vec<Input> {
        if !self.has_pending_escape() {
            return Vec::new();
        }
        self.buf.remove(0);
        let mut out = vec![Input::Esc];
        out.extend(self.parse());
        out
    }

    fn parse(&mut self) -> Vec<Input> {
        let mut out = Vec::new();
        let mut i = 0;
        let buf = std::mem::take(&mut self.buf);
        while i < buf.len() || self.paste.is_some() {
            if let Some(paste) = self.paste.as_mut() {
                let rest = &buf[i..];
                if let Some(pos) = find(rest, PASTE_END) {
                    paste.extend_from_slice(&rest[..pos]);
                    i += pos + PASTE_END.len();
                    let mut content = self.paste.take().unwrap_or_default();
                    for b in &mut content {
                        if *b == b'\r' {
                            *b = b'\n';
                        }
                    }
                    out.push(Input::Paste(content));
                    continue;
                }
                // Keep a possible start of the end marker for the next read.
                let keep = (1..PASTE_END.len())
                    .rev()
                    .find(|&n| rest.len() >= n && rest.ends_with(&PASTE_END[..n]))
                    .unwrap_or(0);
                paste.extend_from_slice(&rest[..rest.len() - keep]);
                i = buf.len() - keep;
                break;
            }
            let step = match buf[i] {
                ESC => self.escape(&buf[i..]),
                b'\r' => Step::Done(1, Some(Input::Enter)),
                b'\n' => Step::Done(1, Some(Input::Newline)),
                b'\t' => Step::Done(1, Some(Input::Tab)),
                0x7f | 0x08 => Step::Done(1, Some(Input::Backspace)),
                0x03 => Step::Done(1, Some(Input::CtrlC)),
                b @ 0x01..=0x1a => {
                    Step::Done(1, Some(Input::Key(format!("ctrl-{}", (b + 0x60) as char))))
                }
                b @ (0x00 | 0x1c..=0x1f) => {
                    Step::Done(1, Some(Input::Key(format!("ctrl-0x{b:02x}"))))
                }
                _ => text(&buf[i..]),
            };
            match step {
                Step::Done(n, input) => {
                    i += n;
                    out.extend(input);
                }
                Step::Incomplete => break,
            }
        }
        self.buf = buf[i..].to_vec();
        out
    }

    fn escape(&mut self, bytes: &[u8]) -> Step {
        let Some(&second) = bytes.get(1) else {
            return Step::Incomplete;
        };
        match second {
            b'[' => {
                let mut j = 2;
                while let Some(&b) = bytes.get(j) {
                    match b {
                        0x20..=0x3f => j += 1,
                        0x40..=0x7e => {
                            let params = String::from_utf8_lossy(&bytes[2..j]).into_owned();
                            return Step::Done(j + 1, self.csi(&params, b));
                        }
                        // Not a valid CSI sequence: drop what was read so far.
                        _ => return Step::Done(j, Some(Input::Key("csi-malformed".to_owned()))),
                    }
                }
                Step::Incomplete
            }
            b'O' => match bytes.get(2) {
                None => Step::Incomplete,
                Some(&b) => Step::Done(3, Some(Input::Key(ss3_name(b)))),
            },
            ESC => Step::Done(1, Some(Input::Esc)),
            b if b.is_ascii_graphic() => {
                Step::Done(2, Some(Input::Key(format!("alt-{}", b as char))))
            }
            _ => Step::Done(1, Some(Input::Esc)),
        }
    }

    fn csi(&mut self, params: &str, final_byte: u8) -> Option<Input> {
        match (params, final_byte) {
            ("200", b'~') => {
                self.paste = Some(Vec::new());
                None
            }
            ("201", b'~') => None,
            ("", b'Z') => Some(Input::BackTab),
            _ => Some(Input::Key(csi_name(params, final_byte))),
        }
    }
}

/// Parses a run of typed text, stopping at a control byte; keeps a cut UTF-8 character.
fn text(bytes: &[u8]) -> Step {
    let end = bytes
        .iter()
        .position(|&b| b < 0x20 || b == 0x7f)
        .unwrap_or(bytes.len());
    let run = &bytes[..end];
    match std::str::from_utf8(run) {
        Ok(s) => Step::Done(end, Some(Input::Text(s.to_owned()))),
        Err(e) => {
            let valid = e.valid_up_to();
            if valid > 0 {
                let s = String::from_utf8_lossy(&run[..valid]).into_owned();
                return Step::Done(valid, Some(Input::Text(s)));
            }
            match e.error_len() {
                Some(n) => Step::Done(n, None),
                // A character cut at the end of what was read: wait for the rest.
                None if end == bytes.len() => Step::Incomplete,
                None => Step::Done(end, None),
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn ss3_name(b: u8) -> String {
    match b {
        b'A' => "up".to_owned(),
        b'B' => "down".to_owned(),
        b'C' => "right".to_owned(),
        b'D' => "left".to_owned(),
        b'H' => "home".to_owned(),
        b'F' => "end".to_owned(),
        b'P' => "f1".to_owned(),
        b'Q' => "f2".to_owned(),
        b'R' => "f3".to_owned(),
        b'S' => "f4".to_owned(),
        _ => format!("ss3-{}", char::from(b).escape_default()),
    }
}

fn csi_name(params: &str, final_byte: u8) -> String {
    let mut parts = params.split(';');
    let first = parts.next().unwrap_or("");
    let modifier = parts.next().and_then(|m| m.parse::<u8>().ok());
    let base = match final_byte {
        b'A' => "up",
        b'B' => "down",
        b'C' => "right",
        b'D' => "left",
        b'H' => "home",
        b'F' => "end",
        b'P' => "f1",
        b'Q' => "f2",
        b'R' => "f3",
        b'S' => "f4",
        b'I' => "focus-in",
        b'O' => "focus-out",
        b'~' => match first {
            "1" | "7" => "home",
            "2" => "insert",
            "3" => "delete",
            "4" | "8" => "end",
            "5" => "pageup",
            "6" => "pagedown",
            "15" => "f5",
            "17" => "f6",
            "18" => "f7",
            "19" => "f8",
            "20" => "f9",
            "21" => "f10",
            "23" => "f11",
            "24" => "f12",
            _ => return format!("csi-{params}~"),
        },
        _ => return format!("csi-{params}{}", char::from(final_byte)),
    };
    let prefix = match modifier {
        None | Some(1) => String::new(),
        Some(2) => "shift-".to_owned(),
        Some(3) => "alt-".to_owned(),
        Some(4) => "alt-shift-".to_owned(),
        Some(5) => "ctrl-".to_owned(),
        Some(6) => "ctrl-shift-".to_owned(),
        Some(n) => format!("mod{n}-"),
    };
    format!("{prefix}{base}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<Input> {
        let mut p = Parser::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(p.feed(c));
        }
        out
    }

    fn text(s: &str) -> Input {
        Input::Text(s.to_owned())
    }

    #[test]
    fn plain_keys() {
        assert_eq!(
            all(&[b"hi\r\n\x7f\x08\x03\t"]),
            vec![
                text("hi"),
                Input::Enter,
                Input::Newline,
                Input::Backspace,
                Input::Backspace,
                Input::CtrlC,
                Input::Tab
            ]
        );
        assert_eq!(all(&[b"\x04"]), vec![Input::Key("ctrl-d".to_owned())]);
    }

    #[test]
    fn paste_in_one_chunk_turns_cr_into_lf() {
        assert_eq!(
            all(&[b"\x1b[200~a\rb\tc\r\x1b[201~\r"]),
            vec![Input::Paste(b"a\nb\tc\n".to_vec()), Input::Enter]
        );
    }

    #[test]
    fn paste_split_across_chunks() {
        let whole: &[u8] =
            b"x\x1b[200~line one\rline two \xf0\x9f\x8e\x89 \x1b[A not a key\x1b[201~y";
        let expected = vec![
            text("x"),
            Input::Paste(b"line one\nline two \xf0\x9f\x8e\x89 \x1b[A not a key".to_vec()),
            text("y"),
        ];
        for cut in 1..whole.len() {
            let got = all(&[&whole[..cut], &whole[cut..]]);
            // Text may arrive in two pieces when cut inside the leading/trailing text.
            let merged = merge_text(got);
            assert_eq!(merged, expected, "cut at {cut}");
        }
        // One byte at a time.
        let chunks: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(merge_text(all(&chunks)), expected);
    }

    fn merge_text(inputs: Vec<Input>) -> Vec<Input> {
        let mut out: Vec<Input> = Vec::new();
        for i in inputs {
            if let (Some(Input::Text(prev)), Input::Text(t)) = (out.last_mut(), &i) {
                prev.push_str(t);
                continue;
            }
            out.push(i);
        }
        out
    }

    #[test]
    fn lone_escape_waits_for_flush() {
        let mut p = Parser::new();
        assert_eq!(p.feed(b"\x1b"), vec![]);
        assert!(p.has_pending_escape());
        assert_eq!(p.flush_escape(), vec![Input::Esc]);
        assert!(!p.has_pending_escape());
        assert_eq!(p.flush_escape(), vec![]);
    }

    #[test]
    fn escape_then_csi_in_next_chunk_is_a_key() {
        let mut p = Parser::new();
        assert_eq!(p.feed(b"\x1b"), vec![]);
        assert_eq!(p.feed(b"[A"), vec![Input::Key("up".to_owned())]);
        assert_eq!(p.feed(b"\x1b[1;5"), vec![]);
        assert_eq!(p.feed(b"B"), vec![Input::Key("ctrl-down".to_owned())]);
        assert!(!p.has_pending_escape());
    }

    #[test]
    fn double_escape_and_alt() {
        assert_eq!(
            all(&[b"\x1b\x1bx"]),
            vec![Input::Esc, Input::Key("alt-x".to_owned())]
        );
        assert_eq!(all(&[b"\x1b\x1b"]).len(), 1);
    }

    #[test]
    fn shift_tab_and_named_keys() {
        assert_eq!(all(&[b"\x1b[Z"]), vec![Input::BackTab]);
        assert_eq!(all(&[b"\x1b", b"[", b"Z"]), vec![Input::BackTab]);
        assert_eq!(
            all(&[b"\x1bOA\x1b[3~\x1b[15~\x1b[I\x1b[99x"]),
            vec![
                Input::Key("up".to_owned()),
                Input::Key("delete".to_owned()),
                Input::Key("f5".to_owned()),
                Input::Key("focus-in".to_owned()),
                Input::Key("csi-99x".to_owned()),
            ]
        );
    }

    #[test]
    fn utf8_split_across_chunks() {
        let s = "é🎉";
        let b = s.as_bytes();
        let mut p = Parser::new();
        let mut got = String::new();
        for byte in b {
            for i in p.feed(&[*byte]) {
                match i {
                    Input::Text(t) => got.push_str(&t),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        assert_eq!(got, s);
    }

    #[test]
    fn invalid_utf8_is_dropped() {
        assert_eq!(all(&[b"a\xffb"]), vec![text("a"), text("b")]);
        assert_eq!(
            all(&[b"a\xe2\x82\rb"]),
            vec![text("a"), Input::Enter, text("b")]
        );
    }

    #[test]
    fn stray_paste_end_is_ignored() {
        assert_eq!(all(&[b"\x1b[201~a"]), vec![text("a")]);
    }
}
