//! Pasting exact bytes into panes, and refusing shells and dead panes.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use baton_tmux::{Key, PaneInfo, PasteReport, SendError};
use common::{
    TestServer, big_text, cr_to_lf, kill, mortal_window, read_when_len, recorder, session_running,
    wait_for, wait_for_command, wait_for_text,
};

const TEXTS: &[&str] = &[
    "Réécris l'énoncé : çà et là, œuvre naïve, « guillemets » — Noël",
    "emoji 🎉 👩‍💻 ✨ 🇫🇷",
    "$(rm -rf ~) and `whoami` and \"double\" 'single' \\ backslash ${HOME} !! ; | & > <",
    "col1\tcol2\t\tcol3",
    "line one\nline two\n\nline four\n",
];

/// A private server whose pane records its raw input (see `recorder`).
struct Recording {
    server: TestServer,
    pane: PaneInfo,
    /// The file the input goes to.
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Recording {
    fn start(bracketed: bool) -> Recording {
        let server = TestServer::new();
        let dir = tempfile::tempdir().unwrap();
        let (pane, out) = recorder(&server.tmux, dir.path(), bracketed);
        Recording {
            server,
            pane,
            out,
            _dir: dir,
        }
    }

    fn paste(&self, text: &str) -> Result<PasteReport, SendError> {
        self.server.tmux.paste(&self.pane.pane_id, text)
    }

    /// The pane's input once it holds `len` bytes, its CRs read as LFs (the pane is raw).
    fn received(&self, len: usize) -> Vec<u8> {
        cr_to_lf(&read_when_len(&self.out, len))
    }
}

/// Every text of `TEXTS`, then `big_text()`.
fn all_texts() -> Vec<String> {
    let mut texts: Vec<String> = TEXTS.iter().map(|t| t.to_string()).collect();
    texts.push(big_text());
    texts
}

#[test]
fn paste_delivers_exact_bytes() {
    let rec = Recording::start(false);
    let mut expected = String::new();
    for text in &all_texts() {
        let report = rec.paste(text).unwrap();
        assert_eq!(report.bytes, text.len());
        assert!(report.stripped.is_empty());
        assert!(report.buffer.starts_with("baton-"));
        expected.push_str(text);
        let got = rec.received(expected.len());
        assert_eq!(String::from_utf8_lossy(&got), expected);
    }
    // The buffers were deleted after pasting.
    let buffers = rec
        .server
        .tmux
        .run(&["list-buffers", "-F", "#{buffer_name}"])
        .unwrap();
    assert!(!buffers.contains("baton-"), "{buffers}");
}

#[test]
fn paste_uses_bracketed_paste_when_enabled() {
    let rec = Recording::start(true);
    let mut expected = Vec::new();
    for text in &all_texts() {
        rec.paste(text).unwrap();
        expected.extend_from_slice(b"\x1b[200~");
        expected.extend_from_slice(text.as_bytes());
        expected.extend_from_slice(b"\x1b[201~");
        let got = rec.received(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected)
        );
    }
}

#[test]
fn control_characters_are_stripped_and_reported() {
    let rec = Recording::start(false);
    let text = "before\x1b[31mred\x1b[0m after\x07\r\n\u{9b}2J end\x1b]0;title\x07";
    let report = rec.paste(text).unwrap();
    // Whole sequences go, not only their ESC.
    let clean = "beforered after\n end";
    assert_eq!(report.bytes, clean.len());
    let stripped: Vec<(usize, &str)> = report
        .stripped
        .iter()
        .map(|s| (s.offset, s.removed.as_str()))
        .collect();
    assert_eq!(
        stripped,
        vec![
            (6, "\x1b[31m"),
            (14, "\x1b[0m"),
            (24, "\x07"),
            (25, "\r"),
            (27, "\u{9b}2J"),
            (35, "\x1b]0;title\x07"),
        ]
    );
    let got = rec.received(clean.len());
    assert_eq!(String::from_utf8_lossy(&got), clean);
    assert!(!got.contains(&0x1b));

    assert!(matches!(rec.paste(""), Err(SendError::Empty)));
    assert!(matches!(rec.paste("\x1b\r\x07"), Err(SendError::Empty)));
}

#[test]
fn paste_into_a_shell_is_refused_and_types_nothing() {
    let server = TestServer::new();
    let tmux = &server.tmux;
    let pane = session_running(tmux, "sh", "exec bash --norc", "bash");
    let before = wait_for_text(tmux, &pane.pane_id, "bash-");
    let err = tmux.paste(&pane.pane_id, "echo pwned").unwrap_err();
    match &err {
        SendError::ShellInForeground { target, command } => {
            assert_eq!(target, &pane.pane_id);
            assert_eq!(command, "bash");
        }
        other => panic!("unexpected {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("refusing to type into pane") && message.contains("`bash`"),
        "{message}"
    );
    // Anything typed would show up before this marker.
    tmux.run(&["send-keys", "-l", "-t", &pane.pane_id, "MARKER"])
        .unwrap();
    let text = wait_for_text(tmux, &pane.pane_id, "MARKER");
    let prompt = before
        .lines()
        .find(|l| l.starts_with("bash-"))
        .unwrap()
        .trim_end();
    assert!(
        text.lines()
            .any(|l| l.trim_end() == format!("{prompt} MARKER")),
        "{text:?}"
    );
    assert!(!text.contains("pwned"));
}

#[test]
fn paste_into_a_dead_pane_is_refused() {
    let (server, _first) = TestServer::with_session();
    let tmux = &server.tmux;
    let pane = mortal_window(tmux, "dying");
    wait_for_command(tmux, &pane.pane_id, "sleep");
    kill(pane.pid);
    let dead = wait_for(Duration::from_secs(5), || {
        tmux.pane(&pane.pane_id).ok().filter(|p| p.dead)
    });
    assert!(dead.is_some());
    let err = tmux.paste(&pane.pane_id, "hello").unwrap_err();
    assert!(matches!(err, SendError::PaneDead { .. }), "{err:?}");
    assert!(matches!(
        tmux.paste("%999", "hello"),
        Err(SendError::Tmux(_))
    ));
}

#[test]
fn paste_then_enter() {
    let server = TestServer::new();
    let tmux = &server.tmux;
    let pane = session_running(tmux, "cat", "exec cat", "cat");
    tmux.paste(&pane.pane_id, "hello there").unwrap();
    wait_for_text(tmux, &pane.pane_id, "hello there");
    tmux.send_key(&pane.pane_id, Key::Enter).unwrap();
    let twice = wait_for(Duration::from_secs(5), || {
        let text = tmux.capture(&pane.pane_id, Default::default()).ok()?;
        (text.matches("hello there").count() == 2).then_some(text)
    });
    assert!(
        twice.is_some(),
        "{:?}",
        tmux.capture(&pane.pane_id, Default::default())
    );
}
