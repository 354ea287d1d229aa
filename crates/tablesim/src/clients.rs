//! Client tasks on the simulated cluster: each sends SET, GET, DEL and INCR (drawn as the
//! real-process runs draw them, [`dendrite_chaos::workload::ClientLog`]) through a running node
//! drawn at random, at its own read and write consistency, and records every operation with
//! virtual timestamps. The commands go through the same [`dtable::Query`] calls as the node's
//! RESP commands (crates/node/src/table_backend.rs).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use dendrite_chaos::history::{Command, Completion, Operation, Reply};
use dendrite_chaos::workload::{self, ClientLog, Workload, REQUEST_TIMEOUT};
use dtable::{Modified, Modify, Table};
use tokio::sync::watch;
use tokio::time::{timeout, Instant};

/// The running nodes by index, as the clients see them: the fault driver updates it.
#[derive(Clone, Default)]
pub struct Directory(Arc<Mutex<BTreeMap<usize, Table>>>);

impl Directory {
    /// Replaces the running nodes.
    pub fn publish(&self, nodes: BTreeMap<usize, Table>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = nodes;
    }

    /// A running node drawn by `client`, if any runs.
    fn pick(&self, client: &mut ClientLog) -> Option<(usize, Table)> {
        let nodes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if nodes.is_empty() {
            return None;
        }
        let i = client.pick_node(nodes.len());
        nodes.iter().nth(i).map(|(n, t)| (*n, t.clone()))
    }
}

/// The client's link to its node, each way: a RESP client's request and reply cross the
/// network too. Without it an operation served locally would take no virtual time at all,
/// and the checker (which orders operations by when they were sent and answered) would see
/// an INCR answered at the instant it was sent, before it counts as sent.
pub const CLIENT_HOP: Duration = Duration::from_millis(1);

/// Sends `command` on `key` through `table` and says how it ended, as a RESP client would
/// see it: a table error is an error reply, no answer within [`REQUEST_TIMEOUT`] unknown.
pub async fn execute(
    table: &Table,
    key: &str,
    command: &Command,
    read: u8,
    write: u8,
) -> Completion {
    let key = Bytes::copy_from_slice(key.as_bytes());
    let (read, write) = (usize::from(read), usize::from(write));
    let answer = async {
        tokio::time::sleep(CLIENT_HOP).await;
        let answer = match command {
            Command::Set(value) => table
                .query()
                .consistency(write)
                .set(key, Bytes::copy_from_slice(value.as_bytes()))
                .await
                .map(|()| Reply::Done),
            Command::Get => table
                .query()
                .read_consistency(read)
                .get(key)
                .await
                .map(|value| Reply::Value(value.map(|v| String::from_utf8_lossy(&v).into_owned()))),
            // DEL answers how many keys existed: read first, delete only what is there
            // (as the node's DEL does).
            Command::Del => match table.query().get(key.clone()).await {
                Ok(None) => Ok(Reply::Integer(0)),
                Ok(Some(_)) => table
                    .query()
                    .consistency(write)
                    .delete(key)
                    .await
                    .map(|()| Reply::Integer(1)),
                Err(error) => Err(error),
            },
            Command::Incr => table
                .query()
                .consistency(write)
                .modify(key, Modify::IncrBy(1))
                .await
                .map(|modified| match modified {
                    Modified::Integer(n) => Reply::Integer(n),
                    // INCR answers an integer; anything else would be a table bug, shown as
                    // a value the checker cannot match to a write.
                    other => Reply::Value(Some(format!("{other:?}"))),
                }),
        };
        tokio::time::sleep(CLIENT_HOP).await;
        answer
    };
    match timeout(REQUEST_TIMEOUT, answer).await {
        Ok(Ok(reply)) => Completion::Ok(reply),
        Ok(Err(error)) => Completion::Fail(error.to_string()),
        Err(_) => Completion::Unknown(format!("no reply within {REQUEST_TIMEOUT:?}")),
    }
}

/// One client task: its choices and record, and where it finds the running nodes.
struct Client {
    log: ClientLog,
    directory: Directory,
}

impl Client {
    async fn run(mut self, mut stop: watch::Receiver<bool>) -> Vec<Operation> {
        let (read, write) = self.log.consistencies();
        while !*stop.borrow() {
            if let Some((node, table)) = self.directory.pick(&mut self.log) {
                let operation = self.log.next_operation();
                let invoked = self.log.elapsed();
                let completion = execute(&table, &operation.0, &operation.1, read, write).await;
                self.log.record(node, operation, invoked, completion);
            }
            let think = self.log.think();
            // The pause paces the load; stopping cuts it short.
            let _ = timeout(think, stop.changed()).await;
        }
        self.log.into_operations()
    }
}

/// Starts one client task per entry of `workload.consistencies`, sending through the nodes of
/// `directory` until `stop` turns true; each task returns its operations, timed from
/// `started`.
pub fn start(
    workload: &Workload,
    directory: &Directory,
    seed: u64,
    started: Instant,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<Vec<Operation>>> {
    workload
        .consistencies
        .iter()
        .enumerate()
        .map(|(id, &consistencies)| {
            let client = Client {
                log: ClientLog::new(workload, id, consistencies, seed, started),
                directory: directory.clone(),
            };
            tokio::spawn(client.run(stop.clone()))
        })
        .collect()
}

/// Reads every key through every running node at read consistency 1 until all agree on
/// every key or `wait` passes; returns the last sweep's reads (phase [`Phase::Final`](dendrite_chaos::history::Phase::Final)) and
/// how long agreement took, if it came.
pub async fn convergence_sweep(
    keys: &[String],
    nodes: &BTreeMap<usize, Table>,
    started: Instant,
    wait: Duration,
) -> (Vec<Operation>, Option<Duration>) {
    let since = Instant::now();
    loop {
        let mut sweep = Vec::new();
        for (&node, table) in nodes {
            for key in keys {
                let invoked = started.elapsed();
                let completion = execute(table, key, &Command::Get, 1, 1).await;
                sweep.push(Operation::swept(node, key, 1, invoked, started, completion));
            }
        }
        if workload::agreed(keys, &sweep) {
            return (sweep, Some(since.elapsed()));
        }
        if since.elapsed() >= wait {
            return (sweep, None);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
