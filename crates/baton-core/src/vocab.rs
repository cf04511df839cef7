//! baton's vocabulary: the names written into the journal, the store and `--json` output,
//! each spelled once here. The shell and the engine use these enums; their text forms are
//! what the store holds and what scripts read, so they never change.

/// Declares a closed set of names with their stored text form, `as_str`, `ALL` and `FromStr`.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The text form: what the store holds and `--json` prints.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| {
                        let known: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                        format!("unknown {} '{s}' (known: {})", stringify!($name), known.join(", "))
                    })
            }
        }
    };
}

vocabulary! {
    /// What a journal line records.
    JournalAction {
        /// A finished turn, reported by an agent CLI's hook.
        TurnEnd = "agent-turn-end",
        /// A `baton run` that follows a daemon already running.
        RunFollow = "run-follow",
        /// A handoff asked for by a person (`baton handoff`, `baton watch`).
        HandoffRequest = "handoff-request",
    }
}

#[cfg(test)]
mod tests {
    use super::JournalAction;

    #[test]
    fn text_forms_are_unique_and_parse_back() {
        let mut seen = std::collections::BTreeSet::new();
        for a in JournalAction::ALL {
            assert!(seen.insert(a.as_str()), "{a} spelled twice");
            assert_eq!(a.as_str().parse::<JournalAction>().unwrap(), *a);
        }
        let err = "no-such".parse::<JournalAction>().unwrap_err();
        assert!(err.contains("unknown JournalAction 'no-such'"), "{err}");
    }
}
