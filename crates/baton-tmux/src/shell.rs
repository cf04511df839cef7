//! [`is_shell`]: recognising an interactive shell in a pane's foreground.

/// Shell program names (without path or login `-`).
const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "fish", "dash", "ksh", "mksh", "tcsh", "csh", "ash", "busybox", "nu",
    "elvish", "xonsh", "pwsh",
];

/// Whether `command` (e.g. `#{pane_current_command}`) is a shell: `bash`, `-zsh`, `/bin/sh`...
pub fn is_shell(command: &str) -> bool {
    let command = command.trim();
    let base = command.rsplit('/').next().unwrap_or(command);
    let base = base.strip_prefix('-').unwrap_or(base);
    SHELLS.contains(&base)
}

#[cfg(test)]
mod tests {
    use super::is_shell;

    #[test]
    fn shells() {
        for cmd in [
            "sh",
            "bash",
            "zsh",
            "fish",
            "-bash",
            "-zsh",
            "/bin/bash",
            "/usr/bin/fish",
            "pwsh",
            "nu",
        ] {
            assert!(is_shell(cmd), "{cmd}");
        }
    }

    #[test]
    fn not_shells() {
        for cmd in [
            "claude", "node", "codex", "sleep", "cat", "", "bashful", "shell", "python3", "vim",
        ] {
            assert!(!is_shell(cmd), "{cmd}");
        }
    }
}
