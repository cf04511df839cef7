//! The command line.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::script::Persona;

/// The usage text printed by `--help`.
pub const USAGE: &str = "\
Usage: baton-fake-agent [OPTIONS]

A scriptable fake coding-agent CLI for tests and demos.

Options:
      --persona <NAME>  claude, codex, amp or gemini (default: claude)
      --script <FILE>   TOML script (default: $BATON_FAKE_SCRIPT)
      --log <FILE>      append every submitted prompt to FILE
      --events <FILE>   append one line per event to FILE
      --quota <N>       show the quota footer with N% used
      --settings <JSON> accepted as Claude Code does (hooks, statusLine); kept, not applied
  -c <KEY=VALUE>        accepted as Codex does (config override); kept, not applied
  -h, --help            print this help

A script is TOML: screen settings and defaults at the top, then [[task]] entries tried in
order on each submitted prompt (the first that matches is used, once unless repeat = true):

  persona = \"codex\"
  quota_percent = 40
  [[task]]
  match = \"T-001\"
  work_ms = 2000
  write = [{ path = \"a.txt\", content = \"hi\\n\" }]
  run = [\"baton task done \\\"$BATON_FAKE_TASK\\\"\"]

Other keys: permission, hang, crash, limit_reached, limit_after_ms, quota_to,
credits_exhausted, reply, ...; an unknown key is an error naming its line.
Commands in a script's `run` list see $BATON_FAKE_SEQ (the prompt's number) and
$BATON_FAKE_TASK (the task ID the prompt names, e.g. after TASK_ID:).
Every key, with examples: docs/fake-agent.md.
";

/// Parsed command-line options; each one overrides the script.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `--persona`.
    pub persona: Option<Persona>,
    /// `--script`.
    pub script: Option<PathBuf>,
    /// `--log`.
    pub log: Option<PathBuf>,
    /// `--events`.
    pub events: Option<PathBuf>,
    /// `--quota`.
    pub quota: Option<u32>,
    /// `--settings` and `-c` values, as given (the real CLIs' hook wiring).
    pub passthrough: Vec<String>,
    /// `--help`.
    pub help: bool,
}

/// Parses the arguments (without the program name); the error is a one-line message.
pub fn parse(args: Vec<OsString>) -> Result<Options, String> {
    let mut opts = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let Some(arg) = arg.to_str().map(str::to_owned) else {
            return Err(format!("unexpected argument {}", arg.to_string_lossy()));
        };
        if arg == "-h" || arg == "--help" {
            opts.help = true;
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(OsString::from(v))),
            _ => (arg.clone(), None),
        };
        if !matches!(
            flag.as_str(),
            "--persona" | "--script" | "--log" | "--events" | "--quota" | "--settings" | "-c"
        ) {
            return Err(format!("unexpected argument '{arg}'"));
        }
        let Some(value) = inline.or_else(|| args.next()) else {
            return Err(format!("{flag} needs a value"));
        };
        match flag.as_str() {
            "--persona" => {
                let name = value.to_string_lossy();
                opts.persona = Some(Persona::from_name(&name).ok_or_else(|| {
                    format!("unknown persona '{name}' (expected claude, codex, amp or gemini)")
                })?);
            }
            "--script" => opts.script = Some(PathBuf::from(value)),
            "--settings" | "-c" => opts
                .passthrough
                .push(format!("{flag} {}", value.to_string_lossy())),
            "--log" => opts.log = Some(PathBuf::from(value)),
            "--events" => opts.events = Some(PathBuf::from(value)),
            _ => {
                let text = value.to_string_lossy();
                let n: u32 = text
                    .parse()
                    .map_err(|_| format!("--quota needs a whole number, not '{text}'"))?;
                opts.quota = Some(n.min(100));
            }
        }
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_real_clis_hook_flags_are_accepted() {
        let o = parse(args(&[
            "--settings",
            "{\"hooks\":{}}",
            "-c",
            "notify=[\"x\"]",
        ]))
        .unwrap();
        assert_eq!(o.passthrough.len(), 2);
    }

    #[test]
    fn parses_every_flag() {
        let o = parse(args(&[
            "--persona",
            "codex",
            "--script=s.toml",
            "--log",
            "p.log",
            "--events",
            "e.log",
            "--quota",
            "42",
        ]))
        .unwrap();
        assert_eq!(o.persona, Some(Persona::Codex));
        assert_eq!(o.script, Some(PathBuf::from("s.toml")));
        assert_eq!(o.log, Some(PathBuf::from("p.log")));
        assert_eq!(o.events, Some(PathBuf::from("e.log")));
        assert_eq!(o.quota, Some(42));
        assert!(!o.help);
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(parse(args(&["--bogus"])).is_err());
        assert!(parse(args(&["--persona"])).is_err());
        assert!(parse(args(&["--persona", "cursor"])).is_err());
        assert!(parse(args(&["--quota", "lots"])).is_err());
        assert!(parse(args(&["extra"])).is_err());
        assert!(parse(args(&["--help"])).unwrap().help);
    }

    /// The script format is documented in docs/fake-agent.md, which `--help` names: every
    /// key is there, and every TOML example of it loads.
    #[test]
    fn the_script_format_is_documented() {
        assert!(USAGE.contains("docs/fake-agent.md"), "{USAGE}");
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/fake-agent.md");
        let doc = std::fs::read_to_string(&path).expect("docs/fake-agent.md");
        for key in [
            "persona",
            "log",
            "events",
            "start_delay_ms",
            "trust_dialog",
            "model_menu",
            "swallow_first_enter",
            "quota_percent",
            "quota_step",
            "quota_window",
            "quota_reset",
            "limit_at",
            "default_work_ms",
            "default_reply",
            "report",
            "[[task]]",
            "match",
            "work_ms",
            "reply",
            "write",
            "run",
            "permission",
            "hang",
            "crash",
            "limit_reached",
            "quota_to",
            "limit_after_ms",
            "credits_exhausted",
            "repeat",
            "BATON_FAKE_TASK",
            "BATON_FAKE_SEQ",
        ] {
            assert!(
                doc.contains(&format!("`{key}`")),
                "`{key}` is not in docs/fake-agent.md"
            );
        }
        let mut examples = 0;
        let mut block: Option<String> = None;
        for line in doc.lines() {
            match (&mut block, line) {
                (None, "```toml") => block = Some(String::new()),
                (Some(text), "```") => {
                    crate::script::Script::parse(text)
                        .unwrap_or_else(|e| panic!("docs/fake-agent.md example:\n{text}\n{e}"));
                    examples += 1;
                    block = None;
                }
                (Some(text), l) => {
                    text.push_str(l);
                    text.push('\n');
                }
                (None, _) => {}
            }
        }
        assert!(examples >= 3, "{examples} TOML examples");
    }
}
