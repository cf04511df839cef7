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

use std::net::TcpListener;
use std::net::TcpStream;
use std::path::Path;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

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
    child: Child,
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
        for _attempt in 0..5 {
            let port = free_port();
            let config = d.join("sshd_config");
            std::fs::write(
                &config,
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\n\
                     AuthorizedKeysFile {dir}/authorized_keys\nPidFile {dir}/sshd.pid\n\
                     StrictModes no\nUsePAM no\nPasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                     PermitRootLogin prohibit-password\nX11Forwarding no\nPrintMotd no\n\
                     PrintLastLog no\nUseDNS no\nSetEnv PATH=/usr/bin:/bin HOME={dir}/home\n\
                     LogLevel VERBOSE\n",
                    host = host_key.display(),
                    dir = d.display(),
                ),
            )
            .unwrap();
            let mut cmd = if private_run {
                let mut c = Command::new("unshare");
                c.args(["-m", "--", "sh", "-c"]).arg(
                    "mount -t tmpfs -o mode=0755 baton-test-run /run && mkdir /run/sshd \
                     && exec \"$0\" -D -e -f \"$1\"",
                );
                c.arg(&sshd).arg(&config);
                c
            } else {
                let mut c = Command::new(&sshd);
                c.args(["-D", "-e", "-f"]).arg(&config);
                c
            };
            use std::os::unix::process::CommandExt as _;
            let mut child = cmd
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", sshd.display()));
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
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
                        child,
                    });
                }
                if let Some(status) = child.try_wait().unwrap() {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    if text.contains("Address already in use") {
                        break;
                    }
                    panic!(
                        "sshd exited ({status}) before it listened{}:\n{text}",
                        if private_run {
                            " (as root without /run/sshd it runs under `unshare -m`, which \
                             needs CAP_SYS_ADMIN; `mkdir /run/sshd` is the other way)"
                        } else {
                            ""
                        }
                    );
                }
                assert!(
                    Instant::now() < deadline,
                    "sshd did not listen on 127.0.0.1:{port} within 15 s:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
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
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // sshd, the per-connection processes and anything they run share its process group.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
