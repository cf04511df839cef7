//! `baton-fake-model --script FILE.json [--log FILE.jsonl] [--port-file FILE]`: serves the
//! scripted fake model on 127.0.0.1 (random port) until killed. Prints
//! `listening on 127.0.0.1:PORT` as its first line.

use std::path::PathBuf;
use std::process::ExitCode;

use baton_fake_model::FakeModel;
use baton_fake_model::Script;

fn main() -> ExitCode {
    let mut script = None;
    let mut log = None;
    let mut port_file = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |what: &str| {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{what} needs a value"))
        };
        let r = match a.as_str() {
            "--script" => value("--script").map(|v| script = Some(v)),
            "--log" => value("--log").map(|v| log = Some(v)),
            "--port-file" => value("--port-file").map(|v| port_file = Some(v)),
            "-h" | "--help" => {
                println!(
                    "usage: baton-fake-model [--script FILE.json] [--log FILE.jsonl] [--port-file FILE]"
                );
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unknown argument `{other}`")),
        };
        if let Err(e) = r {
            eprintln!("baton-fake-model: {e}");
            return ExitCode::from(2);
        }
    }
    let script = match script {
        None => Script::default(),
        Some(p) => match std::fs::read_to_string(&p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Script>(&t).map_err(|e| e.to_string()))
            .and_then(|s| s.check().map(|()| s))
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("baton-fake-model: {}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
    };
    let server = match FakeModel::start(script, log) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("baton-fake-model: cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on 127.0.0.1:{}", server.port());
    if let Some(p) = port_file
        && let Err(e) = std::fs::write(&p, format!("{}\n", server.port()))
    {
        eprintln!("baton-fake-model: cannot write {}: {e}", p.display());
        return ExitCode::FAILURE;
    }
    loop {
        std::thread::park();
    }
}
