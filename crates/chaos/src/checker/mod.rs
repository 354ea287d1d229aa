//! Checks a [`History`] key by key against the promises of docs/design.md:
//!
//! - a read never returns a value never written (nor one written only after it returned);
//! - a read returns a value whose write overlaps it or one not yet replaced when it began: a
//!   write or delete acknowledged at full consistency (`replicas + 1` copies) replaces every
//!   write that ended before it was sent. So nil for a key whose acknowledged write was not
//!   followed by a delete is a lost write, and a deleted value read again a resurrection;
//! - counters (INCR) never go back below, nor repeat, an increment acknowledged at full
//!   consistency;
//! - after the faults stop, every node reads the same value of every key.
//!
//! Operations that got no answer may take effect at any time after they were sent; those that
//! got an error reply, at any time until the reply. Writes acknowledged below full consistency
//! may be lost (one copy can die with them), so they replace nothing. Reads through a node
//! that was cut off (a partition's minority, a paused node, a slow link) until the cluster
//! settled again are only checked for values never written: a minority serves what it has.

mod convergence;
mod counter;
mod register;

use std::collections::BTreeMap;

use crate::anomaly::Anomaly;
use crate::history::{Command, History, Operation, Phase};

/// What a check found.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Every broken promise.
    pub anomalies: Vec<Anomaly>,
    /// Operations checked (all of the history).
    pub operations: usize,
    /// Successful reads checked against every rule.
    pub reads_checked: usize,
    /// Successful reads through a cut-off node, checked only for values never written.
    pub reads_isolated: usize,
    /// Keys checked.
    pub keys: usize,
}

impl Verdict {
    /// How many anomalies the convergence sweep found: what was lost for good.
    pub fn found_by_sweep(&self) -> usize {
        self.anomalies
            .iter()
            .filter(|a| {
                a.operation
                    .as_ref()
                    .is_some_and(|o| o.phase == Phase::Final)
            })
            .count()
    }

    /// The anomalies a profile tolerating the open finding still fails on: all but those of
    /// [`Anomaly::while_ownership_moved`].
    pub fn untolerated(&self) -> Vec<&Anomaly> {
        self.anomalies
            .iter()
            .filter(|a| !a.while_ownership_moved())
            .collect()
    }
}

/// Checks histories of a cluster keeping `replicas` extra copies of every key.
#[derive(Debug, Clone, Copy)]
pub struct Checker {
    /// Extra copies of every key: writes at consistency `replicas + 1` are durable.
    pub replicas: u8,
}

impl Checker {
    /// The consistency at which an acknowledged write is promised to survive.
    pub fn full_consistency(&self) -> u8 {
        self.replicas.saturating_add(1)
    }

    /// Checks every key of `history`.
    pub fn check(&self, history: &History) -> Verdict {
        let mut keys: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
        for operation in &history.operations {
            keys.entry(&operation.key).or_default().push(operation);
        }
        let mut verdict = Verdict {
            operations: history.operations.len(),
            keys: keys.len(),
            ..Verdict::default()
        };
        for (key, mut operations) in keys {
            operations.sort_by_key(|o| (o.invoked, o.completed));
            let counter = operations.iter().any(|o| o.command == Command::Incr);
            let mut rules = Rules {
                key,
                operations: &operations,
                full: self.full_consistency(),
                history,
                verdict: &mut verdict,
            };
            if counter {
                counter::check(&mut rules);
            } else {
                register::check(&mut rules);
            }
            convergence::check(&mut rules);
        }
        verdict
    }
}

/// One key's operations and where its findings go.
struct Rules<'a> {
    key: &'a str,
    /// Sorted by invocation.
    operations: &'a [&'a Operation],
    full: u8,
    history: &'a History,
    verdict: &'a mut Verdict,
}

impl Rules<'_> {
    /// Whether `operation` was acknowledged at full consistency.
    fn durable(&self, operation: &Operation) -> bool {
        operation.ok() && operation.consistency >= self.full
    }

    /// Whether the node `operation` went through was cut off while it ran.
    fn isolated(&self, operation: &Operation) -> bool {
        self.history
            .isolated(operation.node, operation.invoked, operation.completed)
    }

    /// Counts a successful read: checked fully, or only for phantoms when isolated.
    fn count_read(&mut self, isolated: bool) {
        if isolated {
            self.verdict.reads_isolated += 1;
        } else {
            self.verdict.reads_checked += 1;
        }
    }

    fn flag(
        &mut self,
        kind: crate::anomaly::AnomalyKind,
        explanation: String,
        operation: Option<&Operation>,
        evidence: Vec<&Operation>,
    ) {
        // What the convergence sweep finds missing was lost at some time of the run: when
        // ownership moved, if it ever did.
        let in_transition = operation.is_some_and(|o| match o.phase {
            Phase::Faults => self.history.in_transition(o.invoked, o.completed),
            Phase::Final => !self.history.transitions.is_empty(),
        });
        self.verdict.anomalies.push(Anomaly {
            kind,
            key: self.key.to_owned(),
            explanation,
            operation: operation.cloned(),
            evidence: evidence.into_iter().cloned().collect(),
            in_transition,
        });
    }
}

#[cfg(test)]
mod tests;
