//! Task prompts: long, self-contained instructions built from a template, as the hand-run
//! workflow writes them (context, objective, validation criteria, how to report).
//!
//! Templates are plain text with `{placeholders}`; English and French ones are built in, and a
//! project may give its own file. Unknown placeholders are left as written.
//!
//! Every command an agent is told to run names baton as `{baton}`: the engine fills it once
//! with `Settings::baton_cmd` (`baton` when a login shell finds this very binary, else its
//! absolute path), so that the agent's shell finds it whatever shell its CLI runs commands in.

use crate::task::Task;

/// The built-in English template.
pub const TEMPLATE_EN: &str = "[TASK {id} — from baton, the orchestrator]

AGENT: {agent}
TASK_ID: {id}
PRIORITY: {priority}
WORKING DIRECTORY: {workdir}

=== OBJECTIVE ===
{title}

=== DETAILS ===
{body}

=== CONTEXT ===
Skills asked for: {skills}. Tasks this one builds on (already COMPLETED): {deps}.
The shared memory file ({memory_file}) holds the task queue and the decisions taken so far.

=== VALIDATION CRITERIA ===
- The work described above is done and saved.
- It builds and its tests pass.
- Nothing outside this task's scope was changed.

=== WHEN YOU ARE DONE ===
Run: {baton} task done {id} --note \"<one line: what you did>\"
If you cannot finish, run: {baton} task block {id} --reason \"<what blocks you>\"
(Or change the task's Status in {memory_file}.)

Start now. Do not ask questions: decide, and say what you decided in the note.
";

/// The built-in French template.
pub const TEMPLATE_FR: &str = "[TÂCHE {id} — de baton, l'orchestrateur]

AGENT : {agent}
TASK_ID : {id}
PRIORITÉ : {priority}
RÉPERTOIRE DE TRAVAIL : {workdir}

=== OBJECTIF ===
{title}

=== DÉTAILS ===
{body}

=== CONTEXTE ===
Compétences demandées : {skills}. Tâches dont celle-ci dépend (déjà COMPLETED) : {deps}.
Le fichier mémoire partagé ({memory_file}) contient la file des tâches et les décisions prises.

=== CRITÈRES DE VALIDATION ===
- Le travail décrit ci-dessus est fait et enregistré.
- Le code compile et ses tests passent.
- Rien en dehors de cette tâche n'a été modifié.

=== APRÈS COMPLÉTION ===
Lance : {baton} task done {id} --note \"<une ligne : ce que tu as fait>\"
Si tu ne peux pas finir, lance : {baton} task block {id} --reason \"<ce qui te bloque>\"
(Ou change le Status de la tâche dans {memory_file}.)

Commence immédiatement. Ne pose pas de questions : décide, et dis ce que tu as décidé dans la note.
";

/// The nudge sent when a turn ends without the task being reported.
pub const NUDGE_EN: &str = "Your turn ended but {id} is not reported. If it is done, run: {baton} task done {id} --note \"…\". If something blocks you, run: {baton} task block {id} --reason \"…\".";

/// The reminder sent to an agent whose screen has not changed for a long time.
pub const REMINDER_EN: &str = "Status check on {id}: are you still working on it? If it is done, run: {baton} task done {id} --note \"…\"; if you are blocked, run: {baton} task block {id} --reason \"…\".";

/// The French nudge.
pub const NUDGE_FR: &str = "Ton tour est terminé mais {id} n'est pas signalée. Si elle est finie, lance : {baton} task done {id} --note \"…\". Si quelque chose te bloque, lance : {baton} task block {id} --reason \"…\".";

/// The French reminder.
pub const REMINDER_FR: &str = "Point sur {id} : est-ce que tu travailles toujours dessus ? Si elle est finie, lance : {baton} task done {id} --note \"…\" ; si tu es bloqué, lance : {baton} task block {id} --reason \"…\".";

/// The answer to an agent whose `baton` report failed on its screen.
pub const REPORT_FAILED_EN: &str = "[baton] Your last baton command for {id} failed, so {id} is not reported yet. Run it again with baton's full path: {path} task done {id} --note \"<one line: what you did>\" (or, if something blocks you: {path} task block {id} --reason \"…\").";

/// The French answer to a failed report.
pub const REPORT_FAILED_FR: &str = "[baton] Ta dernière commande baton pour {id} a échoué : {id} n'est pas encore signalée. Relance-la avec le chemin complet de baton : {path} task done {id} --note \"<une ligne : ce que tu as fait>\" (ou, si quelque chose te bloque : {path} task block {id} --reason \"…\").";

/// The short texts the engine sends or writes besides task prompts, in one language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Texts {
    /// The nudge after a turn that ended unreported (`{id}`).
    pub nudge: String,
    /// The reminder to a quiet agent (`{id}`).
    pub reminder: String,
    /// The title of a feature's test task (`{id}`, `{title}`).
    pub test_title: String,
    /// The body of a feature's test task (`{id}`, `{title}`, `{agent}`).
    pub test_body: String,
    /// To the lead near its limit: write notes (`{from}`, `{pct}`, `{handoff_at}`).
    pub prepare: String,
    /// To the successor: take over (`{from}`, `{to}`, `{file}`).
    pub takeover: String,
    /// To an agent whose report failed on screen (`{id}`, `{path}`: baton's absolute path).
    pub report_failed: String,
}

impl Texts {
    /// Returns the built-in texts for a language code: `fr`, or English for anything else.
    pub fn for_language(lang: &str) -> Texts {
        let (prepare, takeover, report_failed) = if lang == "fr" {
            (PREPARE_FR, TAKEOVER_FR, REPORT_FAILED_FR)
        } else {
            (PREPARE_EN, TAKEOVER_EN, REPORT_FAILED_EN)
        };
        let (nudge, reminder, test_title, test_body) = if lang == "fr" {
            (
                NUDGE_FR,
                REMINDER_FR,
                "Tester {id} : {title}",
                "{id} ({title}) est terminée ; {agent} l'a réalisée. Écris les tests qui prouvent qu'elle marche comme ses critères de validation le demandent, lance-les, et corrige ce qu'ils trouvent. Range les tests là où le projet les met d'habitude.",
            )
        } else {
            (
                NUDGE_EN,
                REMINDER_EN,
                "Test {id}: {title}",
                "{id} ({title}) is done; {agent} built it. Write the tests that prove it works as its validation criteria ask, run them, and fix what they find. Put the tests where the project keeps its tests.",
            )
        };
        Texts {
            nudge: nudge.to_owned(),
            reminder: reminder.to_owned(),
            test_title: test_title.to_owned(),
            test_body: test_body.to_owned(),
            prepare: prepare.to_owned(),
            takeover: takeover.to_owned(),
            report_failed: report_failed.to_owned(),
        }
    }

    /// Fills `{baton}` in every text with the command that runs baton.
    pub fn fill_baton(&mut self, baton: &str) {
        for t in [
            &mut self.nudge,
            &mut self.reminder,
            &mut self.test_body,
            &mut self.prepare,
            &mut self.takeover,
        ] {
            *t = fill_baton(t, baton);
        }
    }
}

/// Fills `{baton}` with the command that runs baton (`baton`, or its quoted absolute path).
pub fn fill_baton(text: &str, baton: &str) -> String {
    text.replace("{baton}", baton)
}

impl Default for Texts {
    fn default() -> Self {
        Texts::for_language("en")
    }
}

/// Asks the lead near its limit for its notes.
pub const PREPARE_EN: &str = "[baton] {from}, your quota is at {pct}%: at {handoff_at}% the lead role passes to the next agent of the chain. You get no new task from now on. Write your notes for your successor into .baton/lead-notes.md now: the decisions taken and why, what you were about to do, what to watch out for. Keep it short and concrete, then stop.";

/// The French request for notes.
pub const PREPARE_FR: &str = "[baton] {from}, ton quota est à {pct}% : à {handoff_at}% le rôle d'orchestrateur passe à l'agent suivant de la chaîne. Tu ne reçois plus de nouvelle tâche. Écris maintenant tes notes pour ton successeur dans .baton/lead-notes.md : les décisions prises et pourquoi, ce que tu allais faire, les points d'attention. Sois bref et concret, puis arrête-toi.";

/// Hands the lead role to the successor.
pub const TAKEOVER_EN: &str = "[HANDOFF: {from} -> {to}] You are now the lead (orchestrator) of this project.

1. Read {file} now: what was done, what is in progress, what remains, the decisions taken, every agent's state and quota.
2. Read the shared memory file for the task queue.
3. Take over: review finished work, add tasks with `{baton} task add`, watch the agents with `{baton} ls`, `{baton} log` and `{baton} usage`. baton hands the tasks out and watches the agents; you decide what comes next.

Start now by reading {file}.";

/// The French takeover prompt.
pub const TAKEOVER_FR: &str = "[HANDOFF ORCHESTRATEUR : {from} -> {to}] Tu deviens maintenant l'orchestrateur principal de ce projet.

1. Lis immédiatement {file} : ce qui a été fait, ce qui est en cours, ce qui reste, les décisions prises, l'état et le quota de chaque agent.
2. Lis le fichier mémoire partagé pour la file des tâches.
3. Prends le contrôle : valide le travail terminé, ajoute des tâches avec `{baton} task add`, surveille les agents avec `{baton} ls`, `{baton} log` et `{baton} usage`. baton distribue les tâches et surveille les agents ; toi, tu décides de la suite.

Commence maintenant par lire {file}.";

/// The handoff document's name for a successor: `HANDOFF_TO_AMP.md`.
pub fn handoff_file(to: &str) -> String {
    let name: String = to
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("HANDOFF_TO_{name}.md")
}

/// Fills a lead text.
pub fn fill_lead(template: &str, from: &str, to: &str, pct: f64, handoff_at: f64) -> String {
    template
        .replace("{from}", from)
        .replace("{to}", to)
        .replace("{file}", &handoff_file(to))
        .replace("{pct}", &format!("{pct:.0}"))
        .replace("{handoff_at}", &format!("{handoff_at:.0}"))
}

/// Fills a test task's title and body for a finished feature.
pub fn test_task_text(texts: &Texts, feature: &Task, agent: &str) -> (String, String) {
    let fill = |t: &str| {
        t.replace("{id}", &feature.id.to_string())
            .replace("{title}", &feature.title)
            .replace("{agent}", agent)
    };
    let mut title = fill(&texts.test_title);
    if let Some((cut, _)) = title.char_indices().nth(300) {
        title.truncate(cut);
    }
    (title, fill(&texts.test_body))
}

/// What a template is filled with.
pub struct PromptContext<'a> {
    /// The task.
    pub task: &'a Task,
    /// The agent it goes to.
    pub agent: &'a str,
    /// Where the agent works.
    pub workdir: &'a str,
    /// The memory file's name.
    pub memory_file: &'a str,
}

/// Returns the built-in template for a language code (`en`, `fr`), if there is one.
pub fn builtin(lang: &str) -> Option<&'static str> {
    match lang {
        "en" => Some(TEMPLATE_EN),
        "fr" => Some(TEMPLATE_FR),
        _ => None,
    }
}

/// Fills a template.
pub fn render(template: &str, cx: &PromptContext<'_>) -> String {
    let t = cx.task;
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    let body = if t.body.trim().is_empty() {
        t.title.as_str()
    } else {
        t.body.trim_end()
    };
    template
        .replace("{id}", &t.id.to_string())
        .replace("{agent}", cx.agent)
        .replace("{priority}", t.priority.as_str())
        .replace("{title}", &t.title)
        .replace("{body}", body)
        .replace("{skills}", &list(t.skills.clone()))
        .replace(
            "{deps}",
            &list(t.deps.iter().map(ToString::to_string).collect()),
        )
        .replace("{workdir}", cx.workdir)
        .replace("{memory_file}", cx.memory_file)
}

/// Fills the nudge or reminder text for a task.
pub fn short(template: &str, task: &Task) -> String {
    template.replace("{id}", &task.id.to_string())
}
