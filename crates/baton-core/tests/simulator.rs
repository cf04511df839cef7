//! The engine against hundreds of simulated agents on a simulated clock.
//!
//! Each simulated agent behaves like a CLI: a paste shows in its prompt box, Enter starts a
//! turn (the screen shows working), and after the task's duration it reports
//! `baton task done` and shows the finished screen. Some agents swallow the first Enter. The
//! run asserts, after every step, that no agent is free while a ready task fits it, and at
//! the end that every task was completed exactly once.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::collections::BinaryHeap;
use std::collections::VecDeque;

use baton_core::Detection;
use baton_core::engine::Action;
use baton_core::engine::AgentSpec;
use baton_core::engine::Engine;
use baton_core::engine::Event;
use baton_core::engine::Key;
use baton_core::engine::Settings;
use baton_core::engine::added_task;
use baton_core::profile::AgentState;
use baton_core::profile::Submit;
use baton_core::task::NewTask;
use baton_core::task::Priority;
use baton_core::task::Status;
use baton_core::task::TaskId;

/// A small deterministic generator (xorshift), so runs repeat exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Default)]
struct SimAgent {
    box_text: bool,
    swallow: bool,
    swallowed: bool,
    task: Option<TaskId>,
    hash: u64,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum SimEvent {
    Tick,
    Screen(usize, u8),
    Done(usize, u32),
}

/// Simulated events by time, then insertion order.
type Queue = BinaryHeap<Reverse<(u64, u64, SimEvent)>>;

const SKILLS: [&str; 5] = ["rust", "docs", "test", "ui", "fix"];

fn submit() -> Submit {
    Submit::default()
}

fn state_of(code: u8) -> AgentState {
    match code {
        0 => AgentState::Idle,
        1 => AgentState::Working,
        _ => AgentState::Finished,
    }
}

/// Runs `tasks` random tasks on `agents` simulated agents; with `test_tasks`, every feature
/// gets its test task once all are done. Returns, per agent, the priorities of the test tasks
/// it was given, in order.
fn run(agents: usize, tasks: u32, seed: u64, test_tasks: bool) -> BTreeMap<String, Vec<Priority>> {
    let mut rng = Rng(seed);
    let specs: Vec<AgentSpec> = (0..agents)
        .map(|i| AgentSpec {
            name: format!("agent{i:03}"),
            skills: vec![SKILLS[i % SKILLS.len()].to_owned()],
            max_tasks: 1,
            submit: submit(),
            worktree: None,
            baton: None,
        })
        .collect();
    let index: BTreeMap<String, usize> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), i))
        .collect();
    let settings = Settings {
        test_tasks,
        ..Settings::default()
    };
    let mut engine = Engine::new(settings, specs.clone());
    let mut sims: Vec<SimAgent> = (0..agents)
        .map(|i| SimAgent {
            swallow: i % 7 == 0,
            ..SimAgent::default()
        })
        .collect();
    let mut durations = BTreeMap::new();
    let mut queue: Queue = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |q: &mut Queue, at: u64, ev: SimEvent| {
        seq += 1;
        q.push(Reverse((at, seq, ev)));
    };

    let mut generated = Vec::new();
    for id in 1..=tasks {
        let deps: Vec<TaskId> = if id > 10 {
            (0..rng.below(3))
                .map(|_| TaskId(1 + rng.below(u64::from(id - 1)) as u32))
                .collect()
        } else {
            Vec::new()
        };
        let skills = if rng.below(3) == 0 {
            Vec::new()
        } else {
            vec![SKILLS[rng.below(5) as usize].to_owned()]
        };
        durations.insert(id, 1_000 + rng.below(60_000));
        let new = NewTask {
            title: format!("simulated {id}"),
            priority: Some([Priority::High, Priority::Med, Priority::Low][rng.below(3) as usize]),
            skills,
            deps,
            ..NewTask::default()
        };
        let task = added_task(TaskId(id), new);
        generated.push(task);
    }
    let mut now;
    let next_id = Cell::new(tasks);
    let mut test_order: BTreeMap<String, Vec<Priority>> = BTreeMap::new();
    let mut completed: BTreeMap<u32, u32> = BTreeMap::new();
    let mut steps = 0u64;
    let mut handle = |engine: &mut Engine,
                      sims: &mut Vec<SimAgent>,
                      queue: &mut Queue,
                      push: &mut dyn FnMut(&mut Queue, u64, SimEvent),
                      now: u64,
                      event: Event| {
        // Events the actions produce (a task added) are fed in order, as the daemon does.
        let mut events = VecDeque::from([event]);
        while let Some(event) = events.pop_front() {
            steps += 1;
            let actions = engine.step(now, event);
            for a in actions {
                match a {
                    Action::Assign { task, agent } => {
                        sims[index[&agent]].task = Some(task);
                        // The tasks the engine added (test tasks), not the generated ones.
                        if let Some(t) = engine.task(task)
                            && task.0 > tasks
                        {
                            test_order
                                .entry(agent.clone())
                                .or_default()
                                .push(t.priority);
                        }
                    }
                    Action::AddTask { task, .. } => {
                        let id = next_id.get() + 1;
                        next_id.set(id);
                        durations.insert(id, 1_000 + u64::from(id) % 7_000);
                        events.push_back(Event::TaskAdded(added_task(TaskId(id), task)));
                    }
                    Action::Paste { agent, .. } => {
                        let i = index[&agent];
                        sims[i].box_text = true;
                        sims[i].swallowed = false;
                        sims[i].hash += 1;
                        push(queue, now + 5, SimEvent::Screen(i, 0));
                    }
                    Action::Press {
                        agent,
                        key: Key::Enter,
                    } => {
                        let i = index[&agent];
                        let s = &mut sims[i];
                        if !s.box_text {
                            continue;
                        }
                        if s.swallow && !s.swallowed {
                            s.swallowed = true;
                            continue;
                        }
                        s.box_text = false;
                        s.hash += 1;
                        push(queue, now + 10, SimEvent::Screen(i, 1));
                        if let Some(t) = s.task {
                            push(queue, now + 10 + durations[&t.0], SimEvent::Done(i, t.0));
                        }
                    }
                    Action::Requeue { task, reason } | Action::NeedsHuman { task, reason } => {
                        panic!("{task} left its agent in a run without failures: {reason}")
                    }
                    Action::MarkUnreported { task, reason, .. } => panic!("{task}: {reason}"),
                    _ => {}
                }
            }
            // The invariant: nobody free while a ready task fits.
            if let Some((agent, task)) = engine.idle_agent_with_work() {
                panic!("at {now} ms {agent} is free while {task} is ready for it");
            }
        }
    };

    for s in &specs {
        handle(
            &mut engine,
            &mut sims,
            &mut queue,
            &mut push,
            0,
            Event::AgentUp {
                agent: s.name.clone(),
            },
        );
    }
    for task in generated {
        handle(
            &mut engine,
            &mut sims,
            &mut queue,
            &mut push,
            0,
            Event::TaskAdded(task),
        );
    }
    for i in 0..agents {
        push(&mut queue, 1, SimEvent::Screen(i, 0));
    }
    let mut finished = None;
    while let Some(Reverse((at, _, ev))) = queue.pop() {
        now = at;
        assert!(
            now < 1_000 * 3_600 * 1_000,
            "the run did not finish in 1,000 simulated hours: a task can never go out"
        );
        match ev {
            SimEvent::Tick => handle(
                &mut engine,
                &mut sims,
                &mut queue,
                &mut push,
                now,
                Event::Tick,
            ),
            SimEvent::Screen(i, code) => {
                let s = &sims[i];
                let detection = Detection {
                    state: state_of(code),
                    evidence: Vec::new(),
                    input: s.box_text.then(|| "[TASK".to_owned()),
                    quota: Vec::new(),
                };
                let event = Event::Screen {
                    agent: specs[i].name.clone(),
                    detection,
                    hash: s.hash,
                };
                handle(&mut engine, &mut sims, &mut queue, &mut push, now, event);
            }
            SimEvent::Done(i, id) => {
                *completed.entry(id).or_default() += 1;
                let mut t = engine.task(TaskId(id)).expect("known").clone();
                t.status = Status::Completed;
                sims[i].task = None;
                sims[i].hash += 1;
                handle(
                    &mut engine,
                    &mut sims,
                    &mut queue,
                    &mut push,
                    now,
                    Event::TaskChanged(t),
                );
                push(&mut queue, now + 1, SimEvent::Screen(i, 2));
            }
        }
        // Deadlines need time to pass even when no screen changes.
        if queue.is_empty()
            || queue
                .peek()
                .is_some_and(|Reverse((t, _, _))| *t > now + 500)
        {
            push(&mut queue, now + 500, SimEvent::Tick);
        }
        if completed.len() == next_id.get() as usize {
            assert!((1..=next_id.get()).all(|id| {
                engine
                    .task(TaskId(id))
                    .is_some_and(|t| t.status == Status::Completed)
            }));
            finished = Some(now);
            break;
        }
    }
    let finished = finished.expect("every task completed");
    assert_eq!(completed.len(), next_id.get() as usize);
    if test_tasks {
        assert!(next_id.get() > tasks, "no test task was added");
    }
    assert!(
        completed.values().all(|n| *n == 1),
        "a task completed twice"
    );
    let total_work: u64 = durations.values().sum();
    let ideal = total_work / agents as u64;
    eprintln!(
        "{agents} agents, {tasks} tasks: makespan {} s simulated (ideal {} s), {steps} engine steps",
        finished / 1000,
        ideal / 1000
    );
    test_order
}

#[test]
fn two_hundred_agents_twenty_thousand_tasks() {
    let start = std::time::Instant::now();
    run(200, 20_000, 0x9E37_79B9_7F4A_7C15, false);
    eprintln!("wall time {:?}", start.elapsed());
}

#[test]
fn small_team_many_dependencies() {
    run(4, 500, 42, false);
}

/// Test tasks are added all at once when the last feature is done; each agent must get its
/// own in priority order (the daemon once fed them newest first, LOW before HIGH).
#[test]
fn test_tasks_added_together_go_out_by_priority() {
    let order = run(4, 60, 7, true);
    assert!(order.values().map(Vec::len).sum::<usize>() > 10);
    for (agent, priorities) in &order {
        assert!(
            priorities.is_sorted(),
            "{agent} got its test tasks out of priority order: {priorities:?}"
        );
    }
}
