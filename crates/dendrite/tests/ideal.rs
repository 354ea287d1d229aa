//! `ideal_state_sorted` reuses the previous finger while a finger start has not passed it
//! (docs/simulation.md, *Speed*); this checks every finger against a search of its own.

use dendrite::chord::{ideal_state_sorted, successor_of};
use dendrite::id::ID_BITS;
use dendrite::{Id, Vnode};
use proptest::prelude::*;

fn ring(ids: Vec<[u8; 20]>) -> Vec<Vnode> {
    let mut all: Vec<Vnode> = ids
        .into_iter()
        .map(|b| Vnode::new(Id::new(b), "h:1"))
        .collect();
    all.sort_by_key(|v| v.id);
    all.dedup_by_key(|v| v.id);
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_finger_is_the_successor_of_its_start(
        ids in prop::collection::vec(prop::array::uniform20(any::<u8>()), 1..300),
        // Dense rings too: ids sharing their top bytes make neighbouring fingers differ.
        dense in any::<bool>(),
        outsider in prop::array::uniform20(any::<u8>()),
    ) {
        let ids = ids
            .into_iter()
            .map(|mut b| {
                if dense {
                    b[..17].fill(0x80);
                }
                b
            })
            .collect();
        let all = ring(ids);
        let mut at = all.clone();
        // A vnode that is not (yet) on the ring: a joiner's ideal pointers.
        at.push(Vnode::new(Id::new(outsider), "joiner:1"));
        for me in &at {
            let ideal = ideal_state_sorted(me, &all, 4);
            prop_assert_eq!(ideal.fingers.len(), ID_BITS);
            for (i, finger) in ideal.fingers.iter().enumerate() {
                prop_assert_eq!(finger, &successor_of(&all, &me.id.add_pow2(i)), "finger {}", i);
            }
        }
    }
}
