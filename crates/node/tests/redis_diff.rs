//! Differential tests: the same requests to a real redis-server and to Dendrite must get the
//! same bytes back, in RESP2 and in RESP3.
//!
//! Replies are compared as raw RESP. Where a value legitimately differs (connection ids,
//! addresses, the version string, clocks, the order of Redis's hash-table iteration...) the
//! step says which normalisation applies; each is listed in docs/redis-compat.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod differential;
mod reference;

use differential::*;
use reference::RedisServer;

/// Pipelined counter commands are answered as a run (one step per primary): each keeps its
/// own answer and its place, whatever else is in the run — a repeated key, a value that is not
/// a number, a bad increment, an overflow, the wrong arity, another command in between.
#[test]
fn pipelined_counters_match_redis() {
    let mut lines = vec!["SET text abc", "SET big 9223372036854775806"];
    let mixed = [
        "INCR a",
        "INCR b",
        "INCR a",
        "INCR text",
        "INCR c",
        "INCR big",
        "INCR big",
        "INCR a",
    ];
    lines.extend(mixed);
    lines.extend([
        "INCRBY a 10",
        "INCRBY b x",
        "INCRBY a -3",
        "INCRBY c 9223372036854775807",
        "INCRBY c 1",
        "DECR a",
        "DECR d",
        "DECR d",
        "DECRBY a 2",
        "DECRBY a -9223372036854775808",
        "DECRBY e 5",
        "INCR",
        "INCR a extra",
        "INCR a",
        "GET a",
        "INCR a",
        "DECR a",
        "MGET a b c d e big text",
    ]);
    // Many keys on every node of the cluster targets, each incremented a few times.
    let many: Vec<String> = (0..3)
        .flat_map(|round| (0..40).map(move |key| format!("INCRBY n{key} {round}")))
        .collect();
    lines.extend(many.iter().map(String::as_str));
    lines.push("MGET n0 n1 n2 n17 n39");
    assert_same_pipelined_replies(exact(&lines));
}

#[test]
fn key_value_commands_match_redis() {
    assert_same_replies(exact(&[
        "PING",
        "PING hello",
        "PING a b",
        "ECHO hi",
        "ECHO",
        "ECHO a b",
        "GET k",
        "SET k v",
        "GET k",
        "SET k",
        "GET",
        "GET a b",
        "MSET a 1 b 2",
        "MSET a",
        "MSET a 1 b",
        "MGET a b nosuch",
        "MGET",
        "EXISTS a b nosuch a",
        "EXISTS",
        "DBSIZE",
        "DBSIZE x",
        "INFO keyspace",
        "DEL a nosuch",
        "DEL",
        "DEL k b",
        "INFO keyspace",
        "DBSIZE",
        "FOO bar baz",
        "SELECT 0",
        "SELECT 1",
        "SELECT x",
        "SELECT",
    ]));
}

#[test]
fn read_modify_write_string_commands_match_redis() {
    assert_same_replies(exact(&[
        "INCRBYFLOAT f 10.50",
        "INCRBYFLOAT f 0.1",
        "INCRBYFLOAT f 1000.1",
        "INCRBYFLOAT f -1010.7",
        "INCRBYFLOAT f 1e300",
        "INCRBYFLOAT f -1e300",
        "INCRBYFLOAT f 0.3333333333333333333333",
        "INCRBYFLOAT f 123456789.987654321",
        "INCRBYFLOAT f 5.0e3",
        "INCRBYFLOAT f -0x1p4",
        "INCRBYFLOAT f .5",
        "INCRBYFLOAT f 1.",
        "INCRBYFLOAT f +2",
        "INCRBYFLOAT f 1e-20",
        "INCRBYFLOAT f inf",
        "INCRBYFLOAT f -Infinity",
        "INCRBYFLOAT f nan",
        "INCRBYFLOAT f abc",
        "INCRBYFLOAT f ''",
        "INCRBYFLOAT f 1e",
        "INCRBYFLOAT f 1e4933",
        "INCRBYFLOAT f 1e-5000",
        "INCRBYFLOAT f",
        "GET f",
        "SET h inf",
        "INCRBYFLOAT h 1",
        "SET h abc",
        "INCRBYFLOAT h inf",
        "SET h 0x10",
        "INCRBYFLOAT h 0.0001",
        "SET h 1 EX 100",
        "INCRBYFLOAT h 1.5",
        "TTL h",
        "INCR n",
        "INCR n",
        "DECR n",
        "INCRBY n 10",
        "DECRBY n 3",
        "INCRBY n -20",
        "INCRBY n x",
        "INCRBY n 1.5",
        "INCRBY n +1",
        "INCRBY n 007",
        "DECRBY n -9223372036854775808",
        "SET big 9223372036854775807",
        "INCR big",
        "DECRBY big -1",
        "SET small -9223372036854775808",
        "DECR small",
        "SET z 007",
        "INCR z",
        "SET s abc",
        "INCR s",
        "GET s",
        "INCR",
        "INCR a b",
        "INCRBY n",
        "APPEND s def",
        "APPEND fresh xyz",
        "GET fresh",
        "APPEND s",
        "STRLEN s",
        "STRLEN nosuch",
        "STRLEN",
        "SETNX s other",
        "SETNX new1 v1",
        "GET new1",
        "SETNX a",
        "GETSET s replaced",
        "GETSET nosuch2 first",
        "GET nosuch2",
        "GETDEL s",
        "GETDEL s",
        "GET s",
        "GETDEL",
        "SET k v NX",
        "SET k w NX",
        "GET k",
        "SET k w XX",
        "GET k",
        "SET absent w XX",
        "GET absent",
        "SET k x GET",
        "SET k y xx get",
        "SET fresh2 z NX GET",
        "SET k y NX GET",
        "SET k v NX XX",
        "SET k v XX NX",
        "SET k v bogus",
        "SET k v GET GET",
        "DBSIZE",
        "SET str This-is-a-string",
        "GETRANGE str 0 3",
        "GETRANGE str -3 -1",
        "GETRANGE str 0 -1",
        "GETRANGE str 10 100",
        "GETRANGE str 5 2",
        "GETRANGE str -1 -5",
        "GETRANGE nosuch 0 -1",
        "GETRANGE str a 1",
        "GETRANGE str 0",
        "SUBSTR str 0 3",
        "SETRANGE str 5 IS",
        "GET str",
        "SETRANGE fresh3 3 abc",
        "GET fresh3",
        "SETRANGE str 0 ''",
        "SETRANGE nosuch3 0 ''",
        "EXISTS nosuch3",
        "SETRANGE str -1 x",
        "SETRANGE str x y",
        "SETBIT bits 7 1",
        "SETBIT bits 7 0",
        "SETBIT bits 100 1",
        "GET bits",
        "GETBIT bits 100",
        "GETBIT bits 99",
        "GETBIT bits 100000",
        "GETBIT bits -1",
        "GETBIT bits x",
        "SETBIT bits 1 2",
        "SETBIT bits -1 1",
        "SET fb foobar",
        "BITCOUNT fb",
        "BITCOUNT fb 1 1",
        "BITCOUNT fb -2 -1",
        "BITCOUNT fb 5 30 BIT",
        "BITCOUNT fb 0 -1 byte",
        "BITCOUNT fb 2 1",
        "BITCOUNT fb 0",
        "BITCOUNT fb 0 1 x",
        "BITCOUNT fb x y",
        "BITCOUNT nosuch x y",
        "BITCOUNT",
        "SET b1 abc",
        "BITPOS b1 1",
        "BITPOS b1 0",
        "BITPOS b1 1 1",
        "BITPOS b1 0 1 2",
        "BITPOS b1 1 -1",
        "BITPOS b1 1 2 1",
        "BITPOS b1 1 5 30 BIT",
        "BITPOS b1 0 5 30 bit",
        "BITPOS b1 1 0 -1 BYTE",
        "BITPOS b1 1 0 -1 x",
        "BITPOS b1 1 x",
        "BITPOS b1 2",
        "BITPOS nosuch 0",
        "BITPOS nosuch 1",
        "BITPOS nosuch 1 x y z w",
        "SETBIT ones 15 1",
        "SETBIT ones 14 1",
        "BITPOS ones 0",
        "BITPOS ones 0 1",
        "BITPOS ones 0 1 1",
        "BITPOS",
        "SET l1 ohmytext",
        "SET l2 mynewtext",
        "LCS l1 l2",
        "LCS l1 l2 LEN",
        "LCS l1 l2 IDX",
        "LCS l1 l2 IDX MINMATCHLEN 4",
        "LCS l1 l2 IDX WITHMATCHLEN",
        "LCS l1 l2 idx minmatchlen 3 withmatchlen",
        "LCS l1 l2 IDX LEN",
        "LCS l1 l2 MINMATCHLEN",
        "LCS l1 l2 MINMATCHLEN x",
        "LCS l1 l2 bogus",
        "LCS l1 nosuch",
        "LCS nosuch nosuch2 IDX",
        "LCS l1",
        "RANDOMKEY x",
    ]));
}

/// Expiry: SET's time options, SETEX, PSETEX, GETEX, the EXPIRE family with its conditions,
/// PERSIST and the deadline reads. Relative times are far (100 s) so both servers read the
/// same whole seconds; absolute ones are in 2100 or in 1970.
#[test]
fn expiry_commands_match_redis() {
    let mut steps = Vec::new();
    for line in [
        "SET k v EX 100",
        "TTL k",
        "SET k v PX 100000",
        "TTL k",
        "SET k v EXAT 4102444800",
        "EXPIRETIME k",
        "PEXPIRETIME k",
        "SET k v PXAT 4102444800123",
        "PEXPIRETIME k",
        "EXPIRETIME k",
        "SET k v2 KEEPTTL",
        "PEXPIRETIME k",
        "GET k",
        "SET k v3",
        "TTL k",
        "TTL nosuch",
        "PTTL nosuch",
        "EXPIRETIME nosuch",
        "PEXPIRETIME nosuch",
        "TTL",
        "TTL a b",
        "SET k v EX 0",
        "SET k v EX -1",
        "SET k v PX 0",
        "SET k v EXAT 0",
        "SET k v EX x",
        "SET k v EX 10 PX 10",
        "SET k v EX 10 EX 20",
        "TTL k",
        "SET k v KEEPTTL EX 10",
        "SET k v EX 10 KEEPTTL",
        "SET k v EX",
        "SET k v PERSIST",
        "SET k v EX 9223372036854775807",
        "SET k v PX 9223372036854775807",
        "SET k v NX EX 10",
        "SET n1 v NX EX 100",
        "TTL n1",
        "SET k v3 GET EX 100",
        "TTL k",
        "SET k v4 XX GET PX 100000",
        "TTL k",
        "SETEX s 100 v",
        "TTL s",
        "SETEX s 0 v",
        "SETEX s x v",
        "SETEX s 10",
        "PSETEX p -1 v",
        "PSETEX p 100000 v",
        "TTL p",
        "GETEX s",
        "GETEX s PERSIST",
        "TTL s",
        "GETEX s EX 50",
        "TTL s",
        "GETEX s PXAT 4102444800000",
        "PEXPIRETIME s",
        "GETEX s EX 0",
        "GETEX s PERSIST EX 1",
        "GETEX s EX 1 PX 1",
        "GETEX s KEEPTTL",
        "GETEX s NX",
        "GETEX nosuch EX 10",
        "GETEX",
        "GETEX s EXAT 1",
        "GET s",
        "EXISTS s",
        "EXPIRE e 10",
        "SET e v",
        "EXPIRE e 100",
        "TTL e",
        "EXPIRE e 200 NX",
        "EXPIRE e 200 XX",
        "TTL e",
        "EXPIRE e 100 GT",
        "EXPIRE e 300 GT",
        "EXPIRE e 200 GT XX",
        "EXPIRE e 400 LT",
        "EXPIRE e 50 lt",
        "TTL e",
        "EXPIRE e 10 XX LT",
        "TTL e",
        "EXPIRE e 10 NX XX",
        "EXPIRE e 10 GT LT",
        "EXPIRE e x GT LT",
        "EXPIRE e 10 foo",
        "EXPIRE e x",
        "EXPIRE e",
        "EXPIRE e 9223372036854775807",
        "PEXPIRE e 9223372036854775807",
        "EXPIREAT e 9223372036854775807",
        "PERSIST e",
        "PERSIST e",
        "TTL e",
        "PERSIST nosuch",
        "PERSIST",
        "EXPIRE e 100 LT",
        "TTL e",
        "EXPIRE e 200 GT",
        "PERSIST e",
        "EXPIRE e 100 GT",
        "EXPIRE e 100 XX",
        "EXPIREAT e 4102444800",
        "EXPIRETIME e",
        "PEXPIREAT e 4102444800999",
        "PEXPIRETIME e",
        "EXPIRETIME e",
        "EXPIREAT e 1",
        "EXISTS e",
        "TTL e",
        "SET e v",
        "PEXPIRE e -1",
        "GET e",
        "SET e v",
        "EXPIRE e 0",
        "EXISTS e",
        "SET e v",
        "PEXPIREAT e -10 LT",
        "EXISTS e",
        "INCR c",
        "EXPIRE c 100",
        "INCR c",
        "TTL c",
        "APPEND c x",
        "TTL c",
        "SETRANGE c 0 y",
        "SETBIT c 1 1",
        "TTL c",
        "GETSET c z",
        "TTL c",
        "SET c 5 EX 100",
        "SETNX c 6",
        "TTL c",
        "GETDEL c",
        "TTL c",
        "MSET c 1",
        "SET m 1 EX 100",
        "MSET m 2",
        "TTL m",
    ] {
        steps.push(step(line, Normalise::Exact));
    }
    for line in ["PTTL k", "PTTL p", "PTTL n1"] {
        steps.push(step(line, Normalise::NearestSecond));
    }
    assert_same_replies(steps);
}

/// MSETNX, RENAME, RENAMENX, COPY and BITOP on one node (every key has the same primary).
#[test]
fn multi_key_commands_match_redis() {
    assert_same_replies_on(
        &[Target::Memory, Target::Nodes(1)],
        &[],
        exact(&[
            "MSETNX a 1 b 2",
            "MGET a b",
            "MSETNX b 3 c 4",
            "MGET b c",
            "MSETNX c 5 c 6",
            "GET c",
            "MSETNX a",
            "MSETNX a 1 b",
            "SET t v EX 100",
            "RENAME t u",
            "TTL u",
            "GET u",
            "EXISTS t",
            "RENAME nosuch x",
            "RENAME u u",
            "RENAMENX u u",
            "RENAME nosuch nosuch",
            "RENAMENX u a",
            "RENAMENX u fresh",
            "TTL fresh",
            "RENAME a",
            "RENAME a b c",
            "COPY fresh copied",
            "TTL copied",
            "GET copied",
            "COPY fresh copied",
            "COPY fresh copied REPLACE",
            "COPY nosuch x",
            "COPY fresh fresh",
            "COPY nosuch nosuch",
            "COPY fresh y DB 0",
            "COPY fresh y DB 1",
            "COPY fresh y DB x",
            "COPY fresh y DB",
            "COPY fresh y bogus",
            "COPY a",
            "SET b1 abc",
            "SET b2 ab",
            "BITOP AND dest b1 b2",
            "GET dest",
            "BITOP or dest b1 b2 nosuch",
            "GET dest",
            "BITOP XOR dest b1 b2",
            "GET dest",
            "BITOP NOT dest b1",
            "GET dest",
            "BITOP NOT dest b1 b2",
            "BITOP NAND dest b1",
            "BITOP AND dest",
            "BITOP AND dest nosuch1 nosuch2",
            "EXISTS dest",
            "SET dest x EX 100",
            "BITOP OR dest b1",
            "TTL dest",
        ]),
    );
}

#[test]
fn keyspace_commands_match_redis() {
    let mut steps = exact(&[
        "MSET user:1 a user:2 b item:1 c User:3 d",
        "TYPE user:1",
        "TYPE nosuch",
        "TYPE",
        "TOUCH user:1 nosuch user:2",
        "TOUCH",
        "UNLINK item:1 nosuch",
        "UNLINK",
        "EXISTS item:1",
        "SCAN x",
        "SCAN 18446744073709551616",
        "SCAN 5x",
        "SCAN 0 COUNT 0",
        "SCAN 0 COUNT x",
        "SCAN 0 MATCH",
        "SCAN 0 bogus 1",
        "SCAN",
        "KEYS",
        "KEYS a b",
        "FLUSHALL bogus",
        "FLUSHALL ASYNC SYNC",
        "FLUSHDB bogus",
    ]);
    for line in [
        "KEYS *",
        "KEYS user:*",
        "KEYS [uU]ser:?",
        "KEYS nothing*",
        "SCAN 0 COUNT 1000",
        "SCAN +0 COUNT 1000",
        "SCAN 0 MATCH user:* COUNT 1000",
        "SCAN 0 COUNT 1000 TYPE string",
        "SCAN 0 COUNT 1000 TYPE list",
    ] {
        steps.push(step(line, Normalise::SortedKeys));
    }
    steps.extend(exact(&[
        "FLUSHALL",
        "RANDOMKEY",
        "DBSIZE",
        "GET user:1",
        "SET again 1",
        "FLUSHDB SYNC",
        "DBSIZE",
        "FLUSHALL ASYNC",
    ]));
    assert_same_replies(steps);
}

#[test]
fn connection_commands_match_redis() {
    let mut steps = vec![
        step("CLIENT ID", Normalise::ClientId),
        step("CLIENT INFO", Normalise::ClientLines),
        step("CLIENT LIST", Normalise::ClientLines),
        step("CLIENT LIST TYPE normal", Normalise::ClientLines),
    ];
    steps.extend(exact(&[
        "CLIENT",
        "CLIENT FOO",
        "CLIENT ID x",
        "CLIENT INFO x",
        "CLIENT GETNAME",
        "CLIENT GETNAME x",
        "CLIENT SETNAME bob",
        "CLIENT GETNAME",
        "CLIENT SETNAME a\tb",
        "CLIENT SETNAME",
        "CLIENT SETNAME a b",
        "CLIENT LIST TYPE pubsub",
        "CLIENT LIST TYPE bogus",
        "CLIENT LIST x",
        "CLIENT LIST ID 999999",
        "CLIENT LIST ID x",
        "CLIENT NO-EVICT on",
        "CLIENT NO-EVICT OFF",
        "CLIENT NO-EVICT maybe",
        "CLIENT NO-EVICT",
        "TIME x",
        "RESET x",
        "HELLO 4",
        "HELLO 1",
        "HELLO 0",
        "HELLO x",
        "HELLO 99999999999999999999",
        "HELLO 3 FOO",
        "HELLO 3 SETNAME",
        "HELLO 3 AUTH default",
        "HELLO 2 SETNAME a\nb",
        "AUTH x",
        "AUTH default x",
        "AUTH bob x",
        "AUTH a b c",
    ]));
    steps.push(step("CLIENT INFO", Normalise::ClientLines));
    steps.push(step("TIME", Normalise::Time));
    steps.push(step("HELLO", Normalise::Hello));
    steps.extend(exact(&[
        "CLIENT SETNAME ''",
        "CLIENT GETNAME",
        "CLIENT SETNAME x",
    ]));
    steps.push(step("HELLO 3 SETNAME named", Normalise::Hello));
    steps.extend(exact(&[
        "CLIENT GETNAME",
        "GET nosuch",
        "RESET",
        "CLIENT GETNAME",
    ]));
    steps.push(step("HELLO", Normalise::Hello));
    steps.extend(exact(&["GET nosuch", "MGET nosuch", "QUIT"]));
    assert_same_replies_on(&[Target::Memory, Target::Nodes(1)], &[], steps);
}

#[test]
fn config_and_command_introspection_match_redis() {
    let mut steps = exact(&[
        "CONFIG",
        "CONFIG FOO",
        "CONFIG GET",
        "CONFIG GET maxmemory",
        "CONFIG GET MAXMEMORY",
        "CONFIG GET nosuch",
        "COMMAND FOO",
        "COMMAND COUNT x",
        "COMMAND INFO get set del exists mget mset ping echo dbsize info quit select hello auth reset time nosuch",
        "COMMAND INFO GET",
        "COMMAND INFO setex psetex getex expire pexpire expireat pexpireat persist ttl pttl expiretime pexpiretime",
        "COMMAND INFO msetnx rename renamenx copy bitop",
        "COMMAND GETKEYS bitop and d a b",
        "COMMAND GETKEYS rename a b",
        "COMMAND GETKEYS msetnx a 1 b 2",
        "COMMAND GETKEYS expire k 10",
        "COMMAND GETKEYS setex k 10 v",
        "COMMAND GETKEYS get k",
        "COMMAND GETKEYS GET k",
        "COMMAND GETKEYS mset a 1 b 2",
        "COMMAND GETKEYS del a b c",
        "COMMAND GETKEYS exists a",
        "COMMAND GETKEYS get",
        "COMMAND GETKEYS get a b",
        "COMMAND GETKEYS mset a",
        "COMMAND GETKEYS ping x",
        "COMMAND GETKEYS client id",
        "COMMAND GETKEYS nosuch x",
        "COMMAND DOCS nosuch",
    ]);
    // `cluster-enabled` is compared with a cluster-enabled reference (`cluster_commands_...`).
    for pattern in [
        "CONFIG GET save appendonly databases maxmemory-policy",
        "CONFIG GET maxmemory*",
        "CONFIG GET max*memory* timeout",
        "CONFIG GET d?tabases [s]ave appendonl[a-z]",
        "CONFIG GET *memory-[cp]* max?lients",
    ] {
        steps.push(step(pattern, Normalise::SortedPairs));
    }
    steps.push(step(
        "COMMAND DOCS get set del exists mget mset ping echo dbsize info quit select hello auth reset time",
        Normalise::DocsFields,
    ));
    steps.push(step(
        "COMMAND DOCS incr decr incrby decrby append getdel strlen scan keys type touch unlink \
         flushall flushdb getrange substr setrange getbit setbit bitcount bitpos lcs randomkey \
         incrbyfloat \
         setex psetex getex expire pexpire expireat pexpireat persist ttl pttl expiretime \
         pexpiretime msetnx rename renamenx copy bitop",
        Normalise::DocsFields,
    ));
    assert_same_replies_on(&[Target::Memory, Target::Nodes(1)], &[], steps);
}

/// The cluster commands whose replies do not depend on the topology, against a redis-server
/// started with `--cluster-enabled yes` (its slots unassigned: these commands do not care).
#[test]
fn cluster_commands_match_redis() {
    let mut steps = exact(&[
        "CLUSTER KEYSLOT foo",
        "CLUSTER KEYSLOT {user1000}.following",
        "CLUSTER KEYSLOT foo{}{bar}",
        "CLUSTER KEYSLOT foo{{bar}}zap",
        "CLUSTER KEYSLOT {",
        "CLUSTER KEYSLOT",
        "CLUSTER KEYSLOT a b",
        "CLUSTER COUNTKEYSINSLOT 0",
        "CLUSTER COUNTKEYSINSLOT 16383",
        "CLUSTER COUNTKEYSINSLOT 16384",
        "CLUSTER COUNTKEYSINSLOT -1",
        "CLUSTER COUNTKEYSINSLOT x",
        "CLUSTER GETKEYSINSLOT 0 10",
        "CLUSTER GETKEYSINSLOT 1 -1",
        "CLUSTER GETKEYSINSLOT 16384 1",
        "CLUSTER GETKEYSINSLOT x 1",
        "CLUSTER GETKEYSINSLOT 1 x",
        "CLUSTER GETKEYSINSLOT 1",
        "CLUSTER NOSUCH",
        "CLUSTER",
        "READONLY",
        "READWRITE",
        "READONLY x",
        "ASKING",
        "ASKING x",
        "COMMAND INFO readonly readwrite asking",
        "COMMAND GETKEYS cluster keyslot foo",
    ]);
    for pattern in [
        "CONFIG GET save appendonly databases cluster-enabled maxmemory-policy",
        "CONFIG GET d?tabases [s]ave appendonl[a-z] CLUSTER-ENABLED",
    ] {
        steps.push(step(pattern, Normalise::SortedPairs));
    }
    steps.push(step(
        "COMMAND DOCS readonly readwrite asking",
        Normalise::DocsFields,
    ));
    assert_same_replies_on(&[Target::Memory], &["--cluster-enabled", "yes"], steps);
}

#[test]
fn authentication_matches_redis() {
    let redis = RedisServer::start(&["--requirepass", "s3cret"]);
    let dendrite = Dendrite::start(Some("s3cret"));
    let mut steps = exact(&[
        "GET k",
        "CLIENT ID",
        "PING",
        "FOO",
        "HELLO 3",
        "HELLO 2 AUTH default nope",
        "HELLO 3 AUTH bob s3cret",
        "AUTH nope",
    ]);
    steps.push(step("HELLO 3 AUTH default s3cret", Normalise::Hello));
    steps.extend(exact(&["GET k", "RESET", "GET k", "AUTH s3cret", "GET k"]));
    let found = differences(
        redis.addr,
        RawClient::connect(dendrite.addr),
        &steps,
        Sending::OneByOne,
    );
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// SAVE, BGSAVE and LASTSAVE on a node with a data directory, against a redis-server with its
/// own directory: the same reply shapes. (Without `--data-dir` these answer an error naming
/// it: docs/redis-compat.md, "Persistence commands".)
#[test]
fn persistence_commands_match_redis() {
    let mut steps = exact(&[
        "SET k v",
        "SAVE x",
        "LASTSAVE x",
        "BGSAVE now",
        "BGSAVE schedule x",
        "SAVE",
        "GET k",
        "COMMAND INFO save bgsave lastsave",
    ]);
    steps.push(step("LASTSAVE", Normalise::RecentUnixTime));
    steps.push(step(
        "COMMAND DOCS save bgsave lastsave",
        Normalise::DocsFields,
    ));
    // The last step: a second BGSAVE right after it would race the first one's end.
    steps.extend(exact(&["BGSAVE"]));
    assert_same_replies_on(&[Target::Durable], &[], steps);
}
