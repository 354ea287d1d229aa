//! Keys written with SET and DEL: every value read must be one a write could have left there.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Rules;
use crate::anomaly::AnomalyKind;
use crate::history::{Command, Completion, Operation};

/// Writes of the key other than `except`, overlapping `from..until`, shown with an anomaly.
const NEIGHBOURS: usize = 4;

/// One write (SET or DEL) of the key.
struct Write<'a> {
    operation: &'a Operation,
    /// `None` for a delete.
    value: Option<&'a str>,
    /// The latest time it can take effect: its completion if it was answered (ok or error),
    /// `None` when it got no answer (any time after its invocation).
    settled_by: Option<Duration>,
    durable: bool,
}

pub(super) fn check(rules: &mut Rules<'_>) {
    let mut writes = Vec::new();
    for &operation in rules.operations.iter().filter(|o| o.may_write()) {
        let value = match &operation.command {
            Command::Set(value) => Some(value.as_str()),
            Command::Del => None,
            Command::Get | Command::Incr => continue,
        };
        writes.push(Write {
            operation,
            value,
            settled_by: match operation.completion {
                Completion::Unknown(_) => None,
                _ => Some(operation.completed),
            },
            durable: rules.durable(operation),
        });
    }
    let by_value: BTreeMap<&str, usize> = writes
        .iter()
        .enumerate()
        .filter_map(|(i, w)| w.value.map(|v| (v, i)))
        .collect();
    for &read in rules.operations {
        let Some(value) = read.read_value() else {
            continue;
        };
        let isolated = rules.isolated(read);
        rules.count_read(isolated);
        match value {
            Some(value) => check_value(rules, &writes, &by_value, read, value, isolated),
            None if !isolated => check_nil(rules, &writes, read),
            None => {}
        }
    }
}

/// The durable write that replaced everything settled before it, among those completed before
/// `read` began: the one sent last (`None` if there is none).
fn latest_durable<'w, 'a>(writes: &'w [Write<'a>], read: &Operation) -> Option<&'w Write<'a>> {
    writes
        .iter()
        .filter(|w| w.durable && w.operation.completed < read.invoked)
        .max_by_key(|w| w.operation.invoked)
}

/// Writes overlapping `read` or sent after `since`, other than those already shown.
fn neighbours<'a>(
    writes: &[Write<'a>],
    read: &Operation,
    since: Duration,
    shown: &[&Operation],
) -> Vec<&'a Operation> {
    writes
        .iter()
        .map(|w| w.operation)
        .filter(|o| o.invoked < read.completed && o.completed >= since)
        .filter(|o| !shown.contains(o))
        .rev()
        .take(NEIGHBOURS)
        .collect()
}

fn check_value(
    rules: &mut Rules<'_>,
    writes: &[Write<'_>],
    by_value: &BTreeMap<&str, usize>,
    read: &Operation,
    value: &str,
    isolated: bool,
) {
    let Some(&index) = by_value.get(value) else {
        rules.flag(
            AnomalyKind::PhantomValue,
            format!("read {value:?}, which no SET of this key wrote"),
            Some(read),
            Vec::new(),
        );
        return;
    };
    let write = &writes[index];
    if write.operation.invoked >= read.completed {
        rules.flag(
            AnomalyKind::PhantomValue,
            format!("read {value:?} before the SET that writes it was sent"),
            Some(read),
            vec![write.operation],
        );
        return;
    }
    if isolated {
        return;
    }
    let Some(settled_by) = write.settled_by else {
        return;
    };
    let Some(latest) = latest_durable(writes, read) else {
        return;
    };
    if latest.operation.invoked <= settled_by {
        return;
    }
    let (kind, what) = match latest.value {
        Some(_) => (AnomalyKind::StaleRead, "a SET"),
        None => (AnomalyKind::ResurrectedDelete, "a DEL"),
    };
    let mut evidence = vec![write.operation, latest.operation];
    evidence.extend(neighbours(
        writes,
        read,
        latest.operation.invoked,
        &evidence,
    ));
    rules.flag(
        kind,
        format!(
            "read {value:?}, which {what} acknowledged at consistency {} had replaced before the \
             read was sent",
            latest.operation.consistency
        ),
        Some(read),
        evidence,
    );
}

fn check_nil(rules: &mut Rules<'_>, writes: &[Write<'_>], read: &Operation) {
    let Some(latest) = latest_durable(writes, read) else {
        // Nothing durable before the read: the key may still be absent.
        return;
    };
    // Nil is right if a delete could be the last write: a DEL overlapping the read, or one
    // not replaced by `latest` (sent before it ended, or never answered).
    let since = latest.operation.invoked;
    let deleted = writes.iter().any(|w| {
        w.value.is_none()
            && w.operation.invoked < read.completed
            && w.settled_by.is_none_or(|settled| settled >= since)
    });
    if deleted {
        return;
    }
    let mut evidence = vec![latest.operation];
    evidence.extend(neighbours(writes, read, since, &evidence));
    rules.flag(
        AnomalyKind::LostWrite,
        format!(
            "read nil, but a SET acknowledged at consistency {} ended before the read was sent \
             and no DEL followed it",
            latest.operation.consistency
        ),
        Some(read),
        evidence,
    );
}
