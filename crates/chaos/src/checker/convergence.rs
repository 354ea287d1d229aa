//! After the faults: the convergence sweep read every key from every node, and all must agree.

use super::Rules;
use crate::anomaly::AnomalyKind;
use crate::history::{Operation, Phase};

pub(super) fn check(rules: &mut Rules<'_>) {
    let sweep: Vec<&Operation> = rules
        .operations
        .iter()
        .copied()
        .filter(|o| o.phase == Phase::Final)
        .collect();
    let Some(first) = sweep.first() else {
        return;
    };
    let unanswered = sweep.iter().any(|o| !o.ok());
    let differ = sweep.iter().any(|o| o.read_value() != first.read_value());
    if unanswered || differ {
        let explanation = if unanswered {
            "not every node answered the convergence sweep"
        } else {
            "the nodes read different values after the faults stopped"
        };
        rules.flag(AnomalyKind::Divergence, explanation.to_owned(), None, sweep);
    }
}
