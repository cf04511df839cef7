//! Leaving cleanly: Ctrl-C (SIGINT) and a stdout whose reader went away (`baton demo | head`).
//!
//! Two registrations, each held by a guard:
//!
//! - [`on_interrupt`]: what to say on Ctrl-C (`baton run`: what goes on, how to resume);
//! - [`teardown`]: what to stop whatever happens (`baton demo`: its tmux server). It runs when
//!   its guard drops (normal end, error, panic unwinding), on Ctrl-C, and on a closed stdout
//!   (the panic hook in `main.rs` calls [`run_teardowns`] before it exits 141).
//!
//! The first registration starts a thread that waits for SIGINT; on SIGINT it runs the
//! teardowns (or, when none is registered, prints the interrupt note) and exits with 130, as a
//! shell reports an interrupted command. Meanwhile a guard that drops on another thread (the
//! run failing because Ctrl-C also hit its tmux client) waits for that exit, so the note is
//! not mixed with a spurious error.

use std::sync::Mutex;
use std::sync::Once;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

/// Why a teardown runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// The command ended (or failed, or panicked) on its own.
    Done,
    /// Ctrl-C.
    Interrupted,
    /// stdout's reader went away.
    BrokenPipe,
}

type Note = Box<dyn Fn() -> String + Send>;
type Teardown = Box<dyn FnOnce(Why) + Send>;

/// The registrations, each with its id.
struct Registry {
    notes: Vec<(u64, Note)>,
    teardowns: Vec<(u64, Teardown)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    notes: Vec::new(),
    teardowns: Vec::new(),
});
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static LISTENER: Once = Once::new();

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts the thread that waits for SIGINT, once.
fn listen() {
    LISTENER.call_once(|| {
        let Ok(mut signals) = signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT])
        else {
            eprintln!("warning: cannot catch Ctrl-C; it will stop baton without a word");
            return;
        };
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                interrupted();
            }
        });
    });
}

/// Ctrl-C: the teardowns, else the newest note; then exit 130.
fn interrupted() -> ! {
    INTERRUPTED.store(true, Ordering::SeqCst);
    if !run_teardowns(Why::Interrupted) {
        let note = registry().notes.pop();
        if let Some((_, note)) = note {
            eprintln!("\n{}", note());
        }
    }
    std::process::exit(130);
}

/// While the guard lives, Ctrl-C prints `note()` on stderr and exits 130.
#[must_use = "the note is dropped with its guard"]
pub fn on_interrupt(note: impl Fn() -> String + Send + 'static) -> NoteGuard {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    registry().notes.push((id, Box::new(note)));
    listen();
    NoteGuard(id)
}

/// Takes the note of [`on_interrupt`] back when dropped.
pub struct NoteGuard(u64);

impl Drop for NoteGuard {
    fn drop(&mut self) {
        wait_if_interrupted();
        registry().notes.retain(|(id, _)| *id != self.0);
    }
}

/// Registers `f` to run once, whatever ends the command: when the guard drops, on Ctrl-C
/// (then the process exits 130) or when stdout's reader went away (exit 141).
#[must_use = "the teardown runs when its guard drops"]
pub fn teardown(f: impl FnOnce(Why) + Send + 'static) -> TeardownGuard {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    registry().teardowns.push((id, Box::new(f)));
    listen();
    TeardownGuard(id)
}

/// Runs the teardown of [`teardown`] when dropped, unless it ran already.
pub struct TeardownGuard(u64);

impl Drop for TeardownGuard {
    fn drop(&mut self) {
        wait_if_interrupted();
        let f = {
            let mut r = registry();
            let at = r.teardowns.iter().position(|(id, _)| *id == self.0);
            at.map(|at| r.teardowns.remove(at).1)
        };
        if let Some(f) = f {
            f(Why::Done);
        }
    }
}

/// Runs (and forgets) every registered teardown, newest first; returns whether any ran.
pub fn run_teardowns(why: Why) -> bool {
    let all = std::mem::take(&mut registry().teardowns);
    let ran = !all.is_empty();
    for (_, f) in all.into_iter().rev() {
        f(why);
    }
    ran
}

/// When Ctrl-C is being handled, waits for its handler to end the process.
fn wait_if_interrupted() {
    if INTERRUPTED.load(Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
}
