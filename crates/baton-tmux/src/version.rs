//! [`TmuxVersion`]: the parsed output of `tmux -V`.

/// A tmux version: `tmux 3.3a` is 3, 3, `a`; `tmux next-3.5` is a development 3.5;
/// `tmux master` (or any unnumbered build) is a development build newer than everything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TmuxVersion {
    /// Major number (0 for an unnumbered development build).
    pub major: u32,
    /// Minor number (0 for an unnumbered development build).
    pub minor: u32,
    /// What follows the numbers, e.g. `a` or `-rc`.
    pub suffix: String,
    /// A development build (`next-X.Y`, `master`...).
    pub development: bool,
    /// The version text as printed, without the `tmux ` prefix.
    pub raw: String,
}

impl TmuxVersion {
    /// Parse `tmux -V` output; `None` if it is not tmux's.
    pub fn parse(text: &str) -> Option<TmuxVersion> {
        let raw = text.trim().strip_prefix("tmux ")?.trim();
        if raw.is_empty() {
            return None;
        }
        let (numbered, development) = match raw.strip_prefix("next-") {
            Some(rest) => (rest, true),
            None => (raw, false),
        };
        match split_numbers(numbered) {
            Some((major, minor, suffix)) => Some(TmuxVersion {
                major,
                minor,
                suffix: suffix.to_owned(),
                development,
                raw: raw.to_owned(),
            }),
            None => Some(TmuxVersion {
                major: 0,
                minor: 0,
                suffix: String::new(),
                development: true,
                raw: raw.to_owned(),
            }),
        }
    }

    /// Whether this is at least `major.minor` (unnumbered development builds always are).
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        if self.development && self.major == 0 && self.minor == 0 {
            return true;
        }
        (self.major, self.minor) >= (major, minor)
    }
}

/// `3.3a` -> (3, 3, "a").
fn split_numbers(text: &str) -> Option<(u32, u32, &str)> {
    let (major, rest) = text.split_once('.')?;
    let major = major.parse().ok()?;
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let minor = rest[..digits].parse().ok()?;
    Some((major, minor, &rest[digits..]))
}

#[cfg(test)]
mod tests {
    use super::TmuxVersion;

    #[test]
    fn release() {
        let v = TmuxVersion::parse("tmux 3.3a\n").unwrap();
        assert_eq!(
            (v.major, v.minor, v.suffix.as_str(), v.development),
            (3, 3, "a", false)
        );
        assert!(v.at_least(3, 0) && v.at_least(3, 3) && !v.at_least(3, 4));
        let v = TmuxVersion::parse("tmux 3.4").unwrap();
        assert_eq!((v.major, v.minor, v.suffix.as_str()), (3, 4, ""));
        let v = TmuxVersion::parse("tmux 3.5-rc").unwrap();
        assert_eq!((v.major, v.minor, v.suffix.as_str()), (3, 5, "-rc"));
    }

    #[test]
    fn development() {
        let v = TmuxVersion::parse("tmux next-3.5").unwrap();
        assert_eq!((v.major, v.minor, v.development), (3, 5, true));
        assert!(!v.at_least(3, 6));
        let v = TmuxVersion::parse("tmux master").unwrap();
        assert!(v.development);
        assert_eq!(v.raw, "master");
        assert!(v.at_least(9, 9));
    }

    #[test]
    fn not_tmux() {
        assert_eq!(TmuxVersion::parse(""), None);
        assert_eq!(TmuxVersion::parse("screen 4.0"), None);
        assert_eq!(TmuxVersion::parse("tmux "), None);
    }
}
