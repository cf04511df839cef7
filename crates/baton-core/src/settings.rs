//! The engine's settings and agents, built from the configuration by a pure function; the
//! shell hands in what it read from files and the environment ([`Inputs`]).

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::Config;
use crate::config::Isolation;
use crate::engine::AgentSpec;
use crate::engine::Settings;
use crate::engine::prompt;

/// What the shell read for the settings: files, baton's own path, the agents' worktrees.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    /// The project root (agents in worktrees read the root's files by full path).
    pub root: &'a Path,
    /// The prompt template's text (`[run] template`: a built-in one or the file's text).
    pub template: String,
    /// `--ignore-usage`: quota holds no work back.
    pub ignore_usage: bool,
    /// The lead's notes file, relative to the root, as the prompts name it.
    pub notes_file: &'a str,
    /// Where the handoff document is, with `{file}` for its name.
    pub takeover_file: String,
    /// How prompts name baton (`baton`, or its absolute path when a login shell would not
    /// find it).
    pub baton_cmd: String,
    /// baton's absolute path, shell-quoted.
    pub baton_path: String,
    /// The working-directory line of each isolated agent's prompts, by agent name.
    pub worktree_notes: BTreeMap<String, String>,
    /// The baton command of each agent on another host (the baton there, shell-quoted).
    pub remote_batons: BTreeMap<String, String>,
}

/// Returns the engine's settings and agents for a configuration.
pub fn engine_settings(config: &Config, inputs: Inputs<'_>) -> (Settings, Vec<AgentSpec>) {
    let c = config;
    // Every agent merges through the queue, which verifies each merge: no waves.
    let all_isolated =
        !c.agents.is_empty() && c.agents.iter().all(|a| a.isolation == Isolation::Worktree);
    // Agents in worktrees read the memory file of the project root, by its full path.
    let memory_file = if c.uses_worktrees() {
        inputs
            .root
            .join(&c.session.memory_file)
            .display()
            .to_string()
    } else {
        c.session.memory_file.display().to_string()
    };
    let mut texts = prompt::Texts::for_language(c.run.language());
    if c.uses_worktrees() {
        // An agent in a worktree finds the notes file and the handoff document by full path.
        let root = inputs.root.display().to_string();
        texts.prepare = texts
            .prepare
            .replace(inputs.notes_file, &format!("{root}/{}", inputs.notes_file));
    }
    // The handoff document is in the reports directory (by full path from a worktree).
    texts.takeover = texts.takeover.replace("{file}", &inputs.takeover_file);
    let settings = Settings {
        stuck_after_ms: c.run.stuck_after_secs * 1000,
        max_attempts: c.run.max_attempts,
        warn_percent: f64::from(c.quota.warn),
        critical_percent: f64::from(c.quota.critical),
        auto_stop: c.quota.auto_stop,
        ignore_usage: inputs.ignore_usage,
        lead_chain: c.lead.chain.clone(),
        prepare_at: f64::from(c.lead.prepare_at),
        handoff_at: f64::from(c.lead.handoff_at),
        return_below: f64::from(c.lead.return_below),
        return_after_reset: c.lead.return_after_reset,
        notes_deadline_ms: c.lead.notes_deadline_secs.saturating_mul(1000),
        verify_commands: if all_isolated {
            Vec::new()
        } else {
            c.verify.commands.clone()
        },
        max_fix_cycles: c.verify.max_fix_cycles,
        template: inputs.template,
        memory_file,
        texts,
        test_tasks: c.run.test_tasks,
        baton_cmd: inputs.baton_cmd,
        baton_path: inputs.baton_path,
        ..Settings::default()
    };
    let agents = c
        .agents
        .iter()
        .map(|a| AgentSpec {
            name: a.name.clone(),
            skills: a.skills.clone(),
            // The lead of a team plans and reviews: one task at a time.
            max_tasks: if c.lead.chain.first() == Some(&a.name) && c.agents.len() > 1 {
                a.max_tasks.min(1)
            } else {
                a.max_tasks
            },
            submit: a.profile.submit.clone(),
            worktree: inputs.worktree_notes.get(&a.name).cloned(),
            baton: inputs.remote_batons.get(&a.name).cloned(),
        })
        .collect();
    (settings, agents)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTES: &str = ".baton/lead-notes.md";

    fn config(text: &str) -> Config {
        Config::parse(Path::new("baton.toml"), text).unwrap()
    }

    fn inputs(root: &Path) -> Inputs<'_> {
        Inputs {
            root,
            template: "T {task}".into(),
            ignore_usage: false,
            notes_file: NOTES,
            takeover_file: "reports/{file}".into(),
            baton_cmd: "baton".into(),
            baton_path: "/opt/bin/baton".into(),
            worktree_notes: BTreeMap::new(),
            remote_batons: BTreeMap::new(),
        }
    }

    const TEAM: &str = r#"
[session]
memory_file = "AGENTS.md"

[[agent]]
name = "lead"
cli = "claude"
max_tasks = 3

[[agent]]
name = "dev"
cli = "codex"
max_tasks = 2

[lead]
chain = ["lead", "dev"]
notes_deadline_secs = 30

[run]
stuck_after_secs = 120
max_attempts = 5

[quota]
warn = 70
critical = 95
auto_stop = true

[verify]
commands = ["make test"]
max_fix_cycles = 2
"#;

    #[test]
    fn numbers_are_carried_over_in_milliseconds_and_percents() {
        let root = Path::new("/p");
        let mut i = inputs(root);
        i.ignore_usage = true;
        let (s, _) = engine_settings(&config(TEAM), i);
        assert_eq!(s.stuck_after_ms, 120_000);
        assert_eq!(s.max_attempts, 5);
        assert_eq!(s.warn_percent, 70.0);
        assert_eq!(s.critical_percent, 95.0);
        assert!(s.auto_stop);
        assert!(s.ignore_usage);
        assert_eq!(s.notes_deadline_ms, 30_000);
        assert_eq!(s.lead_chain, ["lead", "dev"]);
        assert_eq!(s.verify_commands, ["make test"]);
        assert_eq!(s.max_fix_cycles, 2);
        assert_eq!(s.template, "T {task}");
        assert_eq!(s.baton_cmd, "baton");
        assert_eq!(s.baton_path, "/opt/bin/baton");
        // Shared agents name the memory file as it is, relative to their directory.
        assert_eq!(s.memory_file, "AGENTS.md");
        assert!(s.texts.prepare.contains(&format!(" {NOTES} ")));
        // `{file}` stays for the document's name, now in its directory.
        assert!(s.texts.takeover.contains("reports/{file}"));
    }

    #[test]
    fn the_lead_of_a_team_takes_one_task_at_a_time() {
        let (_, agents) = engine_settings(&config(TEAM), inputs(Path::new("/p")));
        assert_eq!(agents.len(), 2);
        assert_eq!((agents[0].name.as_str(), agents[0].max_tasks), ("lead", 1));
        assert_eq!((agents[1].name.as_str(), agents[1].max_tasks), ("dev", 2));
        // Alone, the lead keeps its own limit.
        let solo = "[[agent]]\nname = \"lead\"\ncli = \"claude\"\nmax_tasks = 3\n\n[lead]\nchain = [\"lead\"]\n";
        let (_, agents) = engine_settings(&config(solo), inputs(Path::new("/p")));
        assert_eq!(agents[0].max_tasks, 3);
    }

    #[test]
    fn agents_in_worktrees_read_the_root_files_by_full_path_and_merge_without_waves() {
        let text = "[session]\nisolation = \"worktree\"\nmemory_file = \"CLAUDE.md\"\n\n\
                    [[agent]]\nname = \"a\"\ncli = \"claude\"\n\n\
                    [[agent]]\nname = \"b\"\ncli = \"codex\"\n\n\
                    [verify]\ncommands = [\"make test\"]\n";
        let root = Path::new("/home/u/proj");
        let mut i = inputs(root);
        i.worktree_notes
            .insert("a".into(), "/wt/a — your own worktree".into());
        let (s, agents) = engine_settings(&config(text), i);
        assert_eq!(s.memory_file, "/home/u/proj/CLAUDE.md");
        assert!(
            s.texts.prepare.contains(&format!("/home/u/proj/{NOTES}")),
            "{}",
            s.texts.prepare
        );
        // The merge queue verifies each merge: no verify after waves.
        assert!(s.verify_commands.is_empty());
        assert_eq!(
            agents[0].worktree.as_deref(),
            Some("/wt/a — your own worktree")
        );
        assert_eq!(agents[1].worktree, None);
    }

    #[test]
    fn one_shared_agent_keeps_the_waves_verify() {
        let text = "[[agent]]\nname = \"a\"\ncli = \"claude\"\nisolation = \"worktree\"\n\n\
                    [[agent]]\nname = \"b\"\ncli = \"codex\"\n\n\
                    [verify]\ncommands = [\"make test\"]\n";
        let (s, _) = engine_settings(&config(text), inputs(Path::new("/p")));
        assert_eq!(s.verify_commands, ["make test"]);
        assert_eq!(s.memory_file, "/p/CLAUDE.md");
    }

    #[test]
    fn the_run_language_picks_the_texts() {
        let text = "[run]\nlanguage = \"fr\"\n\n[[agent]]\nname = \"a\"\ncli = \"claude\"\n";
        let (s, _) = engine_settings(&config(text), inputs(Path::new("/p")));
        assert_eq!(s.texts.prepare, prompt::Texts::for_language("fr").prepare);
    }
}
