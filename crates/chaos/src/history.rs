//! The history of a run: every client operation, with when it was invoked, when the client
//! stopped waiting, and how it ended. Values written are unique per run, so a value read names
//! the one write it came from.

use std::fmt;
use std::time::Duration;

/// What a client asked for, on the operation's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `SET key value`.
    Set(String),
    /// `GET key`.
    Get,
    /// `DEL key`.
    Del,
    /// `INCR key`.
    Incr,
}

impl Command {
    /// Whether the command writes (SET, DEL, INCR).
    pub fn writes(&self) -> bool {
        !matches!(self, Command::Get)
    }
}

/// What an operation answered when it succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// SET: done.
    Done,
    /// GET: the value, or `None` for nil.
    Value(Option<String>),
    /// INCR: the value after the increment; DEL: how many keys it found (and deleted).
    Integer(i64),
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// Answered without an error.
    Ok(Reply),
    /// An error reply. A write may still have taken effect (a primary can apply it and then
    /// miss the replica acknowledgements), but no later than the reply.
    Fail(String),
    /// No answer (timeout, broken connection): a write may take effect at any time after its
    /// invocation, even after the client gave up (a paused node can serve it when resumed).
    Unknown(String),
}

/// When in the run an operation was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// While faults were being injected.
    Faults,
    /// The convergence sweep after the last fault healed: one read of every key from every
    /// node, which must all agree.
    Final,
}

/// One client operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The client task that sent it.
    pub client: usize,
    /// The node it was sent through (its coordinator).
    pub node: usize,
    /// The key.
    pub key: String,
    /// What was asked.
    pub command: Command,
    /// The connection's consistency: the write consistency for writes, the read one for reads.
    pub consistency: u8,
    /// When it was sent, since the start of the run.
    pub invoked: Duration,
    /// When the client stopped waiting (reply, error or timeout), since the start of the run.
    pub completed: Duration,
    /// How it ended.
    pub completion: Completion,
    /// When in the run it was sent.
    pub phase: Phase,
}

impl Operation {
    /// A read of `key` through `node` by the convergence sweep, sent at `invoked` and ended
    /// now (times since `started`).
    pub fn swept(
        node: usize,
        key: &str,
        consistency: u8,
        invoked: Duration,
        started: tokio::time::Instant,
        completion: Completion,
    ) -> Operation {
        Operation {
            client: usize::MAX,
            node,
            key: key.to_owned(),
            command: Command::Get,
            consistency,
            invoked,
            completed: started.elapsed(),
            completion,
            phase: Phase::Final,
        }
    }

    /// Whether it succeeded.
    pub fn ok(&self) -> bool {
        matches!(self.completion, Completion::Ok(_))
    }

    /// The value a successful GET read (`Some(None)` is nil), else `None`. A DEL that found
    /// nothing (answered 0) deleted nothing: it read nil.
    pub fn read_value(&self) -> Option<Option<&str>> {
        match (&self.command, &self.completion) {
            (Command::Get, Completion::Ok(Reply::Value(value))) => Some(value.as_deref()),
            (Command::Del, Completion::Ok(Reply::Integer(0))) => Some(None),
            _ => None,
        }
    }

    /// Whether it may have changed its key: every SET and INCR (even one that failed or got
    /// no answer), and every DEL but one that answered that it found nothing.
    pub fn may_write(&self) -> bool {
        match self.command {
            Command::Get => false,
            Command::Del => self.read_value().is_none(),
            Command::Set(_) | Command::Incr => true,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>9.3}-{:<9.3} ",
            self.invoked.as_secs_f64(),
            self.completed.as_secs_f64(),
        )?;
        if self.phase == Phase::Final {
            write!(f, "sweep via node {}: ", self.node)?;
        } else {
            write!(f, "client {} via node {}: ", self.client, self.node)?;
        }
        match &self.command {
            Command::Set(value) => write!(f, "SET {} {value:?}", self.key)?,
            Command::Get => write!(f, "GET {}", self.key)?,
            Command::Del => write!(f, "DEL {}", self.key)?,
            Command::Incr => write!(f, "INCR {}", self.key)?,
        }
        write!(f, " (consistency {}) -> ", self.consistency)?;
        if let (Command::Del, Completion::Ok(Reply::Integer(n))) = (&self.command, &self.completion)
        {
            return write!(f, "{n} (found)");
        }
        match &self.completion {
            Completion::Ok(Reply::Done) => write!(f, "ok"),
            Completion::Ok(Reply::Value(Some(value))) => write!(f, "{value:?}"),
            Completion::Ok(Reply::Value(None)) => write!(f, "nil"),
            Completion::Ok(Reply::Integer(n)) => write!(f, "{n}"),
            Completion::Fail(error) => write!(f, "error: {error}"),
            Completion::Unknown(why) => write!(f, "unknown: {why}"),
        }?;
        if self.phase == Phase::Final {
            write!(f, " [convergence sweep]")?;
        }
        Ok(())
    }
}

/// A fault, or its end, at a time of the run: the context anomalies are reported in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultEvent {
    /// Since the start of the run.
    pub at: Duration,
    /// What happened ("kill -9 node 3", "heal partition [1, 4] | [0, 2, 3]").
    pub what: String,
}

/// A time a node was cut off from the others (partitioned, paused, on a slow or lossy link),
/// until the cluster had settled again after the heal. Reads through it meanwhile may be
/// stale: only values never written are anomalies then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Isolation {
    /// The node.
    pub node: usize,
    /// From when, since the start of the run.
    pub from: Duration,
    /// Until when.
    pub until: Duration,
}

/// A time ownership of ranges was moving: from a fault until the cluster had settled after
/// its heal, plus the hand-back delay (docs/design.md, "Hand back, then drop").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// From when, since the start of the run.
    pub from: Duration,
    /// Until when.
    pub until: Duration,
}

/// Everything a run recorded: the operations, the faults, the isolations and transitions.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Every client operation, in no particular order.
    pub operations: Vec<Operation>,
    /// Every fault and heal, in time order.
    pub faults: Vec<FaultEvent>,
    /// When nodes were cut off.
    pub isolations: Vec<Isolation>,
    /// When ownership was moving.
    pub transitions: Vec<Transition>,
}

impl History {
    /// Records that the round begun at `from` settled at `now`, `took` after its heal:
    /// ownership moved until the hand-back margin past it
    /// ([`HANDBACK_MARGIN`](crate::run::HANDBACK_MARGIN)), and the nodes of `isolated` were
    /// cut off until then.
    pub fn record_settled(
        &mut self,
        from: Duration,
        now: Duration,
        isolated: Vec<Isolation>,
        took: Duration,
    ) {
        self.transitions.push(Transition {
            from,
            until: now + crate::run::HANDBACK_MARGIN,
        });
        for isolation in isolated {
            self.isolations.push(Isolation {
                until: now,
                ..isolation
            });
        }
        self.faults.push(FaultEvent {
            at: now,
            what: format!("settled, every range fully replicated ({took:.2?})"),
        });
    }

    /// Whether `node` was cut off at any time between `from` and `until`.
    pub fn isolated(&self, node: usize, from: Duration, until: Duration) -> bool {
        self.isolations
            .iter()
            .any(|i| i.node == node && i.from <= until && from <= i.until)
    }

    /// Whether ownership was moving at any time between `from` and `until`.
    pub fn in_transition(&self, from: Duration, until: Duration) -> bool {
        self.transitions
            .iter()
            .any(|t| t.from <= until && from <= t.until)
    }

    /// The fault events between `from` and `until`.
    pub fn faults_between(&self, from: Duration, until: Duration) -> Vec<&FaultEvent> {
        self.faults
            .iter()
            .filter(|e| e.at >= from && e.at <= until)
            .collect()
    }
}
