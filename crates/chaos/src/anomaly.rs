//! What the checker flags: a promise of docs/design.md broken on one key, with the operations
//! that prove it (the model is Jepsen's Elle: the anomaly, then the minimal history around it).

use std::fmt::{self, Write as _};
use std::time::Duration;

use crate::history::{History, Operation};

/// Which promise an anomaly breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AnomalyKind {
    /// A read returned a value no write of the key wrote (or one sent only after the read
    /// returned), or a counter beyond the increments sent.
    PhantomValue,
    /// A read returned nil for a key whose write acknowledged at full consistency was not
    /// followed by a delete.
    LostWrite,
    /// A read returned a value that a write acknowledged at full consistency had replaced
    /// before the read began.
    StaleRead,
    /// A read returned a value that a delete acknowledged at full consistency had removed
    /// before the read began.
    ResurrectedDelete,
    /// A counter read or incremented below an increment acknowledged at full consistency
    /// before it began.
    LostIncrement,
    /// Two increments acknowledged at full consistency returned the same value.
    DuplicateIncrement,
    /// After the faults stopped, the nodes did not all read the same value within the
    /// convergence deadline.
    Divergence,
}

impl AnomalyKind {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::PhantomValue => "phantom value",
            AnomalyKind::LostWrite => "lost write (nil)",
            AnomalyKind::StaleRead => "stale read",
            AnomalyKind::ResurrectedDelete => "resurrected delete",
            AnomalyKind::LostIncrement => "lost increment",
            AnomalyKind::DuplicateIncrement => "duplicate increment",
            AnomalyKind::Divergence => "divergence",
        }
    }
}

/// One broken promise on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// Which promise.
    pub kind: AnomalyKind,
    /// The key.
    pub key: String,
    /// Why, in a sentence.
    pub explanation: String,
    /// The operation that broke it (the read, the increment), if one did.
    pub operation: Option<Operation>,
    /// The fewest operations that show it: the write read, the write that replaced it, ...
    pub evidence: Vec<Operation>,
    /// Whether it arose while ownership of ranges was moving (see
    /// [`Anomaly::while_ownership_moved`]): its operation ran then, or it is the convergence
    /// sweep's and the run had faults (what is lost was lost when ownership moved).
    pub in_transition: bool,
}

/// How long before the first operation of an anomaly, and after the last, faults are shown.
const FAULT_MARGIN: Duration = Duration::from_secs(3);

impl Anomaly {
    /// An anomaly of an operation that ran while ownership of ranges was moving: a stale read,
    /// nil for a written key, a resurrected delete, a lost or repeated increment; or one the
    /// convergence sweep found after a run with faults (a write or increments lost for good).
    /// Those are the open finding of docs/reliability.md (vnodes serving a range before they
    /// hold its latest records, while the ring changes), which profiles may tolerate (counted
    /// and shown, not failed). Phantoms and divergence never are, nor anything in calm time.
    pub fn while_ownership_moved(&self) -> bool {
        let stale = !matches!(
            self.kind,
            AnomalyKind::PhantomValue | AnomalyKind::Divergence
        );
        stale && self.in_transition
    }

    /// The anomaly with its evidence in time order and the faults around it.
    pub fn report(&self, seed: u64, history: &History) -> String {
        let mut text = format!(
            "{} on key {} (seed {seed}){}: {}",
            self.kind.name(),
            self.key,
            if self.while_ownership_moved() {
                ", while ownership moved"
            } else {
                ""
            },
            self.explanation
        );
        let mut shown: Vec<&Operation> = self.evidence.iter().collect();
        if let Some(operation) = &self.operation {
            shown.push(operation);
        }
        shown.sort_by_key(|o| (o.invoked, o.completed));
        shown.dedup();
        for operation in &shown {
            let mark = if Some(*operation) == self.operation.as_ref() {
                "  <- this one"
            } else {
                ""
            };
            let _ = write!(text, "\n    {operation}{mark}");
        }
        if let (Some(first), Some(last)) = (shown.first(), shown.last()) {
            let from = first.invoked.saturating_sub(FAULT_MARGIN);
            let until = last.completed + FAULT_MARGIN;
            let faults = history.faults_between(from, until);
            if !faults.is_empty() {
                let _ = write!(text, "\n  faults around it:");
                for fault in faults {
                    let _ = write!(text, "\n    {:>9.3} {}", fault.at.as_secs_f64(), fault.what);
                }
            }
        }
        text
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on key {}: {}",
            self.kind.name(),
            self.key,
            self.explanation
        )
    }
}
