//! The `baton` binary's integration tests: one test binary, so linking is paid once.

mod common;
mod test_browser;
mod test_cli;
mod test_config;
mod test_control;
mod test_coverage;
mod test_detect;
mod test_exits;
mod test_first_start;
mod test_hosts;
mod test_lead;
mod test_memory;
mod test_quota;
mod test_reach;
mod test_remote_tmux;
mod test_report;
mod test_run;
mod test_send;
mod test_serve;
mod test_task;
mod test_trial;
mod test_trust;
mod test_usage;
mod test_watch;
mod test_webhook;
mod test_worktree;
