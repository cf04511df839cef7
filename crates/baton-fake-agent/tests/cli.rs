//! Runs the binary without a terminal: help, bad flags and bad scripts.

use std::process::Command;

fn agent(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_baton-fake-agent"))
        .args(args)
        .env_remove("BATON_FAKE_SCRIPT")
        .output()
        .expect("run baton-fake-agent")
}

#[test]
fn help_prints_usage() {
    let out = agent(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--persona"));
}

#[test]
fn unknown_flag_exits_2() {
    let out = agent(&["--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--frobnicate"));
}

#[test]
fn bad_script_names_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        "persona = \"claude\"\n[[task]]\nwork_ms = 10\nbogus = true\n",
    )
    .expect("write script");
    let out = agent(&["--script", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.toml"), "{err}");
    assert!(err.contains("line 4"), "{err}");
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn script_from_environment_is_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("env.toml");
    std::fs::write(&path, "persona = \"nobody\"\n").expect("write script");
    let out = Command::new(env!("CARGO_BIN_EXE_baton-fake-agent"))
        .env("BATON_FAKE_SCRIPT", &path)
        .output()
        .expect("run baton-fake-agent");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("env.toml"));
}
