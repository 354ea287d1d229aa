//! Hand-made histories: ones that keep every promise, and ones that must be flagged.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use super::Checker;
use crate::anomaly::AnomalyKind;
use crate::history::{Command, Completion, History, Isolation, Operation, Phase, Reply};

const CHECKER: Checker = Checker { replicas: 2 };

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// An operation on key `k` by client 0 through node 0 at consistency 3, from `from` to `to` ms.
fn op(command: Command, from: u64, to: u64, completion: Completion) -> Operation {
    Operation {
        client: 0,
        node: 0,
        key: "k".into(),
        command,
        consistency: 3,
        invoked: ms(from),
        completed: ms(to),
        completion,
        phase: Phase::Faults,
    }
}

fn set(value: &str, from: u64, to: u64) -> Operation {
    op(
        Command::Set(value.into()),
        from,
        to,
        Completion::Ok(Reply::Done),
    )
}

fn del(from: u64, to: u64) -> Operation {
    op(Command::Del, from, to, Completion::Ok(Reply::Integer(1)))
}

fn get(value: Option<&str>, from: u64, to: u64) -> Operation {
    op(
        Command::Get,
        from,
        to,
        Completion::Ok(Reply::Value(value.map(str::to_owned))),
    )
}

fn incr(n: i64, from: u64, to: u64) -> Operation {
    op(Command::Incr, from, to, Completion::Ok(Reply::Integer(n)))
}

fn kinds(operations: Vec<Operation>) -> Vec<AnomalyKind> {
    let history = History {
        operations,
        ..History::default()
    };
    CHECKER
        .check(&history)
        .anomalies
        .iter()
        .map(|a| a.kind)
        .collect()
}

#[test]
fn reads_of_the_latest_or_an_overlapping_write_are_fine() {
    assert_eq!(
        kinds(vec![
            get(None, 0, 5),
            set("a", 10, 20),
            get(Some("a"), 30, 40),
            // b overlaps the read: either value may be read.
            set("b", 50, 70),
            get(Some("a"), 55, 60),
            get(Some("b"), 56, 61),
            get(Some("b"), 80, 90),
            del(100, 110),
            get(None, 120, 130),
        ]),
        []
    );
}

#[test]
fn a_value_never_written_is_a_phantom() {
    assert_eq!(
        kinds(vec![set("a", 10, 20), get(Some("z"), 30, 40)]),
        [AnomalyKind::PhantomValue]
    );
    // Read before its write was even sent.
    assert_eq!(
        kinds(vec![get(Some("a"), 0, 5), set("a", 10, 20)]),
        [AnomalyKind::PhantomValue]
    );
}

#[test]
fn a_replaced_value_read_later_is_stale_and_a_deleted_one_resurrected() {
    assert_eq!(
        kinds(vec![
            set("a", 10, 20),
            set("b", 30, 40),
            get(Some("a"), 50, 60)
        ]),
        [AnomalyKind::StaleRead]
    );
    assert_eq!(
        kinds(vec![set("a", 10, 20), del(30, 40), get(Some("a"), 50, 60)]),
        [AnomalyKind::ResurrectedDelete]
    );
}

#[test]
fn nil_after_an_acknowledged_write_is_a_lost_write() {
    assert_eq!(
        kinds(vec![set("a", 10, 20), get(None, 30, 40)]),
        [AnomalyKind::LostWrite]
    );
    // A delete overlapping the read, or never answered, makes nil possible.
    assert_eq!(
        kinds(vec![set("a", 10, 20), del(25, 45), get(None, 30, 40)]),
        []
    );
    let unanswered = op(Command::Del, 5, 500, Completion::Unknown("timeout".into()));
    assert_eq!(
        kinds(vec![unanswered, set("a", 10, 20), get(None, 30, 40)]),
        []
    );
}

#[test]
fn a_del_that_found_nothing_read_nil_and_deleted_nothing() {
    let found_nothing = op(Command::Del, 30, 40, Completion::Ok(Reply::Integer(0)));
    assert_eq!(
        kinds(vec![set("a", 10, 20), found_nothing.clone()]),
        [AnomalyKind::LostWrite]
    );
    assert_eq!(
        kinds(vec![
            found_nothing,
            set("a", 50, 60),
            get(Some("a"), 70, 80)
        ]),
        []
    );
}

#[test]
fn writes_below_full_consistency_or_unanswered_replace_nothing() {
    let mut weak = set("b", 30, 40);
    weak.consistency = 1;
    // b may be lost with its one copy: a is still a right answer...
    assert_eq!(
        kinds(vec![set("a", 10, 20), weak.clone(), get(Some("a"), 50, 60)]),
        []
    );
    // ...and so is b.
    assert_eq!(
        kinds(vec![set("a", 10, 20), weak, get(Some("b"), 50, 60)]),
        []
    );
    // A SET that got no answer may take effect after a later acknowledged one.
    let late = op(
        Command::Set("a".into()),
        10,
        20,
        Completion::Unknown("timeout".into()),
    );
    assert_eq!(
        kinds(vec![late, set("b", 30, 40), get(Some("a"), 50, 60)]),
        []
    );
    // One that got an error reply took effect by then, if at all.
    let refused = op(
        Command::Set("a".into()),
        10,
        20,
        Completion::Fail("ERR".into()),
    );
    assert_eq!(
        kinds(vec![refused, set("b", 30, 40), get(Some("a"), 50, 60)]),
        [AnomalyKind::StaleRead]
    );
}

#[test]
fn reads_through_a_cut_off_node_are_checked_only_for_phantoms() {
    let history = |read: Operation| History {
        operations: vec![set("a", 10, 20), set("b", 30, 40), read],
        isolations: vec![Isolation {
            node: 0,
            from: ms(45),
            until: ms(100),
        }],
        ..History::default()
    };
    let verdict = CHECKER.check(&history(get(Some("a"), 50, 60)));
    assert!(verdict.anomalies.is_empty(), "{:?}", verdict.anomalies);
    assert_eq!((verdict.reads_checked, verdict.reads_isolated), (0, 1));
    let verdict = CHECKER.check(&history(get(Some("zz"), 50, 60)));
    assert_eq!(verdict.anomalies.len(), 1);
    // The same stale read through another node is flagged.
    let mut elsewhere = get(Some("a"), 50, 60);
    elsewhere.node = 1;
    let verdict = CHECKER.check(&history(elsewhere));
    assert_eq!(verdict.anomalies[0].kind, AnomalyKind::StaleRead);
}

#[test]
fn counters_never_go_back_nor_repeat_nor_run_ahead() {
    assert_eq!(
        kinds(vec![
            incr(1, 0, 10),
            incr(2, 20, 30),
            get(Some("2"), 40, 50),
            incr(3, 60, 70)
        ]),
        []
    );
    assert_eq!(
        kinds(vec![
            incr(1, 0, 10),
            incr(2, 20, 30),
            get(Some("1"), 40, 50)
        ]),
        [AnomalyKind::LostIncrement]
    );
    assert_eq!(
        kinds(vec![incr(1, 0, 10), incr(1, 20, 30)]),
        [AnomalyKind::DuplicateIncrement, AnomalyKind::LostIncrement]
    );
    assert_eq!(
        kinds(vec![incr(1, 0, 10), get(Some("5"), 20, 30)]),
        [AnomalyKind::PhantomValue]
    );
    // Concurrent increments may finish in either order.
    assert_eq!(kinds(vec![incr(2, 0, 30), incr(1, 5, 20)]), []);
    // A counter that went back and climbed again ends below its acknowledged increments.
    let swept = |value: &str| Operation {
        phase: Phase::Final,
        ..get(Some(value), 1000, 1010)
    };
    let reset = vec![
        incr(1, 0, 10),
        incr(2, 20, 30),
        incr(1, 40, 50),
        incr(2, 60, 70),
    ];
    let mut history = reset.clone();
    history.push(swept("2"));
    assert!(kinds(history).contains(&AnomalyKind::LostIncrement));
    let mut history = vec![incr(1, 0, 10), incr(2, 20, 30)];
    history.push(swept("2"));
    assert_eq!(kinds(history), []);
}

#[test]
fn the_convergence_sweep_must_agree() {
    let sweep = |node: usize, value: &str| Operation {
        node,
        phase: Phase::Final,
        ..get(Some(value), 1000, 1010)
    };
    assert_eq!(
        kinds(vec![set("a", 10, 20), sweep(0, "a"), sweep(1, "a")]),
        []
    );
    let found = kinds(vec![
        set("a", 10, 20),
        set("b", 30, 40),
        sweep(0, "b"),
        sweep(1, "a"),
    ]);
    assert_eq!(found, [AnomalyKind::StaleRead, AnomalyKind::Divergence]);
}

#[test]
fn a_report_names_the_seed_the_operations_and_the_faults_around() {
    let history = History {
        operations: vec![set("a", 10, 20), set("b", 30, 40), get(Some("a"), 50, 60)],
        faults: vec![crate::history::FaultEvent {
            at: ms(25),
            what: "kill -9 node 2".into(),
        }],
        ..History::default()
    };
    let verdict = CHECKER.check(&history);
    let report = verdict.anomalies[0].report(42, &history);
    assert!(report.contains("stale read on key k (seed 42)"), "{report}");
    assert!(report.contains("SET k \"b\""), "{report}");
    assert!(report.contains("<- this one"), "{report}");
    assert!(report.contains("kill -9 node 2"), "{report}");
}

#[test]
fn anomalies_while_ownership_moves_are_tolerable_but_phantoms_never_are() {
    let history = |read: Operation| History {
        operations: vec![set("a", 10, 20), set("b", 30, 40), read],
        transitions: vec![crate::history::Transition {
            from: ms(25),
            until: ms(100),
        }],
        ..History::default()
    };
    let verdict = CHECKER.check(&history(get(Some("a"), 50, 60)));
    assert_eq!(verdict.anomalies.len(), 1);
    assert!(verdict.anomalies[0].while_ownership_moved());
    assert!(verdict.untolerated().is_empty());
    let verdict = CHECKER.check(&history(get(None, 50, 60)));
    assert!(verdict.untolerated().is_empty());
    let verdict = CHECKER.check(&history(get(Some("zz"), 50, 60)));
    assert_eq!(verdict.untolerated().len(), 1);
    // After the transition, the same stale read is not tolerable.
    let verdict = CHECKER.check(&history(get(Some("a"), 150, 160)));
    assert_eq!(verdict.untolerated().len(), 1);
}
