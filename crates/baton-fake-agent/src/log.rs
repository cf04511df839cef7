//! The prompt log and the event log, and readers for both.

use std::fs::File;
use std::fs::OpenOptions;
use std::io;
use std::io::Write;
use std::path::Path;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

fn open_append(path: &Path) -> io::Result<File> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Returns one prompt-log record: a header line, the prompt bytes, and a newline.
pub fn prompt_record(seq: u64, prompt: &[u8]) -> Vec<u8> {
    let mut record = format!("--- prompt {seq} bytes={} ---\n", prompt.len()).into_bytes();
    record.extend_from_slice(prompt);
    record.push(b'\n');
    record
}

/// Appends submitted prompts to a file, byte for byte.
#[derive(Debug)]
pub struct PromptLog {
    file: File,
}

impl PromptLog {
    /// Opens (creating it and its parents) the prompt log at `path` for appending.
    pub fn open(path: &Path) -> io::Result<PromptLog> {
        Ok(PromptLog {
            file: open_append(path).map_err(|e| with_path(path, e))?,
        })
    }

    /// Appends one record with a single write.
    pub fn append(&mut self, seq: u64, prompt: &[u8]) -> io::Result<()> {
        self.file.write_all(&prompt_record(seq, prompt))?;
        self.file.flush()
    }
}

/// Reads a prompt log and returns each prompt's bytes, in order.
pub fn read_prompt_log(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    parse_prompt_log(&std::fs::read(path)?)
}

/// Parses the bytes of a prompt log.
pub fn parse_prompt_log(data: &[u8]) -> io::Result<Vec<Vec<u8>>> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let mut prompts = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let eol = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("prompt log: header without a newline".to_owned()))?;
        let header = std::str::from_utf8(&rest[..eol])
            .map_err(|_| bad("prompt log: header is not UTF-8".to_owned()))?;
        let len = header
            .strip_prefix("--- prompt ")
            .and_then(|h| h.strip_suffix(" ---"))
            .and_then(|h| h.split_once(" bytes="))
            .filter(|(seq, _)| seq.parse::<u64>().is_ok())
            .and_then(|(_, len)| len.parse::<usize>().ok())
            .ok_or_else(|| bad(format!("prompt log: bad header {header:?}")))?;
        let body = &rest[eol + 1..];
        if body.len() < len + 1 || body[len] != b'\n' {
            return Err(bad(format!("prompt log: record {header:?} is cut short")));
        }
        prompts.push(body[..len].to_vec());
        rest = &body[len + 1..];
    }
    Ok(prompts)
}

/// One line of the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// The event's kind (`submit`, `key`, `work-done`…).
    pub kind: String,
    /// The rest of the line, unescaped (may be empty).
    pub detail: String,
}

/// Appends events, one line each; does nothing when no file was given.
#[derive(Debug, Default)]
pub struct EventLog {
    file: Option<File>,
}

impl EventLog {
    /// Opens (creating it and its parents) the event log at `path` for appending.
    pub fn open(path: &Path) -> io::Result<EventLog> {
        Ok(EventLog {
            file: Some(open_append(path).map_err(|e| with_path(path, e))?),
        })
    }

    /// Returns a log that drops every event.
    pub fn disabled() -> EventLog {
        EventLog::default()
    }

    /// Appends one event; write errors are ignored (the log is a test aid).
    pub fn log(&mut self, kind: &str, detail: &str) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let line = if detail.is_empty() {
            format!("{ms} {kind}\n")
        } else {
            format!("{ms} {kind} {}\n", escape(detail))
        };
        let _ = file.write_all(line.as_bytes());
        let _ = file.flush();
    }
}

/// Escapes backslashes, newlines and carriage returns so a detail stays on one line.
pub fn escape(detail: &str) -> String {
    let mut out = String::with_capacity(detail.len());
    for c in detail.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// Reverses [`escape`].
pub fn unescape(detail: &str) -> String {
    let mut out = String::with_capacity(detail.len());
    let mut chars = detail.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Reads an event log.
pub fn read_events(path: &Path) -> io::Result<Vec<Event>> {
    let text = String::from_utf8_lossy(&std::fs::read(path)?).into_owned();
    parse_events(&text)
}

/// Parses the text of an event log.
pub fn parse_events(text: &str) -> io::Result<Vec<Event>> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("bad event {line:?}"));
            let (ms, rest) = line.split_once(' ').ok_or_else(bad)?;
            let unix_ms = ms.parse().map_err(|_| bad())?;
            let (kind, detail) = rest.split_once(' ').unwrap_or((rest, ""));
            Ok(Event {
                unix_ms,
                kind: kind.to_owned(),
                detail: unescape(detail),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_format_is_exact() {
        assert_eq!(
            prompt_record(1, b"hi"),
            b"--- prompt 1 bytes=2 ---\nhi\n".to_vec()
        );
        assert_eq!(
            prompt_record(7, b""),
            b"--- prompt 7 bytes=0 ---\n\n".to_vec()
        );
    }

    #[test]
    fn prompt_log_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/prompts.log");
        let all_bytes: Vec<u8> = (0..=255u8).collect();
        let big: Vec<u8> = (0..64 * 1024).map(|i| (i * 7 % 251) as u8).collect();
        let prompts: Vec<Vec<u8>> = vec![
            b"hello".to_vec(),
            "Café crème 🎉 $(rm -rf ~) `x`\tend\n".as_bytes().to_vec(),
            Vec::new(),
            b"--- prompt 9 bytes=3 ---\nfake header inside\n".to_vec(),
            all_bytes,
            big,
            b"\n\n".to_vec(),
        ];
        let mut log = PromptLog::open(&path).unwrap();
        for (i, p) in prompts.iter().enumerate() {
            log.append(i as u64 + 1, p).unwrap();
        }
        assert_eq!(read_prompt_log(&path).unwrap(), prompts);
    }

    #[test]
    fn cut_prompt_log_is_an_error() {
        let mut data = prompt_record(1, b"abcdef");
        data.truncate(data.len() - 3);
        assert!(parse_prompt_log(&data).is_err());
        assert!(parse_prompt_log(b"garbage\n").is_err());
        assert_eq!(parse_prompt_log(b"").unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn event_log_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.log");
        let mut log = EventLog::open(&path).unwrap();
        log.log("ready", "");
        log.log("run", "echo a\nb \\ c -> 0");
        log.log("submit", "1 5");
        let events = read_events(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].kind, "ready");
        assert_eq!(events[0].detail, "");
        assert_eq!(events[1].detail, "echo a\nb \\ c -> 0");
        assert_eq!(events[2].kind, "submit");
        assert_eq!(events[2].detail, "1 5");
        assert!(events[0].unix_ms > 1_600_000_000_000);
        EventLog::disabled().log("ignored", "x");
    }
}
