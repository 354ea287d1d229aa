//! The stabilization round fed scripted replies against a plain `VnodeState`: no runtime, no
//! network. Where the shell would forget a suspect vnode everywhere, the tests do it to the
//! one state by hand.

use super::*;
use crate::flow::scripted::{refused, timed_out, vnode, ScriptedRing};

const LIST: usize = 3;

fn state_of(me: &Vnode, successors: &[&Vnode]) -> VnodeState {
    let mut state = VnodeState::new(me.clone(), LIST, 1);
    state.set_successors(successors.iter().map(|v| (*v).clone()));
    state
}

fn get_predecessor_of(succ: &Vnode) -> RoundStep {
    RoundStep::Call {
        host: succ.host.to_string(),
        message: Message::GetPredecessor { dest: succ.clone() },
    }
}

fn notify_of(succ: &Vnode, me: &Vnode) -> RoundStep {
    RoundStep::Call {
        host: succ.host.to_string(),
        message: Message::Notify {
            dest: succ.clone(),
            vnode: me.clone(),
        },
    }
}

/// Vnode `me` at 10 with successor c at 50, and the successor check it runs.
fn checking_c() -> (Vnode, Vnode, VnodeState, Round) {
    let (me, c) = (vnode(10, "me"), vnode(50, "c"));
    let state = state_of(&me, &[&c]);
    let round = Round::successor_check(me.clone(), LIST);
    (me, c, state, round)
}

/// Vnode `me` at 10 with successors c at 50 and d at 70, and the successor check it runs.
fn checking_c_then_d() -> (Vnode, [Vnode; 2], VnodeState, Round) {
    let (me, c, d) = (vnode(10, "me"), vnode(50, "c"), vnode(70, "d"));
    let state = state_of(&me, &[&c, &d]);
    let round = Round::successor_check(me.clone(), LIST);
    (me, [c, d], state, round)
}

/// `me`'s successor check on `state` (successor c), after c answered that its predecessor is
/// `named`: the round, waiting to be polled.
fn told_predecessor(me: &Vnode, state: &mut VnodeState, named: &Vnode) -> Round {
    let mut round = Round::successor_check(me.clone(), LIST);
    round.poll(state, &ScriptedRing::default());
    round.on_reply(Ok(Message::Vnode(named.clone())));
    round
}

fn finger_lookup(me: &Vnode, start: Id) -> RoundStep {
    RoundStep::Lookup {
        start: me.clone(),
        key: start,
        n: 1,
    }
}

fn listed(vnodes: &[&Vnode]) -> Result<Message, RingError> {
    Ok(Message::ListVnodesResp {
        vnodes: vnodes.iter().map(|v| (*v).clone()).collect(),
    })
}

#[test]
fn a_round_adopts_a_closer_successor_notifies_it_fixes_a_finger_then_checks_the_predecessor() {
    let me = vnode(10, "me");
    let (b, c, d) = (vnode(30, "b"), vnode(50, "c"), vnode(70, "d"));
    let ring = ScriptedRing::running(&[&me]);
    let mut state = state_of(&me, &[&c, &d]);
    let mut round = Round::new(me.clone(), LIST);
    assert_eq!(
        round.poll(&mut state, &ring),
        RoundStep::RememberHosts {
            seen: vec!["c".to_string(), "d".to_string()]
        }
    );
    // Not isolated: the hosts drawn are not tried.
    round.on_hosts(vec!["x".to_string()]);
    assert_eq!(round.poll(&mut state, &ring), get_predecessor_of(&c));
    assert_eq!(
        round.poll(&mut state, &ring),
        get_predecessor_of(&c),
        "asked again until answered"
    );
    // c's predecessor b sits between us and c: our new first successor.
    round.on_reply(Ok(Message::Vnode(b.clone())));
    assert_eq!(round.poll(&mut state, &ring), notify_of(&b, &me));
    assert_eq!(state.successors(), &[b.clone(), c.clone(), d.clone()]);
    round.on_reply(listed(&[&c, &me, &d]));
    assert_eq!(
        round.poll(&mut state, &ring),
        RoundStep::Event(RingEvent::ReplicasChanged {
            vnode: me.clone(),
            old: Vec::new(),
            new: vec![b.clone()],
        })
    );
    // The merged list stops where it would wrap past us.
    assert_eq!(state.successors(), &[b.clone(), c.clone()]);
    let (finger, start) = state.next_finger();
    assert_eq!(round.poll(&mut state, &ring), finger_lookup(&me, start));
    round.on_lookup(Ok(vec![b.clone()]));
    assert_eq!(round.poll(&mut state, &ring), RoundStep::CheckPredecessor);
    assert_eq!(state.fingers()[finger], Some(b));
    assert_eq!(round.poll(&mut state, &ring), RoundStep::Done);
    assert_eq!(round.poll(&mut state, &ring), RoundStep::Done);
}

#[test]
fn an_unreachable_successor_is_suspected_and_the_next_one_asked() {
    let (me, [c, d], mut state, mut round) = checking_c_then_d();
    let ring = ScriptedRing::default();
    assert_eq!(round.poll(&mut state, &ring), get_predecessor_of(&c));
    round.on_reply(Err(timed_out("c")));
    assert_eq!(round.poll(&mut state, &ring), RoundStep::Suspect(c.clone()));
    // What the shell's `note_suspect` does to this vnode.
    state.forget_route(&c);
    assert_eq!(round.poll(&mut state, &ring), get_predecessor_of(&d));
    // d names us: nothing to learn, on to the notify.
    round.on_reply(Ok(Message::Vnode(me.clone())));
    assert_eq!(round.poll(&mut state, &ring), notify_of(&d, &me));
    round.on_reply(Err(refused("d")));
    // The successor check alone ends after the notify: no finger, no predecessor check.
    assert_eq!(round.poll(&mut state, &ring), RoundStep::Done);
}

#[test]
fn a_successor_its_host_disowns_is_forgotten_for_sure_and_the_next_one_asked() {
    let (_, [c, d], mut state, mut round) = checking_c_then_d();
    let ring = ScriptedRing::default();
    round.poll(&mut state, &ring);
    round.on_reply(Err(RingError::VnodeGone {
        host: "c".to_string(),
        error: "no vnode".to_string(),
    }));
    assert_eq!(
        round.poll(&mut state, &ring),
        RoundStep::Disowned(c.clone())
    );
    // What the shell's `note_disowned` does to this vnode.
    state.forget(&c);
    assert_eq!(round.poll(&mut state, &ring), get_predecessor_of(&d));
}

#[test]
fn the_successor_check_gives_up_after_one_more_try_than_a_list_holds() {
    let (me, c, mut state, mut round) = checking_c();
    let ring = ScriptedRing::default();
    for _ in 0..=LIST {
        assert_eq!(round.poll(&mut state, &ring), get_predecessor_of(&c));
        round.on_reply(Err(timed_out("c")));
        assert_eq!(round.poll(&mut state, &ring), RoundStep::Suspect(c.clone()));
    }
    assert_eq!(round.poll(&mut state, &ring), notify_of(&c, &me));
}

#[test]
fn a_vnode_without_a_predecessor_takes_its_successors_unless_that_names_itself() {
    let me = vnode(10, "me");
    let (a, c) = (vnode(200, "a"), vnode(50, "c"));
    let ring = ScriptedRing::default();

    let mut state = state_of(&me, &[&c]);
    let mut round = told_predecessor(&me, &mut state, &a);
    assert_eq!(
        round.poll(&mut state, &ring),
        RoundStep::Event(RingEvent::PredecessorJoined {
            vnode: me.clone(),
            old: None,
            new: a.clone(),
        })
    );
    assert_eq!(state.predecessor(), Some(&a));
    assert_eq!(round.poll(&mut state, &ring), notify_of(&c, &me));

    let mut state = state_of(&me, &[&c]);
    let mut round = told_predecessor(&me, &mut state, &c);
    assert_eq!(round.poll(&mut state, &ring), notify_of(&c, &me));
    assert_eq!(state.predecessor(), None);
}

#[test]
fn a_vnode_whose_predecessor_is_further_than_its_successors_takes_the_nearer_one() {
    // me at 10 took a sibling at 150 for its predecessor (the first to notify it); c, its
    // successor, names a at 200, which sits between: a is nearer, so it is me's predecessor
    // (docs/reliability.md, fix 16). One that does not sit between changes nothing.
    let me = vnode(10, "me");
    let (far, a, c, before_far) = (
        vnode(150, "me"),
        vnode(200, "a"),
        vnode(50, "c"),
        vnode(100, "b"),
    );
    let ring = ScriptedRing::default();

    let mut state = state_of(&me, &[&c]);
    let _ = state.notify(&far);
    let mut round = told_predecessor(&me, &mut state, &a);
    assert_eq!(
        round.poll(&mut state, &ring),
        RoundStep::Event(RingEvent::PredecessorJoined {
            vnode: me.clone(),
            old: Some(far.clone()),
            new: a.clone(),
        })
    );
    assert_eq!(state.predecessor(), Some(&a));

    let mut state = state_of(&me, &[&c]);
    let _ = state.notify(&far);
    let mut round = told_predecessor(&me, &mut state, &before_far);
    assert_eq!(round.poll(&mut state, &ring), notify_of(&c, &me));
    assert_eq!(state.predecessor(), Some(&far));
}

#[test]
fn a_successor_that_refuses_the_question_is_alive_and_not_suspected() {
    let (me, c, mut state, mut round) = checking_c();
    let ring = ScriptedRing::default();
    round.poll(&mut state, &ring);
    round.on_reply(Err(refused("c")));
    assert_eq!(round.poll(&mut state, &ring), notify_of(&c, &me));
}

#[test]
fn a_notify_answered_gone_forgets_the_successor_unreachable_suspects_it() {
    let me = vnode(10, "me");
    let c = vnode(50, "c");
    let ring = ScriptedRing::default();
    let gone = RingError::VnodeGone {
        host: "c".to_string(),
        error: "no vnode".to_string(),
    };
    for (reply, then) in [
        (Err(gone), RoundStep::Disowned(c.clone())),
        (Err(timed_out("c")), RoundStep::Suspect(c.clone())),
        (Err(refused("c")), RoundStep::Done),
        (Ok(Message::ListVnodes), RoundStep::Done),
    ] {
        let mut state = state_of(&me, &[&c]);
        let mut round = Round::notify(me.clone(), LIST);
        assert_eq!(round.poll(&mut state, &ring), notify_of(&c, &me));
        round.on_reply(reply);
        assert_eq!(round.poll(&mut state, &ring), then);
        assert_eq!(round.poll(&mut state, &ring), RoundStep::Done);
    }
}

#[test]
fn a_notify_reply_is_not_merged_once_the_first_successor_changed() {
    let me = vnode(10, "me");
    let (b, c, d) = (vnode(30, "b"), vnode(50, "c"), vnode(70, "d"));
    let ring = ScriptedRing::default();
    let mut state = state_of(&me, &[&c]);
    let mut round = Round::notify(me.clone(), LIST);
    round.poll(&mut state, &ring);
    // Meanwhile b notified its way in front of c (an incoming message between two steps).
    assert!(state.consider_successor(&b));
    round.on_reply(listed(&[&d]));
    round.poll(&mut state, &ring);
    assert_eq!(state.successors(), &[b, c]);
}

#[test]
fn a_notify_without_a_successor_does_nothing() {
    let me = vnode(10, "me");
    let mut state = state_of(&me, &[]);
    let mut round = Round::notify(me, LIST);
    assert_eq!(
        round.poll(&mut state, &ScriptedRing::default()),
        RoundStep::Done
    );
}

#[test]
fn an_isolated_vnode_finds_the_ring_through_a_remembered_host() {
    let me = vnode(10, "me");
    let mine = vnode(90, "me");
    let (a, x) = (vnode(40, "a"), vnode(60, "x"));
    let ring = ScriptedRing::running(&[&me, &mine]);
    let mut state = state_of(&me, &[&mine]);
    let mut round = Round::new(me.clone(), LIST);
    assert_eq!(
        round.poll(&mut state, &ring),
        RoundStep::RememberHosts { seen: Vec::new() }
    );
    round.on_hosts(vec!["down".to_string(), "x".to_string()]);
    let list = |host: &str| RoundStep::Call {
        host: host.to_string(),
        message: Message::ListVnodes,
    };
    assert_eq!(round.poll(&mut state, &ring), list("down"));
    round.on_reply(Err(timed_out("down")));
    assert_eq!(round.poll(&mut state, &ring), list("x"));
    // Our own vnodes in a host's list are no way into the ring.
    round.on_reply(listed(&[&mine, &x]));
    assert_eq!(
        round.poll(&mut state, &ring),
        RoundStep::Lookup {
            start: x.clone(),
            key: me.id,
            n: LIST
        }
    );
    round.on_lookup(Ok(vec![a.clone(), x.clone()]));
    assert_eq!(round.poll(&mut state, &ring), get_predecessor_of(&a));
    assert_eq!(state.successors(), &[a, x, mine]);
}

#[test]
fn an_isolated_vnode_whose_hosts_all_fail_goes_on_with_its_round() {
    let me = vnode(10, "me");
    let ring = ScriptedRing::running(&[&me]);
    let x = vnode(60, "x");
    let mut state = state_of(&me, &[]);
    let mut round = Round::new(me.clone(), LIST);
    round.poll(&mut state, &ring);
    round.on_hosts(vec!["x".to_string()]);
    round.poll(&mut state, &ring);
    round.on_reply(listed(&[&x]));
    assert!(matches!(
        round.poll(&mut state, &ring),
        RoundStep::Lookup { .. }
    ));
    round.on_lookup(Err(RingError::LookupTimeout(me.id)));
    // No successor, no finger, no other vnode: nobody to ask; the notify has nobody either.
    let (_, start) = state.next_finger();
    assert_eq!(round.poll(&mut state, &ring), finger_lookup(&me, start));
    round.on_lookup(Err(RingError::LookupTimeout(start)));
    assert_eq!(round.poll(&mut state, &ring), RoundStep::CheckPredecessor);
    assert!(state.fingers().iter().all(Option::is_none));
}

#[test]
fn a_dry_successor_list_is_refilled_from_fingers_and_the_other_local_vnodes() {
    let me = vnode(10, "me");
    let mine = vnode(200, "me");
    let f = vnode(80, "f");
    let ring = ScriptedRing::running(&[&me, &mine]);
    let mut state = state_of(&me, &[]);
    state.set_finger(150, f.clone());
    let mut round = Round::successor_check(me.clone(), LIST);
    assert_eq!(round.poll(&mut state, &ring), get_predecessor_of(&f));
    assert_eq!(state.successors(), &[f, mine]);
}

#[test]
fn answers_of_the_wrong_kind_are_ignored() {
    let (_, c, mut state, mut round) = checking_c();
    let ring = ScriptedRing::default();
    assert_eq!(round.poll(&mut state, &ring), get_predecessor_of(&c));
    round.on_lookup(Ok(vec![c.clone()]));
    round.on_hosts(vec!["c".to_string()]);
    assert_eq!(round.poll(&mut state, &ring), get_predecessor_of(&c));
}
