//! The configuration parameters `CONFIG GET` reports.
//!
//! Client libraries and tools read a few parameters to decide how to behave (redis-benchmark
//! reads `save` and `appendonly`, cluster-aware clients `cluster-enabled`, admin tools
//! `maxmemory`...). Dendrite answers them with the values that describe it as a Redis would:
//! no eviction, one database, a Redis Cluster; `appendonly yes` only with a data directory
//! (`--data-dir`: its log is the AOF's counterpart, as INFO's `aof_enabled` says).

/// Parameter names and values, in the order they are listed.
pub const PARAMETERS: &[(&str, &str)] = &[
    ("appendonly", "no"),
    // Slots, MOVED and the CLUSTER commands are served (docs/redis-compat.md, *Cluster*).
    ("cluster-enabled", "yes"),
    // One keyspace: `SELECT` of any other index fails as on a Redis with `databases 1`.
    ("databases", "1"),
    ("maxclients", "10000"),
    ("maxmemory", "0"),
    ("maxmemory-clients", "0"),
    ("maxmemory-eviction-tenacity", "10"),
    ("maxmemory-policy", "noeviction"),
    ("maxmemory-samples", "5"),
    ("save", ""),
    ("timeout", "0"),
];

/// The parameters matching any of `patterns` (Redis glob syntax, any letter case), each once,
/// as name/value pairs, for a node with a data directory (`durable`) or without. A pattern
/// without glob characters is a plain name, and Redis answers it spelled as asked
/// (`MAXMEMORY`), so the names are returned as bytes.
pub fn matching<'a>(patterns: &[&'a [u8]], durable: bool) -> Vec<(&'a [u8], &'static str)> {
    let mut found: Vec<(&'a [u8], &'static str)> = Vec::new();
    for pattern in patterns {
        let is_glob = pattern
            .iter()
            .any(|byte| matches!(byte, b'*' | b'?' | b'['));
        for &(name, value) in PARAMETERS {
            let value = if durable && name == "appendonly" {
                "yes"
            } else {
                value
            };
            let listed = |found: &[(&[u8], &str)]| {
                found
                    .iter()
                    .any(|(other, _)| other.eq_ignore_ascii_case(name.as_bytes()))
            };
            if is_glob && glob_matches(pattern, name.as_bytes()) && !listed(&found) {
                found.push((name.as_bytes(), value));
            } else if !is_glob && pattern.eq_ignore_ascii_case(name.as_bytes()) && !listed(&found) {
                found.push((pattern, value));
            }
        }
    }
    found
}

/// Redis's `stringmatchlen` without case: `*`, `?`, `[abc]`, `[^a-z]` and `\` escapes.
pub fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    let Some((&first, rest)) = pattern.split_first() else {
        return text.is_empty();
    };
    match first {
        b'*' => (0..=text.len()).any(|skip| glob_matches(rest, &text[skip..])),
        b'?' => !text.is_empty() && glob_matches(rest, &text[1..]),
        b'[' => {
            let Some((&byte, text_rest)) = text.split_first() else {
                return false;
            };
            let (matched, after) = match_class(rest, byte);
            matched && glob_matches(after, text_rest)
        }
        b'\\' if !rest.is_empty() => {
            !text.is_empty()
                && text[0].eq_ignore_ascii_case(&rest[0])
                && glob_matches(&rest[1..], &text[1..])
        }
        literal => {
            !text.is_empty()
                && text[0].eq_ignore_ascii_case(&literal)
                && glob_matches(rest, &text[1..])
        }
    }
}

/// Whether `byte` is in the class starting just after `[`; returns the pattern after `]`.
fn match_class(class: &[u8], byte: u8) -> (bool, &[u8]) {
    let byte = byte.to_ascii_lowercase();
    let (negated, mut rest) = match class.split_first() {
        Some((b'^', rest)) => (true, rest),
        _ => (false, class),
    };
    let mut found = false;
    loop {
        match rest {
            [] => break,
            [b']', after @ ..] => {
                rest = after;
                break;
            }
            [b'\\', escaped, after @ ..] => {
                found |= escaped.to_ascii_lowercase() == byte;
                rest = after;
            }
            [low, b'-', high, after @ ..] if *high != b']' => {
                let (low, high) = (low.to_ascii_lowercase(), high.to_ascii_lowercase());
                let (low, high) = if low <= high {
                    (low, high)
                } else {
                    (high, low)
                };
                found |= (low..=high).contains(&byte);
                rest = after;
            }
            [single, after @ ..] => {
                found |= single.to_ascii_lowercase() == byte;
                rest = after;
            }
        }
    }
    (found != negated, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_like_redis() {
        assert!(glob_matches(b"max*", b"maxmemory"));
        assert!(glob_matches(b"MAXMEMORY", b"maxmemory"));
        assert!(glob_matches(b"s?ve", b"save"));
        assert!(glob_matches(b"[sx]ave", b"save"));
        assert!(!glob_matches(b"[^s]ave", b"save"));
        assert!(glob_matches(b"[a-t]ave", b"save"));
        assert!(glob_matches(b"*", b""));
        assert!(!glob_matches(b"max", b"maxmemory"));
        assert!(glob_matches(b"sa\\ve", b"save"));
    }

    #[test]
    fn each_parameter_is_listed_once() {
        let found = matching(&[b"maxmemory", b"max*"], false);
        assert_eq!(
            found
                .iter()
                .filter(|(name, _)| *name == b"maxmemory")
                .count(),
            1
        );
        assert_eq!(matching(&[b"nosuch"], false), vec![]);
        assert_eq!(matching(&[b"SAVE"], false), vec![(&b"SAVE"[..], "")]);
        // A data directory is the AOF's counterpart.
        assert_eq!(
            matching(&[b"appendonly"], false),
            vec![(&b"appendonly"[..], "no")]
        );
        assert_eq!(
            matching(&[b"appendonly"], true),
            vec![(&b"appendonly"[..], "yes")]
        );
    }
}
