//! How prompts name baton so that an agent's shell finds it.
//!
//! `baton up` puts baton's own directory first on each agent's PATH, but some CLIs run their
//! commands in a login shell (Codex: `bash -lc`), whose profile sets PATH anew from the
//! system's files: a baton that is not installed on that PATH (run from `target/release`,
//! say) is then "command not found", and the agent's report never arrives. So prompts say
//! `baton` only when a login shell started from a clean environment (the system PATH, plus
//! what the user's profile adds) finds this very binary; otherwise they give its absolute
//! path. Prompts use a look-up in the system PATH's directories, once per process;
//! `baton doctor` asks a real login shell.

use std::io::Read as _;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

/// How long a login shell may take to start (a slow profile) before baton gives up on it.
const LOOKUP_DEADLINE: Duration = Duration::from_secs(5);

/// What a login shell finds for `baton`, compared with the running binary.
#[derive(Clone, Debug)]
pub struct Lookup {
    /// The running baton (canonical), when the OS tells.
    pub exe: Option<PathBuf>,
    /// What `command -v baton` printed in a login shell; `Err` when no shell could say.
    pub found: Result<Option<PathBuf>, String>,
}

impl Lookup {
    /// Whether a login shell runs this very baton for `baton`.
    pub fn finds_this(&self) -> bool {
        match (&self.exe, &self.found) {
            (Some(exe), Ok(Some(found))) => std::fs::canonicalize(found).is_ok_and(|f| f == *exe),
            _ => false,
        }
    }

    /// baton's absolute path, quoted for a shell when it needs to be (`baton` when unknown).
    pub fn path(&self) -> String {
        self.exe.as_deref().map_or_else(
            || "baton".to_owned(),
            |p| shell_word(&p.display().to_string()),
        )
    }

    /// The command prompts use: `baton`, or the absolute path when a login shell would not
    /// find this baton under that name.
    pub fn command(&self) -> String {
        if self.finds_this() {
            "baton".to_owned()
        } else {
            self.path()
        }
    }

    /// One line on what a login shell finds.
    pub fn describe(&self) -> String {
        match &self.found {
            Ok(Some(p)) => format!("a login shell finds `baton` at {}", p.display()),
            Ok(None) => "a login shell does not find `baton`".to_owned(),
            Err(e) => format!("cannot ask a login shell: {e}"),
        }
    }
}

/// The directories of the PATH a login shell's system profile sets (/etc/profile and its
/// kind), everywhere.
const SYSTEM_PATH: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

fn this_exe() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|e| std::fs::canonicalize(e).ok())
}

/// The look-up prompts use, done once per process without starting a shell: `baton` is found
/// in the system PATH's directories, or not. (A login shell can take long to start — a
/// profile waiting on a lock — and every daemon start would pay for it; `baton doctor` asks a
/// real login shell, [`login_shell_lookup`].)
pub fn lookup() -> &'static Lookup {
    static LOOKUP: OnceLock<Lookup> = OnceLock::new();
    LOOKUP.get_or_init(|| Lookup {
        exe: this_exe(),
        found: Ok(SYSTEM_PATH
            .iter()
            .map(|d| Path::new(d).join("baton"))
            .find(|p| p.is_file())),
    })
}

/// What a real login shell finds for `baton` (it may take up to 5 s): for `baton doctor`.
pub fn login_shell_lookup() -> Lookup {
    Lookup {
        exe: this_exe(),
        found: login_shell_which(),
    }
}

/// Runs `command -v baton` in a login shell (bash, else sh) from a clean environment: only
/// HOME, USER, LOGNAME and LANG are kept, so PATH is what the system's and the user's
/// profiles make it — not the caller's.
fn login_shell_which() -> Result<Option<PathBuf>, String> {
    let mut last = String::new();
    for shell in ["bash", "sh"] {
        let mut cmd = Command::new(shell);
        cmd.args(["-lc", "command -v baton"])
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for key in ["HOME", "USER", "LOGNAME", "LANG"] {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        match output_within(cmd, LOOKUP_DEADLINE) {
            Ok(out) => {
                // The last line: a profile may print on stdout first.
                let line = out.lines().last().unwrap_or("").trim().to_owned();
                return Ok(Path::new(&line).is_absolute().then(|| PathBuf::from(line)));
            }
            Err(e) => last = format!("{shell}: {e}"),
        }
    }
    Err(last)
}

/// Runs `cmd` and returns its stdout, killing it after `deadline`.
fn output_within(mut cmd: Command, deadline: Duration) -> Result<String, String> {
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    let mut stdout = child.stdout.take();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_string(&mut text);
        }
        let _ = tx.send(text);
    });
    match rx.recv_timeout(deadline) {
        Ok(text) => {
            let _ = child.wait();
            Ok(text)
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("no answer within {} s", deadline.as_secs()))
        }
    }
}

/// Quotes a word for a POSIX shell unless it is made of plain characters only.
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%=".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(shell_word("/opt/baton/bin/baton"), "/opt/baton/bin/baton");
        assert_eq!(shell_word("/home/a b/baton"), "'/home/a b/baton'");
        assert_eq!(shell_word("/x/it's/baton"), "'/x/it'\\''s/baton'");
    }

    #[test]
    fn the_command_is_the_path_unless_a_login_shell_finds_this_binary() {
        let exe = PathBuf::from("/nowhere/target/release/baton");
        let not_found = Lookup {
            exe: Some(exe.clone()),
            found: Ok(None),
        };
        assert_eq!(not_found.command(), "/nowhere/target/release/baton");
        let other = Lookup {
            exe: Some(exe.clone()),
            found: Ok(Some(PathBuf::from("/usr/bin/true"))),
        };
        assert_eq!(other.command(), "/nowhere/target/release/baton");
        let failed = Lookup {
            exe: Some(exe),
            found: Err("bash: no".into()),
        };
        assert_eq!(failed.command(), "/nowhere/target/release/baton");
        // The test binary itself, found under its own path: `baton`.
        let me = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
        let found = Lookup {
            exe: Some(me.clone()),
            found: Ok(Some(me)),
        };
        assert_eq!(found.command(), "baton");
    }
}
