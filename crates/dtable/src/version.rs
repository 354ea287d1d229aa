//! Write versions and the hybrid logical clock that issues them.
//!
//! Wall clocks of different machines disagree and can step backwards, so the table never orders
//! two writes by comparing `SystemTime`s (the Go original's fault). Instead every write carries a
//! [`Version`]: a hybrid logical clock reading (milliseconds, then a logical counter) followed by
//! the id of the node that issued it. Versions are totally ordered, a node never issues the same
//! version twice, and a node that has *seen* a version issues only later ones afterwards, so a
//! write that causally follows another always wins over it.

use std::fmt;

use parking_lot::Mutex;

/// The version of one write: ordered by `millis`, then `logical`, then `node`.
///
/// The derived `Ord` relies on the field order: do not reorder the fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Physical part of the hybrid clock: milliseconds since the Unix epoch (or the simulator's
    /// epoch), never less than any version the issuing node had seen.
    pub millis: u64,
    /// Logical part: counts writes issued within the same millisecond.
    pub logical: u32,
    /// Id of the issuing node: the final tie-break, so versions of different nodes never tie.
    pub node: u64,
}

impl Version {
    /// The smallest version; every issued version is greater.
    pub const ZERO: Version = Version {
        millis: 0,
        logical: 0,
        node: 0,
    };
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}@{:x}", self.millis, self.logical, self.node)
    }
}

/// A hybrid logical clock: issues strictly increasing [`Version`]s for one node.
///
/// The time source is injected, so tests and the simulator control time completely. The clock is
/// shared by reference (`&self` methods, internally locked for a few instructions).
pub struct Clock {
    node: u64,
    now: Box<dyn Fn() -> u64 + Send + Sync>,
    /// The greatest `(millis, logical)` issued or observed so far.
    last: Mutex<(u64, u32)>,
}

impl Clock {
    /// A clock for node `node_id`, reading milliseconds from `now`.
    ///
    /// `node_id` must be unique in the cluster (e.g. derived from the node's host name); two nodes
    /// sharing an id could issue equal versions for different writes.
    pub fn new(node_id: u64, now: impl Fn() -> u64 + Send + Sync + 'static) -> Clock {
        Clock {
            node: node_id,
            now: Box::new(now),
            last: Mutex::new((0, 0)),
        }
    }

    /// A clock reading the system's wall clock (milliseconds since the Unix epoch).
    ///
    /// Only the physical part comes from the wall clock: if it steps backwards, versions keep
    /// increasing through the logical counter.
    pub fn system(node_id: u64) -> Clock {
        Clock::new(node_id, || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        })
    }

    /// The node id this clock stamps on its versions.
    pub fn node(&self) -> u64 {
        self.node
    }

    /// Issues a new version, greater than every version this clock issued or observed before.
    pub fn tick(&self) -> Version {
        let physical = (self.now)();
        let mut last = self.last.lock();
        let next = if physical > last.0 {
            (physical, 0)
        } else if last.1 < u32::MAX {
            (last.0, last.1 + 1)
        } else {
            // 4 billion writes in one millisecond: borrow the next millisecond.
            (last.0.saturating_add(1), 0)
        };
        *last = next;
        Version {
            millis: next.0,
            logical: next.1,
            node: self.node,
        }
    }

    /// Records that `seen` exists (a remote write, a replica's copy), so that every later
    /// [`tick`](Clock::tick) orders after it.
    pub fn observe(&self, seen: &Version) {
        let mut last = self.last.lock();
        let seen = (seen.millis, seen.logical);
        if seen > *last {
            *last = seen;
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = *self.last.lock();
        f.debug_struct("Clock")
            .field("node", &self.node)
            .field("last", &last)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    fn manual_clock(node: u64) -> (Clock, Arc<AtomicU64>) {
        let time = Arc::new(AtomicU64::new(1_000));
        let source = Arc::clone(&time);
        (
            Clock::new(node, move || source.load(Ordering::SeqCst)),
            time,
        )
    }

    #[test]
    fn fields_order_in_declaration_order() {
        let a = Version {
            millis: 1,
            logical: 9,
            node: 9,
        };
        let b = Version {
            millis: 2,
            logical: 0,
            node: 0,
        };
        assert!(a < b);
        let c = Version {
            millis: 2,
            logical: 0,
            node: 1,
        };
        assert!(b < c);
        assert!(Version::ZERO < a);
    }

    #[test]
    fn tick_follows_physical_time_when_it_advances() {
        let (clock, time) = manual_clock(7);
        let v1 = clock.tick();
        assert_eq!((v1.millis, v1.logical, v1.node), (1_000, 0, 7));
        time.store(2_000, Ordering::SeqCst);
        let v2 = clock.tick();
        assert_eq!((v2.millis, v2.logical), (2_000, 0));
    }

    #[test]
    fn tick_survives_a_clock_stepping_back() {
        let (clock, time) = manual_clock(1);
        let v1 = clock.tick();
        time.store(10, Ordering::SeqCst);
        let v2 = clock.tick();
        assert!(v2 > v1);
        assert_eq!(v2.millis, v1.millis);
    }

    #[test]
    fn logical_overflow_borrows_the_next_millisecond() {
        let (clock, _time) = manual_clock(1);
        clock.observe(&Version {
            millis: 1_000,
            logical: u32::MAX,
            node: 2,
        });
        let v = clock.tick();
        assert_eq!((v.millis, v.logical), (1_001, 0));
    }

    #[test]
    fn observed_future_version_is_followed() {
        let (clock, _time) = manual_clock(1);
        let remote = Version {
            millis: 50_000,
            logical: 3,
            node: 99,
        };
        clock.observe(&remote);
        let v = clock.tick();
        assert!(v > remote);
        assert_eq!(v.node, 1);
    }

    #[test]
    fn concurrent_ticks_are_unique() {
        let clock = Arc::new(Clock::new(3, || 5));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let clock = Arc::clone(&clock);
                std::thread::spawn(move || (0..1000).map(|_| clock.tick()).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<Version> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 2000);
    }

    #[derive(Debug, Clone)]
    enum Step {
        Advance(u64),
        Rewind(u64),
        Tick,
        Observe(u64, u32, u64),
    }

    fn any_step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u64..5_000).prop_map(Step::Advance),
            (0u64..5_000).prop_map(Step::Rewind),
            Just(Step::Tick),
            Just(Step::Tick),
            (0u64..20_000, any::<u32>(), any::<u64>()).prop_map(|(m, l, n)| Step::Observe(m, l, n)),
        ]
    }

    proptest! {
        #[test]
        fn ticks_strictly_increase_and_follow_observed(steps in prop::collection::vec(any_step(), 1..200)) {
            let (clock, time) = manual_clock(42);
            let mut greatest_issued: Option<Version> = None;
            let mut greatest_seen: Option<Version> = None;
            for step in steps {
                match step {
                    Step::Advance(d) => { time.fetch_add(d, Ordering::SeqCst); }
                    Step::Rewind(d) => {
                        let t = time.load(Ordering::SeqCst);
                        time.store(t.saturating_sub(d), Ordering::SeqCst);
                    }
                    Step::Tick => {
                        let v = clock.tick();
                        prop_assert_eq!(v.node, 42);
                        if let Some(prev) = greatest_issued { prop_assert!(v > prev); }
                        if let Some(seen) = greatest_seen { prop_assert!(v > seen); }
                        prop_assert!(v.millis >= time.load(Ordering::SeqCst));
                        greatest_issued = Some(v);
                    }
                    Step::Observe(m, l, n) => {
                        let seen = Version { millis: m, logical: l, node: n };
                        clock.observe(&seen);
                        greatest_seen = Some(greatest_seen.map_or(seen, |g| g.max(seen)));
                    }
                }
            }
        }
    }
}
