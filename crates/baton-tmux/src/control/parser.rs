//! A pure parser for the lines tmux writes in control mode (`tmux -C`).
//!
//! Reply lines between `%begin` and `%end`/`%error` are not notifications; telling them apart
//! needs state, which lives in the client. [`parse_line`] reads one line outside a block.

/// One line of control-mode output, outside a reply block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// `%begin <time> <number> <flags>`: a reply block starts.
    Begin(Guard),
    /// `%end <time> <number> <flags>`: a reply block ends successfully.
    End(Guard),
    /// `%error <time> <number> <flags>`: a reply block ends with an error.
    Error(Guard),
    /// `%output %<pane> <data>`: bytes a pane wrote, unescaped.
    Output {
        /// Pane id, e.g. `%3`.
        pane: String,
        /// Raw bytes (not necessarily UTF-8).
        data: Vec<u8>,
    },
    /// `%window-add @N`.
    WindowAdd {
        /// Window id.
        window: String,
    },
    /// `%window-close @N`.
    WindowClose {
        /// Window id.
        window: String,
    },
    /// `%unlinked-window-add @N`.
    UnlinkedWindowAdd {
        /// Window id.
        window: String,
    },
    /// `%unlinked-window-close @N`.
    UnlinkedWindowClose {
        /// Window id.
        window: String,
    },
    /// `%window-renamed @N name`.
    WindowRenamed {
        /// Window id.
        window: String,
        /// New name.
        name: String,
    },
    /// `%unlinked-window-renamed @N name`.
    UnlinkedWindowRenamed {
        /// Window id.
        window: String,
        /// New name.
        name: String,
    },
    /// `%session-changed $N name`: the client is now attached to this session.
    SessionChanged {
        /// Session id, e.g. `$0`.
        session_id: String,
        /// Session name.
        name: String,
    },
    /// `%session-renamed $N name` (older tmux omit the id).
    SessionRenamed {
        /// Session id, e.g. `$0` (empty if tmux did not send it).
        session_id: String,
        /// New name.
        name: String,
    },
    /// `%sessions-changed`: a session was created or destroyed.
    SessionsChanged,
    /// `%session-window-changed $N @M`: a session's current window changed.
    SessionWindowChanged {
        /// Session id.
        session_id: String,
        /// Window id.
        window: String,
    },
    /// `%window-pane-changed @N %M`: a window's active pane changed.
    WindowPaneChanged {
        /// Window id.
        window: String,
        /// Pane id.
        pane: String,
    },
    /// `%pane-mode-changed %N`: a pane entered or left a mode (copy mode...).
    PaneModeChanged {
        /// Pane id.
        pane: String,
    },
    /// `%layout-change @N layout ...`.
    LayoutChange {
        /// Window id.
        window: String,
        /// The rest of the line (layouts and flags).
        layout: String,
    },
    /// `%subscription-changed name $S @W index %P ... : value`.
    SubscriptionChanged {
        /// Subscription name.
        name: String,
        /// Session id or `-`.
        session: String,
        /// Window id or `-`.
        window: String,
        /// Window index or `-`.
        window_index: String,
        /// Pane id or `-`.
        pane: String,
        /// The format's value.
        value: String,
    },
    /// `%exit [reason]`: the client is exiting.
    Exit {
        /// Why, if tmux said.
        reason: Option<String>,
    },
    /// `%client-detached <client>`.
    ClientDetached {
        /// The client's name.
        client: String,
    },
    /// `%pause %N` / `%continue %N` (flow control).
    Pause {
        /// Pane id.
        pane: String,
        /// `true` for `%pause`, `false` for `%continue`.
        paused: bool,
    },
    /// Anything else, verbatim (lossily decoded).
    Other(String),
}

/// The `<time> <number> <flags>` of `%begin` / `%end` / `%error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Guard {
    /// Server time (seconds since the epoch).
    pub time: i64,
    /// Command number: the same in a block's begin and end lines.
    pub number: u64,
    /// Flags: bit 0 set for commands sent by this client.
    pub flags: u32,
}

impl Guard {
    /// Whether the block answers a command this client sent (flags bit 0).
    pub fn from_client(&self) -> bool {
        self.flags & 1 == 1
    }
}

/// Parse one control-mode line (with or without its trailing newline). Never panics.
pub fn parse_line(line: &[u8]) -> Line {
    let line = trim_newline(line);
    let other = || Line::Other(String::from_utf8_lossy(line).into_owned());
    let Some(rest) = line.strip_prefix(b"%") else {
        return other();
    };
    let (keyword, args) = match rest.iter().position(|&b| b == b' ') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &b""[..]),
    };
    if keyword == b"output" {
        return match split_word(args) {
            Some((pane, data)) if pane.starts_with('%') => Line::Output {
                pane,
                data: unescape(data),
            },
            _ => other(),
        };
    }
    let args = String::from_utf8_lossy(args);
    let words: Vec<&str> = args.split(' ').collect();
    let word = |i: usize| words.get(i).copied().unwrap_or("").to_owned();
    // Everything after the first `n` words, verbatim.
    let after = |n: usize| args.splitn(n + 1, ' ').nth(n).unwrap_or("").to_owned();
    let has = |n: usize| words.len() >= n && words[..n].iter().all(|w| !w.is_empty());
    let parsed = match keyword {
        b"begin" => guard(&words).map(Line::Begin),
        b"end" => guard(&words).map(Line::End),
        b"error" => guard(&words).map(Line::Error),
        b"window-add" if has(1) => Some(Line::WindowAdd { window: word(0) }),
        b"window-close" if has(1) => Some(Line::WindowClose { window: word(0) }),
        b"unlinked-window-add" if has(1) => Some(Line::UnlinkedWindowAdd { window: word(0) }),
        b"unlinked-window-close" if has(1) => Some(Line::UnlinkedWindowClose { window: word(0) }),
        b"window-renamed" if has(1) => Some(Line::WindowRenamed {
            window: word(0),
            name: after(1),
        }),
        b"unlinked-window-renamed" if has(1) => Some(Line::UnlinkedWindowRenamed {
            window: word(0),
            name: after(1),
        }),
        b"session-changed" if has(1) => Some(Line::SessionChanged {
            session_id: word(0),
            name: after(1),
        }),
        b"session-renamed" if has(1) => Some(if words[0].starts_with('$') {
            Line::SessionRenamed {
                session_id: word(0),
                name: after(1),
            }
        } else {
            Line::SessionRenamed {
                session_id: String::new(),
                name: after(0),
            }
        }),
        b"sessions-changed" => Some(Line::SessionsChanged),
        b"session-window-changed" if has(2) => Some(Line::SessionWindowChanged {
            session_id: word(0),
            window: word(1),
        }),
        b"window-pane-changed" if has(2) => Some(Line::WindowPaneChanged {
            window: word(0),
            pane: word(1),
        }),
        b"pane-mode-changed" if has(1) => Some(Line::PaneModeChanged { pane: word(0) }),
        b"layout-change" if has(1) => Some(Line::LayoutChange {
            window: word(0),
            layout: after(1),
        }),
        b"subscription-changed" => subscription(&args),
        b"exit" => Some(Line::Exit {
            reason: Some(args.into_owned()).filter(|r| !r.is_empty()),
        }),
        b"client-detached" => Some(Line::ClientDetached {
            client: args.into_owned(),
        }),
        b"pause" if has(1) => Some(Line::Pause {
            pane: word(0),
            paused: true,
        }),
        b"continue" if has(1) => Some(Line::Pause {
            pane: word(0),
            paused: false,
        }),
        _ => None,
    };
    parsed.unwrap_or_else(other)
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// First space-separated word as a string, and the bytes after the space.
fn split_word(bytes: &[u8]) -> Option<(String, &[u8])> {
    let (word, rest) = match bytes.iter().position(|&b| b == b' ') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &b""[..]),
    };
    if word.is_empty() {
        return None;
    }
    Some((String::from_utf8_lossy(word).into_owned(), rest))
}

fn guard(words: &[&str]) -> Option<Guard> {
    Some(Guard {
        time: words.first()?.parse().ok()?,
        number: words.get(1)?.parse().ok()?,
        flags: words.get(2).map_or(Some(0), |f| f.parse().ok())?,
    })
}

/// `name $S @W index %P ... : value`.
fn subscription(args: &str) -> Option<Line> {
    let (fields, value) = match args.split_once(" : ") {
        Some((fields, value)) => (fields, value),
        None => (args.strip_suffix(" :")?, ""),
    };
    let mut words = fields.split(' ');
    let mut next = || words.next().unwrap_or("-").to_owned();
    let name = next();
    if name.is_empty() || name == "-" {
        return None;
    }
    Some(Line::SubscriptionChanged {
        name,
        session: next(),
        window: next(),
        window_index: next(),
        pane: next(),
        value: value.to_owned(),
    })
}

/// Undo tmux's `%output` escaping: `\ooo` (three octal digits) is one byte; all else is raw.
pub fn unescape(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'\\'
            && let Some(byte) = octal(data.get(i + 1..i + 4))
        {
            out.push(byte);
            i += 4;
            continue;
        }
        out.push(data[i]);
        i += 1;
    }
    out
}

fn octal(digits: Option<&[u8]>) -> Option<u8> {
    let digits = digits?;
    let mut value: u32 = 0;
    for &d in digits {
        if !(b'0'..=b'7').contains(&d) {
            return None;
        }
        value = value * 8 + u32::from(d - b'0');
    }
    u8::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards() {
        assert_eq!(
            parse_line(b"%begin 1795238729 264 0\n"),
            Line::Begin(Guard {
                time: 1795238729,
                number: 264,
                flags: 0
            })
        );
        let end = parse_line(b"%end 1795238729 269 1");
        assert_eq!(
            end,
            Line::End(Guard {
                time: 1795238729,
                number: 269,
                flags: 1
            })
        );
        let Line::Error(g) = parse_line(b"%error 1 2 1") else {
            panic!()
        };
        assert!(g.from_client());
        assert!(matches!(parse_line(b"%begin x y z"), Line::Other(_)));
        assert!(matches!(parse_line(b"%begin"), Line::Other(_)));
    }

    #[test]
    fn output_is_unescaped_to_raw_bytes() {
        let line = b"%output %1 a\\001b\\134c\xe9d\\015\\012\n";
        assert_eq!(
            parse_line(line),
            Line::Output {
                pane: "%1".into(),
                data: b"a\x01b\\c\xe9d\r\n".to_vec()
            }
        );
        assert_eq!(
            parse_line(b"%output %12 "),
            Line::Output {
                pane: "%12".into(),
                data: vec![]
            }
        );
        assert_eq!(
            parse_line(b"%output %0 \\033[?2004hroot@vm:/tmp# "),
            Line::Output {
                pane: "%0".into(),
                data: b"\x1b[?2004hroot@vm:/tmp# ".to_vec()
            }
        );
        assert!(matches!(parse_line(b"%output"), Line::Other(_)));
    }

    #[test]
    fn malformed_escapes_stay_raw() {
        assert_eq!(unescape(b"\\"), b"\\");
        assert_eq!(unescape(b"a\\9bc"), b"a\\9bc");
        assert_eq!(unescape(b"\\01"), b"\\01");
        assert_eq!(unescape(b"\\777"), b"\\777");
        assert_eq!(unescape(b"\\0011"), b"\x011");
    }

    #[test]
    fn windows_and_sessions() {
        assert_eq!(
            parse_line(b"%window-add @1"),
            Line::WindowAdd {
                window: "@1".into()
            }
        );
        assert_eq!(
            parse_line(b"%window-close @7\n"),
            Line::WindowClose {
                window: "@7".into()
            }
        );
        assert_eq!(
            parse_line(b"%unlinked-window-close @1"),
            Line::UnlinkedWindowClose {
                window: "@1".into()
            }
        );
        assert_eq!(
            parse_line(b"%unlinked-window-add @4"),
            Line::UnlinkedWindowAdd {
                window: "@4".into()
            }
        );
        assert_eq!(
            parse_line(b"%window-renamed @1 my agent"),
            Line::WindowRenamed {
                window: "@1".into(),
                name: "my agent".into()
            }
        );
        assert_eq!(
            parse_line(b"%session-changed $0 s"),
            Line::SessionChanged {
                session_id: "$0".into(),
                name: "s".into()
            }
        );
        assert_eq!(parse_line(b"%sessions-changed"), Line::SessionsChanged);
        assert_eq!(
            parse_line(b"%session-window-changed $1 @2"),
            Line::SessionWindowChanged {
                session_id: "$1".into(),
                window: "@2".into()
            }
        );
        assert_eq!(
            parse_line(b"%pane-mode-changed %3"),
            Line::PaneModeChanged { pane: "%3".into() }
        );
        assert_eq!(
            parse_line(b"%layout-change @0 b25d,80x24,0,0,0 b25d,80x24,0,0,0 *"),
            Line::LayoutChange {
                window: "@0".into(),
                layout: "b25d,80x24,0,0,0 b25d,80x24,0,0,0 *".into()
            }
        );
        assert!(matches!(parse_line(b"%window-add"), Line::Other(_)));
    }

    #[test]
    fn subscriptions() {
        assert_eq!(
            parse_line(b"%subscription-changed x $0 @1 1 %1 : 0"),
            Line::SubscriptionChanged {
                name: "x".into(),
                session: "$0".into(),
                window: "@1".into(),
                window_index: "1".into(),
                pane: "%1".into(),
                value: "0".into(),
            }
        );
        assert_eq!(
            parse_line(b"%subscription-changed s $0 - - - : a : b"),
            Line::SubscriptionChanged {
                name: "s".into(),
                session: "$0".into(),
                window: "-".into(),
                window_index: "-".into(),
                pane: "-".into(),
                value: "a : b".into(),
            }
        );
        let Line::SubscriptionChanged { value, pane, .. } =
            parse_line(b"%subscription-changed d $0 @1 1 %1 :")
        else {
            panic!()
        };
        assert_eq!((value.as_str(), pane.as_str()), ("", "%1"));
        assert!(matches!(
            parse_line(b"%subscription-changed"),
            Line::Other(_)
        ));
    }

    #[test]
    fn exit_and_others() {
        assert_eq!(parse_line(b"%exit"), Line::Exit { reason: None });
        assert_eq!(
            parse_line(b"%exit server exited"),
            Line::Exit {
                reason: Some("server exited".into())
            }
        );
        assert_eq!(
            parse_line(b"%client-detached /dev/pts/1"),
            Line::ClientDetached {
                client: "/dev/pts/1".into()
            }
        );
        assert_eq!(
            parse_line(b"%pause %1"),
            Line::Pause {
                pane: "%1".into(),
                paused: true
            }
        );
        assert_eq!(parse_line(b"hello"), Line::Other("hello".into()));
        assert_eq!(
            parse_line(b"%future-thing 1 2"),
            Line::Other("%future-thing 1 2".into())
        );
        assert_eq!(parse_line(b""), Line::Other(String::new()));
        assert_eq!(parse_line(b"%"), Line::Other("%".into()));
        assert_eq!(
            parse_line(b"%\xff\xfe"),
            Line::Other("%\u{fffd}\u{fffd}".into())
        );
    }
}
