//! Writing a tmux command as one control-mode line, every argument exact.
//!
//! A control client's input goes through tmux's command parser, not `argv`: unquoted `#`
//! starts a comment, `;` ends a command, `$NAME` and a leading `~` are expanded (also inside
//! double quotes), and a newline ends the line. So each argument is put in double quotes
//! with `\`, `"`, `$` and `~` escaped and every control byte written as an octal escape
//! (`\012`); the parser turns these back into the very bytes (tmux 3.3a, checked by the
//! tests). Text that is not UTF-8 is escaped byte by byte too, so any argument fits.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;

/// Quotes one argument (any bytes) for tmux's command parser, on one line.
pub fn quote_word(arg: &[u8]) -> String {
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for chunk in arg.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' | '"' | '$' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                c if c.is_ascii_control() => push_octal(&mut out, c as u8),
                c => out.push(c),
            }
        }
        for &b in chunk.invalid() {
            push_octal(&mut out, b);
        }
    }
    out.push('"');
    out
}

fn push_octal(out: &mut String, byte: u8) {
    out.push_str(&format!("\\{byte:03o}"));
}

/// A tmux command (`args`, as given to the `tmux` binary) as one control-mode line: a lone
/// `;` stays a separator between commands, as on tmux's command line; every other argument
/// is quoted with [`quote_word`].
pub fn command_line<S: AsRef<OsStr>>(args: &[S]) -> String {
    args.iter()
        .map(|a| {
            let bytes = a.as_ref().as_bytes();
            if bytes == b";" {
                ";".to_owned()
            } else {
                quote_word(bytes)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_escaped_for_the_parser() {
        assert_eq!(quote_word(b"plain"), "\"plain\"");
        assert_eq!(quote_word(b""), "\"\"");
        assert_eq!(
            quote_word(b"~a $HOME \"q\" \\ #{x}; {y} 's"),
            r#""\~a \$HOME \"q\" \\ #{x}; {y} 's""#
        );
        assert_eq!(quote_word(b"a\nb\tc\x1b\x7f"), r#""a\012b\011c\033\177""#);
        assert_eq!(quote_word("é日本🎉".as_bytes()), "\"é日本🎉\"");
        assert_eq!(quote_word(b"\xff\xc3"), r#""\377\303""#);
    }

    #[test]
    fn a_command_line_keeps_lone_semicolons() {
        assert_eq!(
            command_line(&["capture-pane", "-t", "%1", ";", "display-message", "x;"]),
            r#""capture-pane" "-t" "%1" ; "display-message" "x;""#
        );
    }
}
