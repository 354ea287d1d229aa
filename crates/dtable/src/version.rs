//! Write versions and the hybrid logical clock that issues them.
//!
//! Wall clocks of different machines disagree and can step backwards, so the table never orders
//! two writes by comparing `SystemTime`s (the Go original's fault). Instead every write carries a
//! [`Version`]: a hybrid logical clock reading (milliseconds, then a logical counter) followed by
//! the id of the node that issued it. Versions are totally ordered, a node never issues the same
//! version twice, and a node that has *seen* a version issues only later ones afterwards, so a
//! write that causally follows another always wins over it.

use std::fmt;
use std::time::Duration;

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

/// Why a [`Clock`] refused to observe a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// The version's milliseconds are further ahead of this node's physical clock than the
    /// configured skew allows. Following it would drag every version this node issues (and,
    /// through replication, every node's) that far into the future.
    #[error(
        "version {seen} is {} ms ahead of this node's clock ({local} ms), more than the {max} ms \
         allowed; check the issuing node's clock (NTP) or raise max_clock_skew",
        seen.millis.saturating_sub(*local)
    )]
    TooFarAhead {
        /// The refused version.
        seen: Version,
        /// This node's physical clock when it refused, in milliseconds.
        local: u64,
        /// The most a version may be ahead of `local`, in milliseconds.
        max: u64,
    },
}

impl ClockError {
    /// How far ahead of the local clock the refused version was, in milliseconds.
    pub fn ahead_millis(&self) -> u64 {
        match self {
            ClockError::TooFarAhead { seen, local, .. } => seen.millis.saturating_sub(*local),
        }
    }
}

/// How far ahead of the local physical clock an observed version may be when a clock is built
/// with [`Clock::new`] (`TableConfig::max_clock_skew` sets it for tables).
pub const DEFAULT_MAX_AHEAD: Duration = Duration::from_secs(60);

/// A hybrid logical clock: issues strictly increasing [`Version`]s for one node.
///
/// The time source is injected, so tests and the simulator control time completely. The clock is
/// shared by reference (`&self` methods, internally locked for a few instructions).
///
/// Observed versions are bounded: one further ahead of the local physical clock than
/// `max_ahead` is refused ([`ClockError::TooFarAhead`]), so one peer with a wrong clock (or a
/// forged `millis` near `u64::MAX`) cannot pull this node's versions out of reach.
pub struct Clock {
    node: u64,
    now: Box<dyn Fn() -> u64 + Send + Sync>,
    /// Most milliseconds an observed version may be ahead of `now()`.
    max_ahead: u64,
    /// The greatest `(millis, logical)` issued or observed so far.
    last: Mutex<(u64, u32)>,
}

impl Clock {
    /// A clock for node `node_id`, reading milliseconds from `now`, refusing observed versions
    /// more than [`DEFAULT_MAX_AHEAD`] ahead of it (see [`with_max_ahead`](Clock::with_max_ahead)).
    ///
    /// `node_id` must be unique in the cluster (e.g. derived from the node's host name); two nodes
    /// sharing an id could issue equal versions for different writes.
    pub fn new(node_id: u64, now: impl Fn() -> u64 + Send + Sync + 'static) -> Clock {
        Clock {
            node: node_id,
            now: Box::new(now),
            max_ahead: millis_of(DEFAULT_MAX_AHEAD),
            last: Mutex::new((0, 0)),
        }
    }

    /// The same clock, refusing observed versions more than `max_ahead` ahead of its physical
    /// time (whole milliseconds; saturates at `u64::MAX` ms).
    pub fn with_max_ahead(mut self, max_ahead: Duration) -> Clock {
        self.max_ahead = millis_of(max_ahead);
        self
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

    /// The physical time now, Unix milliseconds (the injected time source): what deadlines
    /// are compared with.
    pub fn now_millis(&self) -> u64 {
        (self.now)()
    }

    /// The node id this clock stamps on its versions.
    pub fn node(&self) -> u64 {
        self.node
    }

    /// Issues a new version, greater than every version this clock issued or observed before.
    ///
    /// Never wraps. When the logical counter is full, the next millisecond is borrowed. At the
    /// very top, `(u64::MAX, u32::MAX)`, no greater version exists: the clock stays there and
    /// issues that version again, so later writes of this node tie with (and lose to, see
    /// `Record::wins_over`) the earlier one instead of ordering below it. Only a local clock
    /// reading near `u64::MAX` ms gets there: [`observe`](Clock::observe) refuses anything
    /// further than `max_ahead` beyond the local clock.
    pub fn tick(&self) -> Version {
        self.tick_at((self.now)())
    }

    /// [`tick`](Clock::tick) with the physical time already read (`physical`, from
    /// [`now_millis`](Clock::now_millis)): a read-modify-write that read the clock to judge
    /// deadlines stamps its change without reading it again. A `physical` behind what was
    /// issued only means the logical counter moves instead.
    pub fn tick_at(&self, physical: u64) -> Version {
        let mut last = self.last.lock();
        *last = Self::after(*last, physical);
        self.version(*last)
    }

    /// `n` new versions in increasing order, as `n` calls of [`tick`](Clock::tick) in a row
    /// would issue them, for one clock read and one lock: a primary stamping a pipelined
    /// client's batch of writes.
    pub fn ticks(&self, n: usize) -> Vec<Version> {
        let physical = (self.now)();
        let mut last = self.last.lock();
        (0..n)
            .map(|_| {
                *last = Self::after(*last, physical);
                self.version(*last)
            })
            .collect()
    }

    /// The `(millis, logical)` issued after `last` when the local clock reads `physical`.
    fn after(last: (u64, u32), physical: u64) -> (u64, u32) {
        if physical > last.0 {
            (physical, 0)
        } else if last.1 < u32::MAX {
            (last.0, last.1 + 1)
        } else if last.0 < u64::MAX {
            // 4 billion writes in one millisecond: borrow the next millisecond.
            (last.0 + 1, 0)
        } else {
            last
        }
    }

    fn version(&self, (millis, logical): (u64, u32)) -> Version {
        Version {
            millis,
            logical,
            node: self.node,
        }
    }

    /// Records that `seen` exists (a remote write, a replica's copy), so that every later
    /// [`tick`](Clock::tick) orders after it.
    ///
    /// Refuses a version whose `millis` is more than `max_ahead` beyond the local physical
    /// clock: the caller must not store the record that carries it (the peer's clock is wrong,
    /// or the version forged). A refused version leaves the clock unchanged.
    pub fn observe(&self, seen: &Version) -> Result<(), ClockError> {
        if seen.millis == 0 && seen.logical == 0 {
            // A new write's placeholder (`Version::ZERO`): at or before anything this clock
            // holds, so admitted without taking the lock (a pipelined batch has one per key).
            return Ok(());
        }
        let at_or_before_last = {
            let last = self.last.lock();
            (seen.millis, seen.logical) <= *last
        };
        if at_or_before_last {
            // No further ahead than a version this clock already stamped or admitted (a new
            // write's placeholder, an older copy): nothing to check, nothing to move, and no
            // clock read on the write path.
            return Ok(());
        }
        let local = (self.now)();
        if seen.millis > local.saturating_add(self.max_ahead) {
            return Err(ClockError::TooFarAhead {
                seen: *seen,
                local,
                max: self.max_ahead,
            });
        }
        let mut last = self.last.lock();
        let seen = (seen.millis, seen.logical);
        if seen > *last {
            *last = seen;
        }
        Ok(())
    }
}

/// Whole milliseconds of `d`, saturating.
fn millis_of(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = *self.last.lock();
        f.debug_struct("Clock")
            .field("node", &self.node)
            .field("max_ahead", &self.max_ahead)
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
    fn a_batch_of_ticks_is_what_ticks_in_a_row_issue() {
        let (one_by_one, _) = manual_clock(3);
        let (batched, _) = manual_clock(3);
        let expected: Vec<Version> = (0..5).map(|_| one_by_one.tick()).collect();
        assert_eq!(batched.ticks(5), expected);
        assert_eq!(expected[4].logical, 4);
        assert!(batched.ticks(0).is_empty());
        assert!(batched.tick() > expected[4]);
    }

    #[test]
    fn tick_at_a_reading_already_passed_still_issues_a_greater_version() {
        let (clock, time) = manual_clock(2);
        let now = clock.now_millis();
        time.store(5_000, Ordering::SeqCst);
        let later = clock.tick();
        // Read before `later` was issued, used after it: the logical counter moves instead.
        let stale = clock.tick_at(now);
        assert!(stale > later);
        assert_eq!((stale.millis, stale.logical), (5_000, 1));
        assert_eq!(
            clock.tick_at(6_000),
            Version {
                millis: 6_000,
                logical: 0,
                node: 2
            }
        );
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
        clock
            .observe(&Version {
                millis: 1_000,
                logical: u32::MAX,
                node: 2,
            })
            .unwrap();
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
        clock.observe(&remote).unwrap();
        let v = clock.tick();
        assert!(v > remote);
        assert_eq!(v.node, 1);
    }

    fn at(millis: u64) -> Version {
        Version {
            millis,
            logical: 0,
            node: 9,
        }
    }

    #[test]
    fn a_version_beyond_the_skew_bound_is_refused_and_leaves_the_clock_alone() {
        // Local time 1 000 ms, bound 60 s: up to 61 000 ms is accepted, beyond is refused.
        let (clock, _time) = manual_clock(1);
        let err = clock.observe(&at(61_001)).unwrap_err();
        assert_eq!(
            err,
            ClockError::TooFarAhead {
                seen: at(61_001),
                local: 1_000,
                max: 60_000
            }
        );
        assert_eq!(err.ahead_millis(), 60_001);
        assert!(err.to_string().contains("max_clock_skew"), "{err}");
        let forged = clock.observe(&at(u64::MAX)).unwrap_err();
        assert_eq!(forged.ahead_millis(), u64::MAX - 1_000);
        // Neither refused version moved the clock.
        let v = clock.tick();
        assert_eq!((v.millis, v.logical), (1_000, 0));
        // Exactly at the bound is still accepted, and followed.
        clock.observe(&at(61_000)).unwrap();
        assert!(clock.tick() > at(61_000));
    }

    #[test]
    fn the_bound_is_configurable() {
        let (clock, _time) = manual_clock(1);
        let clock = clock.with_max_ahead(Duration::from_millis(10));
        assert!(clock.observe(&at(1_010)).is_ok());
        assert!(clock.observe(&at(1_011)).is_err());
        let clock = Clock::new(1, || 5).with_max_ahead(Duration::MAX);
        assert!(clock.observe(&at(u64::MAX)).is_ok());
    }

    #[test]
    fn ticks_after_observing_near_the_bound_still_increase() {
        let (clock, time) = manual_clock(1);
        let near = Version {
            millis: 61_000,
            logical: u32::MAX - 1,
            node: 5,
        };
        clock.observe(&near).unwrap();
        let mut previous = clock.tick();
        assert!(previous > near);
        for _ in 0..5 {
            let v = clock.tick();
            assert!(v > previous);
            previous = v;
        }
        // Physical time catching up takes over again.
        time.store(70_000, Ordering::SeqCst);
        let v = clock.tick();
        assert!(v > previous);
        assert_eq!((v.millis, v.logical), (70_000, 0));
    }

    #[test]
    fn the_top_of_the_clock_repeats_rather_than_wraps() {
        let clock = Clock::new(1, || u64::MAX);
        clock
            .observe(&Version {
                millis: u64::MAX,
                logical: u32::MAX - 1,
                node: 2,
            })
            .unwrap();
        let last = clock.tick();
        assert_eq!((last.millis, last.logical), (u64::MAX, u32::MAX));
        // No greater version exists: the clock stays at the top, never below it.
        assert_eq!(clock.tick(), last);
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
        Ticks(usize),
        Observe(u64, u32, u64),
    }

    fn any_step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u64..5_000).prop_map(Step::Advance),
            (0u64..5_000).prop_map(Step::Rewind),
            Just(Step::Tick),
            Just(Step::Tick),
            (0usize..5).prop_map(Step::Ticks),
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
                    Step::Ticks(n) => {
                        let batch = clock.ticks(n);
                        prop_assert_eq!(batch.len(), n);
                        for v in batch {
                            if let Some(prev) = greatest_issued { prop_assert!(v > prev); }
                            if let Some(seen) = greatest_seen { prop_assert!(v > seen); }
                            prop_assert!(v.millis >= time.load(Ordering::SeqCst));
                            greatest_issued = Some(v);
                        }
                    }
                    Step::Observe(m, l, n) => {
                        let seen = Version { millis: m, logical: l, node: n };
                        // Within the 60 s bound of the manual clock: always accepted.
                        prop_assert!(clock.observe(&seen).is_ok());
                        greatest_seen = Some(greatest_seen.map_or(seen, |g| g.max(seen)));
                    }
                }
            }
        }

        #[test]
        fn near_the_top_of_time_ticks_never_decrease_nor_panic(
            start in (u64::MAX - 100)..=u64::MAX,
            skew in prop_oneof![Just(Duration::MAX), (0u64..200).prop_map(Duration::from_millis)],
            steps in prop::collection::vec(
                prop_oneof![
                    Just(None),
                    ((u64::MAX - 300)..=u64::MAX, (u32::MAX - 3)..=u32::MAX).prop_map(Some),
                ],
                1..100,
            ),
        ) {
            let time = Arc::new(AtomicU64::new(start));
            let source = Arc::clone(&time);
            let clock = Clock::new(7, move || source.load(Ordering::SeqCst)).with_max_ahead(skew);
            let mut previous: Option<Version> = None;
            for step in steps {
                match step {
                    None => {
                        let v = clock.tick();
                        if let Some(p) = previous {
                            // Strictly greater, except at the very top where it repeats.
                            prop_assert!(v > p || (v == p && (v.millis, v.logical) == (u64::MAX, u32::MAX)));
                        }
                        previous = Some(v);
                        let t = time.load(Ordering::SeqCst);
                        time.store(t.saturating_add(1), Ordering::SeqCst);
                    }
                    Some((millis, logical)) => {
                        let seen = Version { millis, logical, node: 3 };
                        let local = time.load(Ordering::SeqCst);
                        let within = millis <= local.saturating_add(u64::try_from(skew.as_millis()).unwrap_or(u64::MAX));
                        prop_assert_eq!(clock.observe(&seen).is_ok(), within);
                    }
                }
            }
        }
    }
}
