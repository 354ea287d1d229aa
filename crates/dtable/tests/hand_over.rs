//! A round of anti-entropy vouches for a range only if the range was the vnode's own from the
//! round's start to its end (docs/design.md, "Hand-over"; docs/reliability.md, fix 28): here the
//! successor takes another predecessor while the round pulls, and the vnode must not then answer
//! "absent" with authority for keys only that other vnode holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use dendrite::mem::{MemNetwork, MemTransport};
use dendrite::{Config, Id, Transport, TransportError, Vnode};
use dtable::{KeyPosition, Table, TableConfig, TimeSource};
use futures::future::BoxFuture;

/// Something to do once, just before the next digest request leaves (a round's first pull).
type BeforePull = Box<dyn FnOnce() + Send>;

/// Host `a`'s endpoint, which can run [`BeforePull`] at the moment a round of `a`'s is under
/// way: an event, not a guess at how long a round takes.
struct Interposed {
    inner: Arc<MemTransport>,
    before_pull: Mutex<Option<BeforePull>>,
}

impl Transport for Interposed {
    fn local_host(&self) -> &str {
        self.inner.local_host()
    }

    fn call(
        &self,
        host: &str,
        frame: Bytes,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Bytes, TransportError>> {
        if frame.first() == Some(&dtable::wire::kind::DIGEST_REQ) {
            if let Some(act) = self.before_pull.lock().unwrap().take() {
                act();
            }
        }
        self.inner.call(host, frame, timeout)
    }

    fn set_handler(&self, handler: Arc<dyn dendrite::FrameHandler>) {
        self.inner.set_handler(handler)
    }
}

fn config(host: &str, vnode: Id) -> Config {
    let mut c = Config::new(host);
    c.num_vnodes = 1;
    c.vnode_ids = vec![vnode];
    c.replicas = 1;
    c.rng_seed = Some(u64::from(vnode.as_bytes()[0]));
    c
}

fn table_config() -> TableConfig {
    TableConfig {
        time: TimeSource::tokio_from(dtable::mem::ANCHOR_MILLIS),
        // Routine rounds so rare that only the rounds this test starts, and the heal loop's,
        // run.
        repair_interval: Duration::from_secs(24 * 3600),
        ..TableConfig::default()
    }
}

/// The first key `k<i>` whose position lies in `(from, to]`.
fn key_between(from: Id, to: Id) -> Bytes {
    (0..)
        .map(|i| Bytes::from(format!("k{i}")))
        .find(|k| KeyPosition::of(k).id().is_between_right_incl(&from, &to))
        .unwrap()
}

/// Vnode `a` (host a) owns `(c, a]`, its successor `s` (host s) names it predecessor, and its
/// round starts with that hand-over confirmed. Vnode `j`, between `a` and `s` and holding a key
/// of `a`'s range (it served that range on a ring of its own, as a live vnode does that two
/// restarted neighbours did not know of: clock seed 180), reaches `s` while `a` pulls, and `s`
/// takes it for predecessor. The round must not make `a` authoritative for a range whose copies
/// it did not all see: a read of the key through `a` answers `j`'s value, never nil.
#[tokio::test(start_paused = true)]
async fn a_round_vouches_for_nothing_when_the_successor_took_another_predecessor_meanwhile() {
    let net = MemNetwork::new(180);
    let [a, j, s, c] = [0x40, 0x60, 0x80, 0xc0].map(Id::at_top_byte);
    let a_end = Arc::new(Interposed {
        inner: net.endpoint("a:1"),
        before_pull: Mutex::new(None),
    });
    let table_a = Table::create(config("a:1", a), a_end.clone(), table_config())
        .await
        .unwrap();
    let seeds = ["a:1".to_owned()];
    let table_s = Table::join(
        config("s:1", s),
        net.endpoint("s:1"),
        &seeds,
        table_config(),
    )
    .await
    .unwrap();
    let _table_c = Table::join(
        config("c:1", c),
        net.endpoint("c:1"),
        &seeds,
        table_config(),
    )
    .await
    .unwrap();
    // `j` on a ring of its own, holding a key of `a`'s range.
    let table_j = Table::create(config("j:1", j), net.endpoint("j:1"), table_config())
        .await
        .unwrap();
    let key = key_between(c, a);
    table_j
        .query()
        .set(key.clone(), Bytes::from_static(b"held by j"))
        .await
        .unwrap();

    // The three-vnode ring settles: `a`'s range is `(c, a]`, its one replica `s`.
    let vnode_a = table_a.ring().local_vnodes()[0].clone();
    let vnode_s = table_s.ring().local_vnodes()[0].clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while table_a.ring().predecessor(&vnode_a).unwrap().map(|p| p.id) != Some(c)
        || table_a.ring().replicas(&vnode_a).unwrap() != vec![vnode_s.clone()]
        || table_s.ring().predecessor(&vnode_s).unwrap().map(|p| p.id) != Some(a)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ring did not settle: a's predecessor {:?}, replicas {:?}; s's predecessor {:?}",
            table_a.ring().predecessor(&vnode_a),
            table_a.ring().replicas(&vnode_a),
            table_s.ring().predecessor(&vnode_s),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // While `a`'s round pulls, `s` takes `j` for predecessor.
    let vnode_j: Vnode = table_j.ring().local_vnodes()[0].clone();
    let ring_s = table_s.ring().clone();
    *a_end.before_pull.lock().unwrap() = Some(Box::new(move || {
        assert!(ring_s.offer_predecessor(&vnode_s, &vnode_j).unwrap());
    }));
    table_a.repair_now().await;
    assert!(
        a_end.before_pull.lock().unwrap().is_none(),
        "the round pulled nothing"
    );

    assert_eq!(
        table_a.query().get(key.clone()).await.unwrap().as_deref(),
        Some(&b"held by j"[..]),
        "a read through `a` answered from a round that did not see `j`'s copy"
    );
}
