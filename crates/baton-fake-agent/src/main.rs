#![forbid(unsafe_code)]
//! The `baton-fake-agent` binary; see the library for everything.

fn main() {
    std::process::exit(baton_fake_agent::run(std::env::args_os().skip(1).collect()))
}
