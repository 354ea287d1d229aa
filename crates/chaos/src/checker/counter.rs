//! Keys changed only by INCR: a counter never reads beyond the increments sent, never below an
//! increment acknowledged at full consistency before the read, and two such increments never
//! return the same value.

use std::collections::BTreeMap;

use super::Rules;
use crate::anomaly::AnomalyKind;
use crate::history::{Command, Completion, Operation, Phase, Reply};

pub(super) fn check(rules: &mut Rules<'_>) {
    let increments: Vec<&Operation> = rules
        .operations
        .iter()
        .copied()
        .filter(|o| o.command == Command::Incr)
        .collect();
    // Acknowledged at full consistency, with the value each returned.
    let durable: Vec<(&Operation, i64)> = increments
        .iter()
        .filter(|o| rules.durable(o))
        .filter_map(|o| match o.completion {
            Completion::Ok(Reply::Integer(n)) => Some((*o, n)),
            _ => None,
        })
        .collect();
    duplicates(rules, &durable);
    missing_at_the_end(rules, &durable);
    for &operation in rules.operations {
        let value = match (&operation.command, &operation.completion) {
            (Command::Incr, Completion::Ok(Reply::Integer(n))) => Some(*n),
            (Command::Get, Completion::Ok(Reply::Value(None))) => Some(0),
            (Command::Get, Completion::Ok(Reply::Value(Some(text)))) => match text.parse() {
                Ok(n) => Some(n),
                Err(_) => {
                    rules.flag(
                        AnomalyKind::PhantomValue,
                        format!("read {text:?} from a counter"),
                        Some(operation),
                        Vec::new(),
                    );
                    None
                }
            },
            _ => None,
        };
        let Some(value) = value else {
            continue;
        };
        let isolated = rules.isolated(operation);
        if operation.command == Command::Get {
            rules.count_read(isolated);
        }
        let sent = increments
            .iter()
            .filter(|o| o.invoked < operation.completed)
            .count();
        if value > i64::try_from(sent).unwrap_or(i64::MAX) {
            rules.flag(
                AnomalyKind::PhantomValue,
                format!("saw {value} after only {sent} INCRs had been sent"),
                Some(operation),
                Vec::new(),
            );
            continue;
        }
        if isolated {
            continue;
        }
        let before = durable
            .iter()
            .filter(|(o, _)| o.completed < operation.invoked)
            .max_by_key(|(_, n)| *n);
        if let Some(&(earlier, n)) = before {
            if value <= n && !(operation.command == Command::Get && value == n) {
                rules.flag(
                    AnomalyKind::LostIncrement,
                    format!(
                        "saw {value}, but an INCR acknowledged at consistency {} had returned {n} \
                         before this was sent",
                        earlier.consistency
                    ),
                    Some(operation),
                    vec![earlier],
                );
            }
        }
    }
}

/// The convergence sweep's value below the count of increments acknowledged at full
/// consistency: some were lost for good (each one added 1), whatever the counter did since.
fn missing_at_the_end(rules: &mut Rules<'_>, durable: &[(&Operation, i64)]) {
    let acknowledged = i64::try_from(durable.len()).unwrap_or(i64::MAX);
    let swept = rules.operations.iter().copied().find(|o| {
        o.phase == Phase::Final && matches!(o.completion, Completion::Ok(Reply::Value(_)))
    });
    let Some(read) = swept else {
        return;
    };
    let value = match read.read_value() {
        Some(Some(text)) => text.parse::<i64>().unwrap_or(i64::MAX),
        _ => 0,
    };
    if value < acknowledged {
        rules.flag(
            AnomalyKind::LostIncrement,
            format!(
                "the counter ended at {value} after {acknowledged} INCRs acknowledged at full \
                 consistency: at least {} of them lost for good",
                acknowledged - value
            ),
            Some(read),
            Vec::new(),
        );
    }
}

/// Two increments acknowledged at full consistency that returned the same value.
fn duplicates(rules: &mut Rules<'_>, durable: &[(&Operation, i64)]) {
    let mut seen: BTreeMap<i64, &Operation> = BTreeMap::new();
    for &(operation, n) in durable {
        match seen.get(&n) {
            Some(&first) => rules.flag(
                AnomalyKind::DuplicateIncrement,
                format!("two INCRs acknowledged at full consistency both returned {n}"),
                Some(operation),
                vec![first],
            ),
            None => {
                seen.insert(n, operation);
            }
        }
    }
}
