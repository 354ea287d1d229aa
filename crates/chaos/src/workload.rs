//! Client tasks sending SET, GET, DEL and INCR over RESP (the `redis` crate) to nodes drawn at
//! random, on a bounded key set, each recording every operation it sent. Values are unique per
//! run (`<client>-<sequence>`), so a value read names its write.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::aio::MultiplexedConnection;
use redis::RedisError;
use tokio::sync::watch;
use tokio::time::{sleep, timeout, Instant};

use crate::history::{Command, Completion, Operation, Phase, Reply};

/// Longest wait for one reply; past it the operation's outcome is unknown.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The key set and the pace of the clients.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Keys written with SET and DEL (`r<i>`).
    pub registers: usize,
    /// Keys changed with INCR (`c<i>`).
    pub counters: usize,
    /// Per client, its (read, write) consistency.
    pub consistencies: Vec<(u8, u8)>,
    /// Pause between two operations of a client (at most; drawn).
    pub think: Duration,
}

impl Workload {
    /// Every key of the workload.
    pub fn keys(&self) -> Vec<String> {
        (0..self.registers)
            .map(register)
            .chain((0..self.counters).map(counter))
            .collect()
    }
}

fn register(i: usize) -> String {
    format!("r{i}")
}

fn counter(i: usize) -> String {
    format!("c{i}")
}

/// A connection to `address` with its consistency set, or the error.
pub async fn connect(address: &str, read: u8, write: u8) -> Result<MultiplexedConnection, String> {
    let client = redis::Client::open(format!("redis://{address}/")).map_err(|e| e.to_string())?;
    let mut con = timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection())
        .await
        .map_err(|_| format!("no connection within {CONNECT_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
    let set: Result<Result<(), RedisError>, _> = timeout(
        REQUEST_TIMEOUT,
        redis::cmd("CONSISTENCY")
            .arg(read)
            .arg(write)
            .query_async(&mut con),
    )
    .await;
    match set {
        Ok(Ok(())) => Ok(con),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("CONSISTENCY timed out".into()),
    }
}

/// Sends `command` on `key` through `con` and says how it ended; `Unknown` means the
/// connection should not be used again.
pub async fn execute(con: &mut MultiplexedConnection, key: &str, command: &Command) -> Completion {
    let request = match command {
        Command::Set(value) => redis::cmd("SET").arg(key).arg(value).clone(),
        Command::Get => redis::cmd("GET").arg(key).clone(),
        Command::Del => redis::cmd("DEL").arg(key).clone(),
        Command::Incr => redis::cmd("INCR").arg(key).clone(),
    };
    let reply = match command {
        Command::Set(_) => query::<()>(con, &request).await.map(|()| Reply::Done),
        Command::Del => query::<i64>(con, &request).await.map(Reply::Integer),
        Command::Get => query::<Option<String>>(con, &request)
            .await
            .map(Reply::Value),
        Command::Incr => query::<i64>(con, &request).await.map(Reply::Integer),
    };
    match reply {
        Ok(reply) => Completion::Ok(reply),
        Err(completion) => completion,
    }
}

async fn query<T: redis::FromRedisValue>(
    con: &mut MultiplexedConnection,
    request: &redis::Cmd,
) -> Result<T, Completion> {
    match timeout(REQUEST_TIMEOUT, request.query_async::<T>(con)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error))
            if error.is_io_error()
                || error.is_connection_dropped()
                || error.is_connection_refusal()
                || error.is_timeout() =>
        {
            Err(Completion::Unknown(format!("connection: {error}")))
        }
        Ok(Err(error)) => Err(Completion::Fail(error.to_string())),
        Err(_) => Err(Completion::Unknown(format!(
            "no reply within {REQUEST_TIMEOUT:?}"
        ))),
    }
}

/// Client `client`'s next operation, drawn: 40 % GET, 35 % SET, 10 % DEL, 15 % INCR. SET
/// values are `<client>-<sequence>` (`sequence` counts them), unique per run.
fn draw(
    workload: &Workload,
    client: usize,
    sequence: &mut u64,
    rng: &mut StdRng,
) -> (String, Command) {
    let registers = workload.registers.max(1);
    let counters = workload.counters;
    let roll = rng.gen_range(0..100);
    let on_register = |rng: &mut StdRng| register(rng.gen_range(0..registers));
    if roll < 40 {
        let key = if counters > 0 && rng.gen_bool(0.25) {
            counter(rng.gen_range(0..counters))
        } else {
            on_register(rng)
        };
        (key, Command::Get)
    } else if roll < 75 || (roll >= 85 && counters == 0) {
        *sequence += 1;
        let value = format!("{client}-{sequence}");
        (on_register(rng), Command::Set(value))
    } else if roll < 85 {
        (on_register(rng), Command::Del)
    } else {
        (counter(rng.gen_range(0..counters)), Command::Incr)
    }
}

/// The seed of client `client`'s choices in a run of `seed`.
fn client_seed(seed: u64, client: usize) -> u64 {
    seed ^ (client as u64 + 1).wrapping_mul(0x9E37_79B9)
}

/// Whether a convergence sweep read every key the same from every node (and each read was
/// answered).
pub fn agreed(keys: &[String], sweep: &[Operation]) -> bool {
    keys.iter().all(|key| {
        let mut reads = sweep.iter().filter(|o| &o.key == key);
        let first = reads.next().and_then(Operation::read_value);
        first.is_some() && reads.all(|o| o.read_value() == first)
    })
}

/// One client's choices and record, whatever carries its commands: RESP here, direct table
/// calls in the table simulation (crates/tablesim), so both load the table the same way.
pub struct ClientLog {
    id: usize,
    rng: StdRng,
    read: u8,
    write: u8,
    workload: Workload,
    started: Instant,
    sequence: u64,
    operations: Vec<Operation>,
}

impl ClientLog {
    /// Client `id` of a run of `seed`, at consistencies `(read, write)`, timing its
    /// operations from `started`.
    pub fn new(
        workload: &Workload,
        id: usize,
        (read, write): (u8, u8),
        seed: u64,
        started: Instant,
    ) -> ClientLog {
        ClientLog {
            id,
            rng: StdRng::seed_from_u64(client_seed(seed, id)),
            read,
            write,
            workload: workload.clone(),
            started,
            sequence: 0,
            operations: Vec::new(),
        }
    }

    /// The client's read and write consistencies.
    pub fn consistencies(&self) -> (u8, u8) {
        (self.read, self.write)
    }

    /// Which of `nodes` nodes to send the next operation through (drawn).
    pub fn pick_node(&mut self, nodes: usize) -> usize {
        self.rng.gen_range(0..nodes.max(1))
    }

    /// The next operation and the consistency it is sent at (drawn).
    pub fn next_operation(&mut self) -> (String, Command, u8) {
        let (key, command) = draw(&self.workload, self.id, &mut self.sequence, &mut self.rng);
        let consistency = if command.writes() {
            self.write
        } else {
            self.read
        };
        (key, command, consistency)
    }

    /// Time since the start of the run.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Records an operation sent at `invoked` through `node` that ended now with `completion`.
    pub fn record(
        &mut self,
        node: usize,
        (key, command, consistency): (String, Command, u8),
        invoked: Duration,
        completion: Completion,
    ) {
        self.operations.push(Operation {
            client: self.id,
            node,
            key,
            command,
            consistency,
            invoked,
            completed: self.started.elapsed(),
            completion,
            phase: Phase::Faults,
        });
    }

    /// The pause before the next operation (drawn, up to the workload's think time).
    pub fn think(&mut self) -> Duration {
        self.rng.gen_range(Duration::ZERO..=self.workload.think)
    }

    /// Everything recorded.
    pub fn into_operations(self) -> Vec<Operation> {
        self.operations
    }
}

/// One client task.
struct Client {
    log: ClientLog,
    addresses: Arc<Vec<String>>,
    connections: Vec<Option<MultiplexedConnection>>,
}

impl Client {
    async fn run(mut self, mut stop: watch::Receiver<bool>) -> Vec<Operation> {
        let (read, write) = self.log.consistencies();
        while !*stop.borrow() {
            let node = self.log.pick_node(self.addresses.len());
            let con = match self.connections[node].take() {
                Some(con) => Some(con),
                None => connect(&self.addresses[node], read, write).await.ok(),
            };
            if let Some(mut con) = con {
                let operation = self.log.next_operation();
                let invoked = self.log.elapsed();
                let completion = execute(&mut con, &operation.0, &operation.1).await;
                if !matches!(completion, Completion::Unknown(_)) {
                    self.connections[node] = Some(con);
                }
                self.log.record(node, operation, invoked, completion);
            }
            let think = self.log.think();
            // The pause paces the load; stopping cuts it short.
            let _ = timeout(think, stop.changed()).await;
        }
        self.log.into_operations()
    }
}

/// Starts one client task per entry of `workload.consistencies`, sending to the nodes at
/// `addresses` until `stop` turns true; each task returns its operations. Times are measured
/// from `started`.
pub fn start(
    workload: &Workload,
    addresses: Vec<String>,
    seed: u64,
    started: Instant,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<Vec<Operation>>> {
    let addresses = Arc::new(addresses);
    workload
        .consistencies
        .iter()
        .enumerate()
        .map(|(id, &consistencies)| {
            let client = Client {
                log: ClientLog::new(workload, id, consistencies, seed, started),
                connections: (0..addresses.len()).map(|_| None).collect(),
                addresses: addresses.clone(),
            };
            tokio::spawn(client.run(stop.clone()))
        })
        .collect()
}

/// Reads every key from every node (one connection each at read consistency `read`) until
/// all nodes agree on every key or `wait` passes; returns the last sweep's reads (phase
/// [`Phase::Final`]) and how long agreement took, if it came.
pub async fn convergence_sweep(
    keys: &[String],
    addresses: &[String],
    read: u8,
    started: Instant,
    wait: Duration,
) -> (Vec<Operation>, Option<Duration>) {
    let since = Instant::now();
    loop {
        let mut sweep = Vec::new();
        for (node, address) in addresses.iter().enumerate() {
            let mut con = connect(address, read, read).await.ok();
            for key in keys {
                let invoked = started.elapsed();
                let completion = match con.as_mut() {
                    Some(con) => execute(con, key, &Command::Get).await,
                    None => Completion::Unknown("no connection".into()),
                };
                if matches!(completion, Completion::Unknown(_)) {
                    con = None;
                }
                sweep.push(Operation::swept(
                    node, key, read, invoked, started, completion,
                ));
            }
        }
        if agreed(keys, &sweep) {
            return (sweep, Some(since.elapsed()));
        }
        if since.elapsed() >= wait {
            return (sweep, None);
        }
        sleep(Duration::from_millis(200)).await;
    }
}
