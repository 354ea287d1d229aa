//! Small versions of every experiment, with bounds that follow from the Chord papers.

use std::time::Duration;

use dendrite_sim::experiments::{churn, failures, path_length};
use dendrite_sim::{Experiment, Options, Outcome};

// Test helpers panic on purpose: a failed run is a failed test.
#[allow(clippy::unwrap_used)]
fn run(experiment: Experiment, seed: u64) -> Outcome {
    experiment.run(&Options::small(seed)).unwrap()
}

#[allow(clippy::unwrap_used)]
fn column(outcome: &Outcome, table: &str, name: &str) -> Vec<f64> {
    let t = outcome.tables.iter().find(|t| t.name == table).unwrap();
    let c = t.column(name);
    assert!(!c.is_empty(), "{table} has no column {name}");
    c
}

#[test]
fn load_balance_mean_is_keys_over_nodes_and_the_spread_is_the_papers() {
    let out = run(Experiment::LoadBalance, 11);
    let keys = column(&out, "load-balance", "keys");
    let nodes = column(&out, "load-balance", "nodes");
    let mean = column(&out, "load-balance", "mean");
    let p1 = column(&out, "load-balance", "p1");
    let p99 = column(&out, "load-balance", "p99");
    for i in 0..keys.len() {
        assert!((mean[i] - keys[i] / nodes[i]).abs() < 1e-9);
        assert!(p1[i] <= mean[i] && mean[i] <= p99[i]);
    }
    // Arcs between random ids are ~exponential: the 99th percentile is ln(100) ≈ 4.6 times the
    // mean (the paper reports 4.6x), the 1st percentile is near zero.
    let last = keys.len() - 1;
    let ratio = p99[last] / mean[last];
    assert!((3.5..6.0).contains(&ratio), "p99/mean = {ratio}");
    assert!(p1[last] / mean[last] < 0.1);
}

#[test]
fn virtual_nodes_narrow_the_spread_as_the_paper_reports() {
    let out = run(Experiment::VirtualNodes, 12);
    let mean = column(&out, "virtual-nodes", "mean");
    let p1 = column(&out, "virtual-nodes", "p1");
    let p99 = column(&out, "virtual-nodes", "p99");
    for i in 1..p99.len() {
        assert!(
            p99[i] / mean[i] < p99[i - 1] / mean[i - 1],
            "p99 shrinks with r"
        );
        assert!(
            p1[i] / mean[i] >= p1[i - 1] / mean[i - 1],
            "p1 grows with r"
        );
    }
    // Paper (r = 20): 99th percentile 1.6x the mean, 1st percentile 0.5x.
    let last = p99.len() - 1;
    assert!(p99[last] / mean[last] < 2.0);
    assert!(p1[last] / mean[last] > 0.3);
}

#[test]
fn mean_path_for_1024_nodes_is_within_half_a_hop_of_half_log2_n() {
    let sample = path_length::measure(13, 1024, 3000).unwrap();
    assert_eq!(
        sample.wrong, 0,
        "a converged ring answers every lookup right"
    );
    let mean = sample.hops.iter().map(|&h| f64::from(h)).sum::<f64>() / sample.hops.len() as f64;
    assert!((mean - 5.0).abs() < 0.5, "mean path {mean}");
}

#[test]
fn path_length_grows_logarithmically() {
    let out = Experiment::PathLength
        .run(&Options {
            lookups: Some(600),
            ..Options::small(14)
        })
        .unwrap();
    let nodes = column(&out, "path-length", "nodes");
    let mean = column(&out, "path-length", "mean");
    let wrong = column(&out, "path-length", "wrong");
    assert_eq!(nodes.len(), 8, "2^3 .. 2^10");
    assert!(wrong.iter().all(|&w| w == 0.0));
    for i in 0..nodes.len() {
        let half_log = 0.5 * nodes[i].log2();
        assert!(
            (mean[i] - half_log).abs() < 0.75,
            "N={} mean {}",
            nodes[i],
            mean[i]
        );
    }
}

#[test]
fn no_failed_lookups_without_failures_and_successor_lists_save_the_rest() {
    let none = failures::measure(15, 300, 0.0, 400).unwrap();
    assert_eq!(none.failed, 0);
    assert!(none.timeouts.iter().all(|&t| t == 0));
    let some = failures::measure(15, 300, 0.3, 400).unwrap();
    assert_eq!(some.crashed, 90);
    // With 20 successors, losing a node's whole list at p = 0.3 has probability 0.3^20: a
    // client that skips dead entries of the returned list always reaches the live successor.
    assert_eq!(some.failed_after_failover, 0);
    assert!(some.timeouts.iter().any(|&t| t > 0), "dead nodes were met");
    let mean_timeouts =
        some.timeouts.iter().map(|&t| f64::from(t)).sum::<f64>() / some.timeouts.len() as f64;
    assert!(mean_timeouts < 3.0, "mean timeouts {mean_timeouts}");
}

#[test]
fn lookups_keep_working_under_slow_churn() {
    let s = churn::measure(16, 80, 0.05, Duration::from_secs(300)).unwrap();
    assert!(s.lookups.len() > 200, "about one lookup per second");
    assert!(s.joins.0 + s.crashes > 0, "churn happened");
    let failed = s
        .lookups
        .iter()
        .filter(|r| !r.correct_after_failover)
        .count();
    assert!(
        failed * 20 < s.lookups.len(),
        "{failed} of {} failed",
        s.lookups.len()
    );
}

#[test]
fn replicas_on_distinct_hosts_lose_about_p_to_the_third() {
    let out = run(Experiment::Replicas, 17);
    let t = &out.tables[0];
    let scheme = t.columns.iter().position(|c| c == "scheme").unwrap();
    let fail = column(&out, "replicas", "fail_fraction");
    let lost = column(&out, "replicas", "lost_fraction");
    let nodes = column(&out, "replicas", "nodes");
    for (i, row) in t.rows.iter().enumerate() {
        let label = format!("{:?}", row[scheme]);
        if label.contains("owner-only") {
            // SIGCOMM Fig. 11: the keys lost are those of the failed nodes, about p.
            assert!(
                (lost[i] - fail[i]).abs() < 0.06,
                "p={} lost {}",
                fail[i],
                lost[i]
            );
        } else if label.contains("distinct-hosts") && nodes[i] > 100.0 {
            assert!(
                lost[i] < fail[i].powi(3) * 2.0 + 0.002,
                "p={} lost {}",
                fail[i],
                lost[i]
            );
        }
    }
}

#[test]
fn the_same_seed_gives_identical_csv_bytes() {
    for experiment in Experiment::ALL {
        let options = Options {
            nodes: Some(60),
            keys: Some(2000),
            lookups: Some(120),
            ..Options::small(21)
        };
        let a = experiment.run(&options).unwrap();
        let b = experiment.run(&options).unwrap();
        assert!(
            !a.tables.is_empty(),
            "{} produced no table",
            experiment.name()
        );
        for (x, y) in a.tables.iter().zip(&b.tables) {
            assert_eq!(x.to_csv(), y.to_csv(), "{} differs", x.name);
        }
        for ((_, x), (_, y)) in a.charts.iter().zip(&b.charts) {
            assert_eq!(x.to_svg(), y.to_svg());
        }
    }
    let one = Experiment::LoadBalance.run(&Options::small(1)).unwrap();
    let two = Experiment::LoadBalance.run(&Options::small(2)).unwrap();
    assert_ne!(
        one.tables[0].to_csv(),
        two.tables[0].to_csv(),
        "the seed matters"
    );
}

#[test]
fn scale_sets_the_ring_size_and_the_same_seed_repeats_itself() {
    let options = Options {
        scale: Some(600),
        lookups: Some(200),
        ..Options::full(23)
    };
    let a = Experiment::PathLength.run(&options).unwrap();
    let b = Experiment::PathLength.run(&options).unwrap();
    assert_eq!(a.tables[0].to_csv(), b.tables[0].to_csv());
    // Powers of two up to the scale, then the scale itself.
    let nodes = column(&a, "path-length", "nodes");
    assert_eq!(nodes, [8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 600.0]);
    assert!(column(&a, "path-length", "wrong").iter().all(|&w| w == 0.0));
    assert_eq!(path_length::scaled_sizes(4096).last(), Some(&4096));
    assert_eq!(path_length::scaled_sizes(5), [5]);
    // Ring experiments take the scale as their size, with the paper's 100 keys per node.
    let options = Options {
        scale: Some(700),
        ..Options::full(23)
    };
    let out = Experiment::LoadBalance.run(&options).unwrap();
    assert!(column(&out, "load-balance", "nodes")
        .iter()
        .all(|&n| n == 700.0));
    assert_eq!(column(&out, "load-balance", "keys").last(), Some(&70_000.0));
}
