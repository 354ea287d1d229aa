//! The lookup walk fed scripted routes, timeouts and refusals: no runtime, no network.

use super::*;
use crate::flow::scripted::{at, refused, timed_out, vnode, ScriptedRing};

/// Four vnodes of other nodes, in ring order: b at 60, c at 90, d at 100, e at 120.
fn others() -> [Vnode; 4] {
    [
        vnode(60, "b"),
        vnode(90, "c"),
        vnode(100, "d"),
        vnode(120, "e"),
    ]
}

/// A walk from b for the key at 95 (`n` wanted), that b forwards to c.
fn forwarded_to_c(ring: &ScriptedRing, n: usize) -> LookupWalk {
    let [b, c, ..] = others();
    let mut walk = LookupWalk::new(b, at(95), n, 8, 4);
    walk.poll(ring);
    walk.on_answer(forward(&c));
    walk
}

/// The walk steps around c through b, whose list [c, d] leaves d for the key at 95.
fn detour_through_b_ends_at_d(walk: &mut LookupWalk, ring: &ScriptedRing) {
    let [b, c, d, _] = others();
    assert_eq!(walk.poll(ring), ask(&b, b.id.add_pow2(0), 4));
    walk.on_answer(successors(&[&c, &d]));
    assert_eq!(walk.poll(ring), Step::Done(Ok(vec![d])));
}

/// A walk for `n` successors of `key` from a node's own vnode at 10.
fn from_me(key: Id, n: usize) -> (Vnode, ScriptedRing, LookupWalk) {
    let me = vnode(10, "me");
    let ring = ScriptedRing::running(&[&me]);
    let walk = LookupWalk::new(me.clone(), key, n, 8, 4);
    (me, ring, walk)
}

/// A walk for the successor of `key` from b, a vnode of another node.
fn from_b(key: Id) -> (Vnode, ScriptedRing, LookupWalk) {
    let [b, ..] = others();
    let walk = LookupWalk::new(b.clone(), key, 1, 8, 4);
    (b, ScriptedRing::default(), walk)
}

fn ask(vnode: &Vnode, key: Id, n: usize) -> Step {
    Step::Ask(Ask {
        vnode: vnode.clone(),
        key,
        n,
    })
}

fn successors(list: &[&Vnode]) -> Result<Route, RingError> {
    Ok(Route::Successors(
        list.iter().map(|v| (*v).clone()).collect(),
    ))
}

fn forward(to: &Vnode) -> Result<Route, RingError> {
    Ok(Route::Forward(to.clone()))
}

#[test]
fn a_local_start_that_knows_the_answer_ends_the_walk_without_a_hop() {
    let me = vnode(10, "me");
    let succ = vnode(50, "b");
    let ring = ScriptedRing::running(&[&me]);
    let mut walk = LookupWalk::new(me.clone(), at(40), 1, 8, 4);
    assert_eq!(walk.poll(&ring), ask(&me, at(40), 1));
    walk.on_answer(successors(&[&succ]));
    assert_eq!(walk.poll(&ring), Step::Done(Ok(vec![succ])));
    assert_eq!(walk.stats(), LookupStats::default());
}

#[test]
fn forwards_are_followed_and_each_remote_vnode_asked_is_a_hop() {
    let (me, ring, mut walk) = from_me(at(95), 2);
    let [b, c, d, e] = others();
    assert_eq!(walk.poll(&ring), ask(&me, at(95), 2));
    walk.on_answer(forward(&b));
    assert_eq!(walk.poll(&ring), ask(&b, at(95), 2));
    walk.on_answer(forward(&c));
    assert_eq!(walk.poll(&ring), ask(&c, at(95), 2));
    // More than asked for is cut to what was asked.
    walk.on_answer(successors(&[&d, &e, &me]));
    assert_eq!(walk.poll(&ring), Step::Done(Ok(vec![d.clone(), e])));
    assert_eq!(
        walk.stats(),
        LookupStats {
            hops: 2,
            failed_calls: 0
        }
    );
}

#[test]
fn polling_while_an_answer_is_awaited_repeats_the_question_without_counting_it_again() {
    let (b, ring, mut walk) = from_b(at(70));
    assert_eq!(walk.poll(&ring), ask(&b, at(70), 1));
    assert_eq!(walk.poll(&ring), ask(&b, at(70), 1));
    assert_eq!(walk.stats().hops, 1);
    walk.on_answer(successors(&[&vnode(80, "c")]));
    let done = walk.poll(&ring);
    assert!(matches!(done, Step::Done(Ok(_))), "{done:?}");
    // An answer nobody asked for changes nothing; the result stays.
    walk.on_answer(Err(timed_out("b")));
    assert_eq!(walk.poll(&ring), done);
}

#[test]
fn a_first_vnode_that_times_out_is_suspected_and_ends_the_walk() {
    let (b, ring, mut walk) = from_b(at(70));
    walk.poll(&ring);
    walk.on_answer(Err(timed_out("b")));
    assert_eq!(walk.poll(&ring), Step::Suspect(b));
    assert_eq!(walk.poll(&ring), Step::Done(Err(timed_out("b"))));
    assert_eq!(
        walk.stats(),
        LookupStats {
            hops: 1,
            failed_calls: 1
        }
    );
}

#[test]
fn a_dead_vnode_on_the_path_is_stepped_around_through_the_last_one_that_answered() {
    let (_, ring, mut walk) = from_me(at(110), 1);
    let [b, c, d, e] = others();
    walk.poll(&ring);
    walk.on_answer(forward(&b));
    walk.poll(&ring);
    walk.on_answer(forward(&c));
    assert_eq!(walk.poll(&ring), ask(&c, at(110), 1));
    walk.on_answer(Err(timed_out("c")));
    assert_eq!(walk.poll(&ring), Step::Suspect(c.clone()));
    // Back to b, for its whole successor list (asked about the position just after it).
    assert_eq!(walk.poll(&ring), ask(&b, b.id.add_pow2(0), 4));
    walk.on_answer(successors(&[&c, &d, &e]));
    // c is dead on this walk; d is the live successor closest before the key.
    assert_eq!(walk.poll(&ring), ask(&d, at(110), 1));
    walk.on_answer(successors(&[&e]));
    assert_eq!(walk.poll(&ring), Step::Done(Ok(vec![e])));
    assert_eq!(
        walk.stats(),
        LookupStats {
            hops: 3,
            failed_calls: 1
        }
    );
}

#[test]
fn a_detour_whose_live_successor_follows_the_key_ends_the_walk_there() {
    let [b, c, d, _] = others();
    let ring = ScriptedRing::default();
    let mut walk = forwarded_to_c(&ring, 2);
    walk.poll(&ring);
    walk.on_answer(Err(timed_out("c")));
    assert_eq!(walk.poll(&ring), Step::Suspect(c.clone()));
    walk.poll(&ring);
    // b itself in its own list is skipped as well as the dead c.
    walk.on_answer(successors(&[&b, &c, &d]));
    assert_eq!(walk.poll(&ring), Step::Done(Ok(vec![d])));
}

#[test]
fn a_refusal_is_a_failed_call_but_no_suspicion() {
    let ring = ScriptedRing::default();
    let mut walk = forwarded_to_c(&ring, 1);
    walk.poll(&ring);
    walk.on_answer(Err(refused("c")));
    detour_through_b_ends_at_d(&mut walk, &ring);
    assert_eq!(walk.stats().failed_calls, 1);
}

#[test]
fn a_forward_to_a_vnode_known_dead_detours_along_the_current_successor_list() {
    let [_, c, ..] = others();
    let ring = ScriptedRing::mourning(&[&c]);
    let mut walk = forwarded_to_c(&ring, 1);
    detour_through_b_ends_at_d(&mut walk, &ring);
    assert_eq!(walk.stats().failed_calls, 0);
}

#[test]
fn a_forward_to_the_vnode_itself_detours_instead_of_looping() {
    let (b, ring, mut walk) = from_b(at(95));
    walk.poll(&ring);
    walk.on_answer(forward(&b));
    assert_eq!(walk.poll(&ring), ask(&b, b.id.add_pow2(0), 4));
}

#[test]
fn an_answer_naming_only_dead_vnodes_goes_on_along_the_full_successor_list() {
    let [b, c, d, e] = others();
    let ring = ScriptedRing::mourning(&[&c, &d]);
    let mut walk = LookupWalk::new(b.clone(), at(95), 1, 8, 4);
    walk.poll(&ring);
    walk.on_answer(successors(&[&c, &d]));
    assert_eq!(walk.poll(&ring), ask(&b, b.id.add_pow2(0), 4));
    walk.on_answer(successors(&[&c, &d, &e]));
    assert_eq!(walk.poll(&ring), Step::Done(Ok(vec![e])));
}

#[test]
fn an_empty_answer_or_a_detour_with_nobody_alive_has_no_successors() {
    let (b, c) = (vnode(60, "b"), vnode(90, "c"));
    let ring = ScriptedRing::mourning(&[&c]);
    let mut walk = LookupWalk::new(b.clone(), at(95), 1, 8, 4);
    walk.poll(&ring);
    walk.on_answer(successors(&[]));
    assert_eq!(
        walk.poll(&ring),
        Step::Done(Err(RingError::NoSuccessors(b.clone())))
    );

    let mut walk = forwarded_to_c(&ring, 1);
    walk.poll(&ring);
    // A detour answered by a forward lists nobody.
    walk.on_answer(forward(&c));
    assert_eq!(
        walk.poll(&ring),
        Step::Done(Err(RingError::NoSuccessors(b)))
    );
}

#[test]
fn a_detour_call_that_fails_ends_the_walk_with_its_error_uncounted() {
    let [_, c, ..] = others();
    let ring = ScriptedRing::default();
    let mut walk = forwarded_to_c(&ring, 1);
    walk.poll(&ring);
    walk.on_answer(Err(timed_out("c")));
    assert_eq!(walk.poll(&ring), Step::Suspect(c));
    walk.poll(&ring);
    walk.on_answer(Err(timed_out("b")));
    assert_eq!(walk.poll(&ring), Step::Done(Err(timed_out("b"))));
    assert_eq!(walk.stats().failed_calls, 1);
}

#[test]
fn a_walk_that_keeps_being_forwarded_gives_up_at_its_hop_bound() {
    let ring = ScriptedRing::default();
    let mut walk = LookupWalk::new(vnode(1, "a"), at(200), 1, 3, 4);
    for top in 2..5 {
        assert!(matches!(walk.poll(&ring), Step::Ask(_)));
        walk.on_answer(forward(&vnode(top, "a")));
    }
    assert_eq!(
        walk.poll(&ring),
        Step::Done(Err(RingError::TooManyHops {
            key: at(200),
            hops: 3
        }))
    );
    assert_eq!(walk.stats().hops, 3);
}
