//! The one table of the commands Dendrite serves.
//!
//! Name lookup, arity and subcommand checks while parsing, the `no_auth` gate, `COMMAND`,
//! `COMMAND INFO`, `COMMAND DOCS`, `COMMAND COUNT` and `COMMAND GETKEYS` all read [`COMMANDS`],
//! so what a client is told about a command is what the parser enforces. Arity, flags, ACL
//! categories, tips and key positions are Redis 7's own for the commands Redis has.

use bytes::Bytes;

use super::Reply;

mod commands;
mod shapes;
mod subcommands;

pub use commands::COMMANDS;

/// Where a command's keys are, in Redis's legacy (first, last, step) form plus the flags of
/// its key specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPositions {
    /// Index of the first key (the command name is 0).
    pub first: i32,
    /// Index of the last key; negative counts from the end (-1: the last argument).
    pub last: i32,
    /// Distance between keys (2 for `MSET key value ...`).
    pub step: i32,
    /// Key-spec flags (`RO`, `access`...), as `COMMAND INFO` lists them.
    pub flags: &'static [&'static str],
    /// Key-spec notes, where Redis has some.
    pub notes: Option<&'static str>,
    /// Redis's key specifications when it has several (RENAME's source and destination have
    /// different flags); empty: the one specification `first`, `last`, `step` and `flags` say.
    pub specs: &'static [KeySpec],
}

/// One of several key specifications: the keys from argument `index` to `lastkey` (relative
/// to `index`, or negative from the end) every `keystep`, with their flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// Index of the first key.
    pub index: i32,
    /// Last key, relative to `index`; negative counts from the end.
    pub lastkey: i32,
    /// Distance between keys.
    pub keystep: i32,
    /// Key-spec flags.
    pub flags: &'static [&'static str],
}

/// What `COMMAND DOCS` says of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandDocs {
    /// One line saying what it does.
    pub summary: &'static str,
    /// The Redis version that introduced it.
    pub since: &'static str,
    /// Redis's command group (`string`, `connection`...).
    pub group: &'static str,
    /// Time complexity.
    pub complexity: &'static str,
}

/// One command or subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// Lowercase name; a subcommand is `container|sub` as Redis names it.
    pub name: &'static str,
    /// Redis's convention: positive is the exact argument count including the name (and the
    /// subcommand), negative a minimum.
    pub arity: i32,
    /// Command flags (`readonly`, `fast`, `no_auth`...).
    pub flags: &'static [&'static str],
    /// ACL categories.
    pub acl: &'static [&'static str],
    /// Hints for clients and proxies (`request_policy:...`).
    pub tips: &'static [&'static str],
    /// Key positions; `None` for commands without keys.
    pub keys: Option<KeyPositions>,
    /// `COMMAND DOCS` fields.
    pub docs: CommandDocs,
    /// Subcommands, for containers such as `CLIENT`.
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// Whether `argc` arguments (the name included) fit this command's arity.
    pub fn arity_fits(&self, argc: usize) -> bool {
        let argc = i64::try_from(argc).unwrap_or(i64::MAX);
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// Whether the command has the flag `flag`.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// The subcommand `sub` (any letter case) of this container.
    pub fn subcommand(&self, sub: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands.iter().find(|spec| {
            spec.name
                .split_once('|')
                .is_some_and(|(_, name)| sub.eq_ignore_ascii_case(name.as_bytes()))
        })
    }

    /// The keys of a request for this command (`COMMAND GETKEYS`), or Redis's error.
    pub fn keys_of<'a>(&self, args: &'a [Bytes]) -> Result<Vec<&'a Bytes>, Reply> {
        if !self.arity_fits(args.len()) {
            return Err(Reply::err(
                "Invalid number of arguments specified for command",
            ));
        }
        let Some(keys) = self.keys else {
            return Err(Reply::err("The command has no key arguments"));
        };
        let argc = i64::try_from(args.len()).unwrap_or(i64::MAX);
        let last = if keys.last < 0 {
            argc + i64::from(keys.last)
        } else {
            i64::from(keys.last)
        };
        let step = usize::try_from(keys.step.max(1)).unwrap_or(1);
        let first = usize::try_from(keys.first).unwrap_or(usize::MAX);
        let last = usize::try_from(last).unwrap_or(0);
        let found: Vec<&Bytes> = (first..=last)
            .step_by(step)
            .filter_map(|index| args.get(index))
            .collect();
        if (last + 1 - first.min(last + 1)) % step != 0 {
            // MSET with a key but no value: Redis checks the step too.
            return Err(Reply::err(
                "Invalid number of arguments specified for command",
            ));
        }
        Ok(found)
    }

    /// The `COMMAND INFO` entry: name, arity, flags, first key, last key, step, ACL
    /// categories, tips, key specifications, subcommands.
    pub fn info_reply(&self) -> Reply {
        let statuses = |words: &[&'static str]| {
            Reply::Set(
                words
                    .iter()
                    .map(|word| Reply::Simple((*word).into()))
                    .collect(),
            )
        };
        let (first, last, step) = self
            .keys
            .map_or((0, 0, 0), |keys| (keys.first, keys.last, keys.step));
        let key_spec =
            |notes: Option<&str>, flags: &[&'static str], index: i32, lastkey: i32, step: i32| {
                let mut spec = Vec::with_capacity(4);
                if let Some(notes) = notes {
                    spec.push((Reply::text("notes"), Reply::text(notes)));
                }
                spec.push((Reply::text("flags"), statuses(flags)));
                spec.push((
                    Reply::text("begin_search"),
                    Reply::Map(vec![
                        (Reply::text("type"), Reply::text("index")),
                        (
                            Reply::text("spec"),
                            Reply::Map(vec![(Reply::text("index"), integer(index))]),
                        ),
                    ]),
                ));
                spec.push((
                    Reply::text("find_keys"),
                    Reply::Map(vec![
                        (Reply::text("type"), Reply::text("range")),
                        (
                            Reply::text("spec"),
                            Reply::Map(vec![
                                (Reply::text("lastkey"), integer(lastkey)),
                                (Reply::text("keystep"), integer(step)),
                                (Reply::text("limit"), Reply::Integer(0)),
                            ]),
                        ),
                    ]),
                ));
                Reply::Map(spec)
            };
        let key_specs: Vec<Reply> = match self.keys {
            None => Vec::new(),
            Some(keys) if keys.specs.is_empty() => {
                // Redis's key-spec `lastkey` is relative to the first key unless negative.
                let lastkey = if keys.last < 0 {
                    keys.last
                } else {
                    keys.last - keys.first
                };
                vec![key_spec(
                    keys.notes, keys.flags, keys.first, lastkey, keys.step,
                )]
            }
            Some(keys) => keys
                .specs
                .iter()
                .map(|s| key_spec(None, s.flags, s.index, s.lastkey, s.keystep))
                .collect(),
        };
        Reply::Array(vec![
            Reply::text(self.name),
            integer(self.arity),
            statuses(self.flags),
            integer(first),
            integer(last),
            integer(step),
            statuses(self.acl),
            Reply::Set(self.tips.iter().map(|tip| Reply::text(tip)).collect()),
            Reply::Set(key_specs),
            Reply::Set(
                self.subcommands
                    .iter()
                    .map(CommandSpec::info_reply)
                    .collect(),
            ),
        ])
    }

    /// The `COMMAND DOCS` entry (without Redis's argument trees and history, see
    /// docs/redis-compat.md).
    pub fn docs_reply(&self) -> Reply {
        let mut fields = vec![
            (Reply::text("summary"), Reply::text(self.docs.summary)),
            (Reply::text("since"), Reply::text(self.docs.since)),
            (Reply::text("group"), Reply::text(self.docs.group)),
            (Reply::text("complexity"), Reply::text(self.docs.complexity)),
        ];
        if !self.subcommands.is_empty() {
            fields.push((
                Reply::text("subcommands"),
                Reply::Map(
                    self.subcommands
                        .iter()
                        .map(|sub| (Reply::text(sub.name), sub.docs_reply()))
                        .collect(),
                ),
            ));
        }
        Reply::Map(fields)
    }
}

fn integer(value: i32) -> Reply {
    Reply::Integer(i64::from(value))
}

/// The top-level command named `name` (any letter case), aliases included.
///
/// Every request is looked up (for its metrics name, and to be parsed), so the table is
/// indexed by name length and first letter (`by_shape`): a lookup compares against the one
/// or two commands of that shape, not a run of the whole table.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if name.eq_ignore_ascii_case(b"dendrite.consistency") {
        return lookup(b"consistency");
    }
    let index = by_shape();
    index
        .get(shape_of(name)?)?
        .iter()
        .map(|&at| &COMMANDS[usize::from(at)])
        .find(|spec| name.eq_ignore_ascii_case(spec.name.as_bytes()))
}

/// Names longer than this are no command's; [`shape_of`] has no bucket for them.
const MAX_NAME_LEN: usize = 31;

/// A name's bucket in [`by_shape`]: its length and its first letter, any case.
fn shape_of(name: &[u8]) -> Option<usize> {
    let first = *name.first()?;
    (name.len() <= MAX_NAME_LEN)
        .then(|| name.len() * 32 + usize::from(first.to_ascii_lowercase() & 31))
}

/// The indexes in [`COMMANDS`] of the commands of each [`shape_of`], built on first use.
fn by_shape() -> &'static [Vec<u16>] {
    static INDEX: std::sync::OnceLock<Vec<Vec<u16>>> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = vec![Vec::new(); (MAX_NAME_LEN + 1) * 32];
        for (at, spec) in COMMANDS.iter().enumerate() {
            if let (Some(shape), Ok(at)) = (shape_of(spec.name.as_bytes()), u16::try_from(at)) {
                index[shape].push(at);
            }
        }
        index
    })
}

/// The name Redis shows for a request in `CLIENT LIST`'s `cmd=`: `get`, `client|info`.
pub fn full_name(args: &[Bytes]) -> Option<&'static str> {
    let spec = lookup(args.first()?)?;
    if spec.subcommands.is_empty() {
        return Some(spec.name);
    }
    Some(
        args.get(1)
            .and_then(|sub| spec.subcommand(sub))
            .map_or(spec.name, |sub| sub.name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|word| Bytes::copy_from_slice(word.as_bytes()))
            .collect()
    }

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut names: Vec<&str> = COMMANDS
            .iter()
            .flat_map(|spec| std::iter::once(spec).chain(spec.subcommands))
            .map(|spec| spec.name)
            .collect();
        assert!(names.iter().all(|name| name.to_lowercase() == *name));
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }

    /// The indexed lookup finds every command by its name in any letter case, and answers
    /// like a scan of the whole table for other names.
    #[test]
    fn lookup_finds_what_a_scan_of_the_table_finds() {
        let scan = |name: &[u8]| {
            COMMANDS
                .iter()
                .find(|spec| name.eq_ignore_ascii_case(spec.name.as_bytes()))
        };
        for spec in COMMANDS {
            let upper = spec.name.to_ascii_uppercase();
            for name in [spec.name.as_bytes(), upper.as_bytes()] {
                assert!(lookup(name).is_some_and(|found| std::ptr::eq(found, spec)));
            }
        }
        let others: [&[u8]; 8] = [
            b"",
            b"g",
            b"gett",
            b"SE",
            b"@et",
            b"\x87et",
            &[b'x'; 40],
            b"get\0",
        ];
        for name in others {
            assert_eq!(lookup(name).map(|s| s.name), scan(name).map(|s| s.name));
        }
        assert_eq!(
            lookup(b"DENDRITE.CONSISTENCY").map(|s| s.name),
            Some("consistency")
        );
    }

    #[test]
    fn finds_keys_like_command_getkeys() {
        let spec = |name: &str| lookup(name.as_bytes()).unwrap();
        let request = args(&["mset", "a", "1", "b", "2"]);
        assert_eq!(
            spec("MSET").keys_of(&request).unwrap(),
            vec![&request[1], &request[3]]
        );
        let request = args(&["del", "a", "b"]);
        assert_eq!(spec("del").keys_of(&request).unwrap().len(), 2);
        let request = args(&["get", "a", "b"]);
        assert_eq!(
            spec("get").keys_of(&request),
            Err(Reply::err(
                "Invalid number of arguments specified for command"
            ))
        );
        let request = args(&["ping", "x"]);
        assert_eq!(
            spec("ping").keys_of(&request),
            Err(Reply::err("The command has no key arguments"))
        );
    }

    #[test]
    fn resolves_subcommands_and_aliases() {
        let client = lookup(b"CLIENT").unwrap();
        assert_eq!(
            client.subcommand(b"SetName").map(|s| s.name),
            Some("client|setname")
        );
        assert!(client.subcommand(b"kill").is_none());
        assert_eq!(
            lookup(b"Dendrite.Consistency").map(|s| s.name),
            Some("consistency")
        );
        assert_eq!(full_name(&args(&["client", "info"])), Some("client|info"));
        assert_eq!(full_name(&args(&["get", "k"])), Some("get"));
    }
}
