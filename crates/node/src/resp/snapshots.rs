//! `SAVE`, `BGSAVE [SCHEDULE]` and `LASTSAVE`: Redis's persistence commands, mapped to the
//! snapshots of the node's data directory (docs/redis-compat.md, "Persistence commands").
//!
//! Redis always has somewhere to save; a node started without `--data-dir` has not, so these
//! commands answer it with an error naming `--data-dir` rather than pretend.

use std::sync::Arc;

use bytes::Bytes;
use dtable::durable::{BackgroundSave, Log, SaveError};

use super::commands::{eq_ignore_case, syntax_error, Command};
use super::Reply;
use crate::backend::Backend;

/// One of the persistence commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotCommand {
    /// `SAVE`: a snapshot, answered once it is on disk.
    Save,
    /// `BGSAVE [SCHEDULE]`: a snapshot in the background (`schedule`: queued behind the log's
    /// own compaction when one is running, instead of refused).
    BackgroundSave {
        /// `SCHEDULE` was given.
        schedule: bool,
    },
    /// `LASTSAVE`: when the last snapshot was completed, in Unix seconds.
    LastSave,
}

/// Parses a persistence command (`name` is the table's lowercase name, arity already
/// checked); `None` when `name` is not one.
pub(super) fn parse(name: &str, args: &[Bytes]) -> Option<Result<Command, Reply>> {
    let command = match name {
        "save" => SnapshotCommand::Save,
        "lastsave" => SnapshotCommand::LastSave,
        "bgsave" => match args {
            [_] => SnapshotCommand::BackgroundSave { schedule: false },
            [_, word] if eq_ignore_case(word, "schedule") => {
                SnapshotCommand::BackgroundSave { schedule: true }
            }
            _ => return Some(Err(syntax_error())),
        },
        _ => return None,
    };
    Some(Ok(Command::Snapshot(command)))
}

/// The error for a node without a data directory.
fn nowhere_to_save() -> Reply {
    Reply::err(
        "this node keeps its data in memory only (it was started without --data-dir): there is \
         nowhere to save. Restart it with --data-dir DIR to keep its data on disk",
    )
}

/// Runs a persistence command against the backend's log.
pub(super) async fn execute(command: SnapshotCommand, backend: &dyn Backend) -> Reply {
    let Some(log) = backend.log() else {
        return nowhere_to_save();
    };
    reply(command, &log).await
}

async fn reply(command: SnapshotCommand, log: &Arc<Log>) -> Reply {
    match command {
        SnapshotCommand::Save => match log.save().await {
            Ok(()) => Reply::ok(),
            Err(SaveError::Refused(refused)) => Reply::err(refused),
            Err(failed @ SaveError::Failed(_)) => Reply::err(failed),
        },
        SnapshotCommand::BackgroundSave { schedule } => match log.background_save(schedule) {
            Ok(BackgroundSave::Started) => Reply::Simple("Background saving started".into()),
            Ok(BackgroundSave::Scheduled) => Reply::Simple("Background saving scheduled".into()),
            Err(refused) => Reply::err(refused),
        },
        SnapshotCommand::LastSave => {
            Reply::Integer(i64::try_from(log.last_save_unix()).unwrap_or(i64::MAX))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Result<Command, Reply> {
        let args = line
            .split(' ')
            .map(|word| Bytes::copy_from_slice(word.as_bytes()))
            .collect();
        Command::parse(args)
    }

    #[test]
    fn commands_parse_with_redis_errors() {
        assert_eq!(parsed("SAVE"), Ok(Command::Snapshot(SnapshotCommand::Save)));
        assert_eq!(
            parsed("bgsave"),
            Ok(Command::Snapshot(SnapshotCommand::BackgroundSave {
                schedule: false
            }))
        );
        assert_eq!(
            parsed("BGSAVE schedule"),
            Ok(Command::Snapshot(SnapshotCommand::BackgroundSave {
                schedule: true
            }))
        );
        assert_eq!(parsed("BGSAVE now"), Err(syntax_error()));
        assert_eq!(parsed("BGSAVE schedule x"), Err(syntax_error()));
        assert_eq!(
            parsed("SAVE x"),
            Err(Reply::err("wrong number of arguments for 'save' command"))
        );
        assert_eq!(
            parsed("LASTSAVE"),
            Ok(Command::Snapshot(SnapshotCommand::LastSave))
        );
    }

    #[tokio::test]
    async fn without_a_data_directory_each_names_data_dir() {
        let backend = crate::backend::MemoryBackend::new(1);
        for command in [
            SnapshotCommand::Save,
            SnapshotCommand::BackgroundSave { schedule: true },
            SnapshotCommand::LastSave,
        ] {
            let Reply::Error(text) = execute(command, &backend).await else {
                panic!("{command:?} succeeded without a data directory");
            };
            assert!(text.contains("--data-dir"), "{text}");
        }
    }
}
