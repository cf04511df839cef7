//! A private `sshd` for the tests: on 127.0.0.1, a free port, its own host key, an
//! authorized client key, and a `known_hosts` for the client; run in the foreground as the
//! current user with a configuration of its own, and killed (with its sessions) when the
//! `Sshd` is dropped. No system file is read or written: the client side gets `-F /dev/null`
//! and its own known_hosts, so the user's `~/.ssh` is never used; the sessions get a HOME in
//! the temporary directory (so the user's shell reads none of the real dotfiles, which may
//! be slow or wait) and `PATH=/usr/bin:/bin`, the same on every machine.
//!
//! sshd refuses to start as root without its privilege-separation directory `/run/sshd`;
//! when that is missing, sshd runs in a mount namespace of its own (`unshare -m`) with a
//! private, empty `/run`, so the real one is not touched.
//!
//! When `sshd` is missing the test fails and names the package (openssh-server), unless
//! `BATON_SKIP_SSHD=1`: then `Sshd::start` returns `None` and the test skips.
//!
//! A host that goes away and comes back: [`Sshd::stop`] kills sshd and every session it
//! runs (what a session left running on its own, a tmux server, stays: the machine is not
//! down, the network is), [`Sshd::restart`] listens again on the same port. A host whose
//! clock is off: [`Sshd::start_with_clock`] runs sshd under `faketime` and gives its sessions
//! the same faked clock.

use std::net::TcpListener;
use std::net::TcpStream;
use std::path::Path;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

/// What `faketime -f <offset> env` prints (the variables it sets). Run up to three times when
/// it fails: faketime makes a semaphore and shared memory named by its pid, which fails when a
/// killed faketime of the same pid left them behind (seen in CI; `Sshd::stop` now removes
/// them); the last failure is returned, with its output.
fn faketime_env(offset: &str) -> std::io::Result<std::process::Output> {
    let mut last = None;
    for _ in 0..3 {
        let out = Command::new("faketime")
            .args(["-f", offset, "env"])
            .output()?;
        if out.status.success() {
            return Ok(out);
        }
        last = Some(out);
    }
    Ok(last.expect("ran at least once"))
}

/// Removes the faketime shared memories and semaphores (`/dev/shm`) of processes that are gone.
fn remove_dead_faketime_files() {
    let Ok(dir) = std::fs::read_dir("/dev/shm") else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix("faketime_shm_")
            .or_else(|| name.strip_prefix("sem.faketime_sem_"));
        if let Some(pid) = pid.filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A running private sshd.
pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// The user it logs in (the current one).
    pub user: String,
    /// A key sshd accepts.
    pub client_key: PathBuf,
    /// A key sshd does not know.
    pub stranger_key: PathBuf,
    /// known_hosts with sshd's host key.
    pub known_hosts: PathBuf,
    /// An empty known_hosts.
    pub no_known_hosts: PathBuf,
    /// How to start sshd again ([`Sshd::restart`]).
    launch: Launch,
    /// sshd, while it runs.
    child: std::sync::Mutex<Option<Child>>,
}

/// Leaves libfaketime's monotonic clock real (see [`Sshd::start_with_clock`]).
const FAKETIME_KEEP_MONOTONIC: &str = "FAKETIME_DONT_FAKE_MONOTONIC=1";

/// sshd's command line, kept to start it again on the same port.
struct Launch {
    sshd: PathBuf,
    config: PathBuf,
    log: PathBuf,
    /// Under `unshare -m` with a private `/run` (root without `/run/sshd`).
    private_run: bool,
    /// The `faketime` offset it runs under (`+3h`).
    clock: Option<String>,
}

impl Launch {
    /// Starts sshd; returns it and the length of its log before it (what it writes comes
    /// after).
    fn spawn(&self) -> (Child, usize) {
        let from = std::fs::metadata(&self.log).map_or(0, |m| m.len() as usize);
        let mut cmd = match &self.clock {
            Some(offset) => {
                let mut c = Command::new("faketime");
                c.args(["-f", offset]);
                let (name, value) = FAKETIME_KEEP_MONOTONIC.split_once('=').unwrap();
                c.env(name, value);
                c
            }
            None if self.private_run => Command::new("unshare"),
            None => Command::new(&self.sshd),
        };
        if self.private_run {
            if self.clock.is_some() {
                cmd.arg("unshare");
            }
            cmd.args(["-m", "--", "sh", "-c"]).arg(
                "mount -t tmpfs -o mode=0755 baton-test-run /run && mkdir /run/sshd \
                 && exec \"$0\" -D -e -f \"$1\"",
            );
            cmd.arg(&self.sshd).arg(&self.config);
        } else {
            if self.clock.is_some() {
                cmd.arg(&self.sshd);
            }
            cmd.args(["-D", "-e", "-f"]).arg(&self.config);
        }
        use std::os::unix::process::CommandExt as _;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.sshd.display()));
        (child, from)
    }

    /// Waits until `child` listens on `port`: true, or false when the port was taken;
    /// panics with sshd's log (what it wrote since `from` bytes) when it exits or does not
    /// listen in time.
    fn wait_listening(&self, child: &mut Child, port: u16, from: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return true;
            }
            let text = || {
                let all = std::fs::read(&self.log).unwrap_or_default();
                String::from_utf8_lossy(all.get(from..).unwrap_or_default()).into_owned()
            };
            if let Some(status) = child.try_wait().unwrap() {
                if text().contains("Address already in use") {
                    return false;
                }
                panic!(
                    "sshd exited ({status}) before it listened{}:\n{}",
                    if self.private_run {
                        " (as root without /run/sshd it runs under `unshare -m`, which \
                         needs CAP_SYS_ADMIN; `mkdir /run/sshd` is the other way)"
                    } else {
                        ""
                    },
                    text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not listen on 127.0.0.1:{port} within 15 s:\n{}",
                text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The processes below `root` (children, their children…), read from `/proc`.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`: comm may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|w| w.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent_of.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

/// Looks for a program in PATH, then in the sbin directories PATH may lack.
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Runs a command to its end; panics with its output unless it succeeds.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "baton-test", "-f"])
        .arg(path));
}

/// A port nothing listens on now (bound, then let go).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Sshd {
    /// Starts sshd and waits until it accepts connections. Panics (naming the package) when
    /// sshd or ssh is missing, unless `BATON_SKIP_SSHD=1`, which makes it return `None`.
    pub fn start() -> Option<Sshd> {
        Sshd::start_with_clock(None)
    }

    /// [`Sshd::start`] with sshd and its sessions under `faketime -f <offset>` (`+3h`): every
    /// process of the host sees its clock that far off. Panics (naming the package) when
    /// faketime is missing, unless `BATON_SKIP_SSHD=1`. The offset is given to the sessions
    /// with sshd's `SetEnv` (sshd builds their environment anew), so check it took with
    /// [`Sshd::remote_clock_offset`].
    pub fn start_with_clock(clock: Option<&str>) -> Option<Sshd> {
        let (Some(sshd), Some(_), Some(_)) = (find("sshd"), find("ssh"), find("ssh-keygen")) else {
            if std::env::var("BATON_SKIP_SSHD").as_deref() == Ok("1") {
                eprintln!("SKIP: sshd, ssh or ssh-keygen not found (BATON_SKIP_SSHD=1)");
                return None;
            }
            panic!(
                "the host tests need `sshd`, `ssh` and `ssh-keygen` (Debian: apt-get install \
                 openssh-server openssh-client; .ci/run installs them); set BATON_SKIP_SSHD=1 \
                 to skip these tests"
            );
        };
        // What faketime puts in the environment (the library it preloads, the offset); its
        // FAKETIME_SHARED names memory of that one run and is left out. The monotonic clock
        // is left alone: a host's wall clock is what is off (a monotonic clock is never
        // compared across machines), and libfaketime's faked one stalls a Rust program's
        // sleeps (the fake agent would never get past its start).
        let faked_env = match clock {
            None => String::new(),
            Some(offset) => match faketime_env(offset) {
                Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| l.starts_with("LD_PRELOAD=") || l.starts_with("FAKETIME="))
                    .chain([FAKETIME_KEEP_MONOTONIC])
                    .map(|l| format!(" \"{l}\""))
                    .collect(),
                _ if std::env::var("BATON_SKIP_SSHD").as_deref() == Ok("1") => {
                    eprintln!("SKIP: faketime not found (BATON_SKIP_SSHD=1)");
                    return None;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                    "the clock-skew test needs `faketime` (Debian: apt-get install faketime; \
                     .ci/run installs it); set BATON_SKIP_SSHD=1 to skip the host tests"
                ),
                other => panic!("`faketime -f {offset} env` failed: {other:?}"),
            },
        };
        let dir = tempfile::Builder::new()
            .prefix("baton-sshd-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        let host_key = d.join("host_ed25519");
        let client_key = d.join("client_ed25519");
        let stranger_key = d.join("stranger_ed25519");
        for k in [&host_key, &client_key, &stranger_key] {
            keygen(k);
        }
        std::fs::copy(d.join("client_ed25519.pub"), d.join("authorized_keys")).unwrap();
        // The sessions' HOME: the user's shell reads no dotfile of the real one.
        std::fs::create_dir(d.join("home")).unwrap();
        let no_known_hosts = d.join("known_hosts.empty");
        std::fs::write(&no_known_hosts, "").unwrap();
        let user = run(Command::new("id").arg("-un"));
        let root = run(Command::new("id").arg("-u")) == "0";
        let private_run = root && !Path::new("/run/sshd").is_dir();
        let log = d.join("sshd.log");
        let config = d.join("sshd_config");
        let launch = Launch {
            sshd,
            config: config.clone(),
            log,
            private_run,
            clock: clock.map(str::to_owned),
        };
        for _attempt in 0..5 {
            let port = free_port();
            std::fs::write(
                &config,
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\n\
                     AuthorizedKeysFile {dir}/authorized_keys\nPidFile {dir}/sshd.pid\n\
                     StrictModes no\nUsePAM no\nPasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                     PermitRootLogin prohibit-password\nX11Forwarding no\nPrintMotd no\n\
                     PrintLastLog no\nUseDNS no\nSetEnv PATH=/usr/bin:/bin HOME={dir}/home{faked_env}\n\
                     LogLevel VERBOSE\n",
                    host = host_key.display(),
                    dir = d.display(),
                ),
            )
            .unwrap();
            let (mut child, from) = launch.spawn();
            if !launch.wait_listening(&mut child, port, from) {
                continue;
            }
            let known = std::fs::read_to_string(d.join("host_ed25519.pub")).unwrap();
            let key: Vec<&str> = known.split_whitespace().take(2).collect();
            let known_hosts = d.join("known_hosts");
            std::fs::write(
                &known_hosts,
                format!("[127.0.0.1]:{port} {}\n", key.join(" ")),
            )
            .unwrap();
            return Some(Sshd {
                dir,
                port,
                user,
                client_key,
                stranger_key,
                known_hosts,
                no_known_hosts,
                launch,
                child: std::sync::Mutex::new(Some(child)),
            });
        }
        panic!("sshd found no free port in 5 attempts");
    }

    /// The client options that keep ssh off the user's files: no config file, this
    /// known_hosts only, only the given key.
    pub fn client_options(known_hosts: &Path) -> String {
        format!(
            "[\"-F\", \"/dev/null\", \"-o\", \"UserKnownHostsFile={}\", \"-o\", \
             \"GlobalKnownHostsFile=/dev/null\", \"-o\", \"IdentitiesOnly=yes\"]",
            known_hosts.display()
        )
    }

    /// A `[[host]]` table for this sshd, with the accepted key and the right known_hosts.
    pub fn host_table(&self, name: &str, dir: &Path, extra: &str) -> String {
        self.host_table_with(
            name,
            self.port,
            &self.client_key,
            &self.known_hosts,
            dir,
            extra,
        )
    }

    /// A `[[host]]` table for `127.0.0.1:port` with this key and known_hosts.
    pub fn host_table_with(
        &self,
        name: &str,
        port: u16,
        key: &Path,
        known_hosts: &Path,
        dir: &Path,
        extra: &str,
    ) -> String {
        format!(
            "[[host]]\nname = \"{name}\"\nssh = \"{}@127.0.0.1:{port}\"\nidentity = \"{}\"\n\
             ssh_options = {}\ndir = \"{}\"\n{extra}\n",
            self.user,
            key.display(),
            Sshd::client_options(known_hosts),
            dir.display()
        )
    }

    /// What sshd logged so far (for a failed assertion's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Stops sshd and every session it runs (a connection's sshd may leave sshd's process
    /// group, so they are found as its descendants): the host is unreachable. A daemonized
    /// process a session started (a tmux server) runs on.
    pub fn stop(&self) {
        let Some(mut child) = self.child.lock().unwrap().take() else {
            return;
        };
        let mut pids = descendants(child.id());
        pids.push(child.id());
        for pid in pids {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = child.wait();
        // A killed faketime, and the sshd processes of each connection under its library,
        // leave a shared memory and a semaphore named by their pid behind; a later faketime
        // given the same pid could not make its own. Those of processes gone are removed.
        if self.launch.clock.is_some() {
            remove_dead_faketime_files();
        }
    }

    /// Starts sshd again, on the same port with the same keys, and waits until it listens.
    pub fn restart(&self) {
        self.stop();
        let (mut child, from) = self.launch.spawn();
        assert!(
            self.launch.wait_listening(&mut child, self.port, from),
            "sshd cannot listen on 127.0.0.1:{} again: the port was taken meanwhile",
            self.port
        );
        *self.child.lock().unwrap() = Some(child);
    }

    /// How far the clock of a session (`date +%s` over ssh) is ahead of this one, in seconds.
    pub fn remote_clock_offset(&self) -> i64 {
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        let before = now();
        let mut cmd = Command::new("ssh");
        cmd.args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o"])
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args([
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "IdentitiesOnly=yes",
            ])
            .arg("-i")
            .arg(&self.client_key)
            .args(["-p", &self.port.to_string()])
            .arg(format!("{}@127.0.0.1", self.user))
            .args(["date", "+%s"]);
        let there: u64 = run(&mut cmd).parse().unwrap();
        let after = now();
        let mid = i64::try_from(before / 2 + after / 2).unwrap();
        i64::try_from(there).unwrap() - mid
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}
