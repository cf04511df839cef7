//! [`Launcher`]: reaching a tmux server on another host, `ssh <args> -- host '<tmux …>'`.
//!
//! ssh sends its command to the remote user's shell as one string, which that shell splits
//! again into words; so every word of the tmux command line is quoted here for a POSIX shell,
//! byte for byte, and handed to ssh as a single last argument.

use std::ffi::OsStr;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::ffi::OsStringExt as _;
use std::path::PathBuf;
use std::process::Command;

/// The program and arguments that run a command line on the tmux server's host, such as
/// `ssh -o BatchMode=yes … -- dev@gpu1` (the command line is added as the last argument).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launcher {
    program: PathBuf,
    args: Vec<String>,
}

impl Launcher {
    /// `ssh` (from `PATH`) with these arguments: options, `--` and the destination, without
    /// a remote command (what `baton_core::ssh::ssh_args` returns when given none).
    pub fn ssh(args: Vec<String>) -> Launcher {
        Launcher::new("ssh", args)
    }

    /// Any program that runs its last argument as a POSIX shell command line, e.g. `sh -c`
    /// (the same machine) or a wrapper around ssh.
    pub fn new(program: impl Into<PathBuf>, args: Vec<String>) -> Launcher {
        Launcher {
            program: program.into(),
            args,
        }
    }

    /// The program run.
    pub fn program(&self) -> &std::path::Path {
        &self.program
    }

    /// Its arguments before the command line.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// A command running `words` there: the launcher's arguments, then `words` quoted for a
    /// POSIX shell as one argument.
    pub fn command<S: AsRef<OsStr>>(&self, words: &[S]) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).arg(command_line(words));
        cmd
    }
}

/// Quotes one word for a POSIX shell: as it is when it has only safe characters, else in
/// single quotes (any byte but `'` stands for itself there; `'` becomes `'\''`).
pub(crate) fn shell_quote(word: &OsStr) -> OsString {
    let bytes = word.as_bytes();
    let safe = |b: &u8| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(b);
    if !bytes.is_empty() && bytes.iter().all(safe) {
        return word.to_owned();
    }
    let mut out = Vec::with_capacity(bytes.len() + 2);
    out.push(b'\'');
    for &b in bytes {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    OsString::from_vec(out)
}

/// `words` quoted for a POSIX shell and joined by spaces: one command line.
pub(crate) fn command_line<S: AsRef<OsStr>>(words: &[S]) -> OsString {
    let mut line = OsString::new();
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            line.push(" ");
        }
        line.push(shell_quote(word.as_ref()));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(word: &str) -> String {
        shell_quote(OsStr::new(word)).into_string().unwrap()
    }

    #[test]
    fn words_are_quoted_for_a_posix_shell() {
        assert_eq!(quoted("tmux"), "tmux");
        assert_eq!(quoted("baton-p@gpu1"), "baton-p@gpu1");
        assert_eq!(quoted("=main"), "=main");
        assert_eq!(quoted(""), "''");
        assert_eq!(quoted("a b"), "'a b'");
        assert_eq!(quoted("it's $(x) `y`\n"), "'it'\\''s $(x) `y`\n'");
        assert_eq!(quoted("#{pane_id}"), "'#{pane_id}'");
        assert_eq!(quoted("~"), "'~'");
    }

    #[test]
    fn a_launcher_adds_the_command_line_as_its_last_argument() {
        let launcher = Launcher::ssh(vec!["-p".into(), "2222".into(), "--".into(), "h".into()]);
        let cmd = launcher.command(&["tmux", "-L", "s@h", "display-message", "-p", "#{pid}"]);
        assert_eq!(cmd.get_program(), "ssh");
        let args: Vec<&OsStr> = cmd.get_args().collect();
        assert_eq!(
            args,
            [
                "-p",
                "2222",
                "--",
                "h",
                "tmux -L s@h display-message -p '#{pid}'"
            ]
        );
    }

    #[test]
    fn the_command_line_comes_back_word_for_word_from_sh() {
        let words = [
            "printf",
            "%s|",
            "it's",
            "$(echo no)",
            "`no`",
            "back\\slash",
            "two\nlines",
            "",
            "~",
            "*",
            "é日本",
        ];
        let out = Launcher::new("sh", vec!["-c".into()])
            .command(&words)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let want: String = words[2..].iter().map(|w| format!("{w}|")).collect();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want);
    }
}
