//! Replies captured from a real Redis 7.0.15 cluster (3 masters, 3 replicas, ports 31001-31006), byte for byte.
//!
//! Node ids: 31001 6e673699, 31002 63477c6b, 31003 195a7023, 31004 2fa05c2b, 31005 3fdb19f0, 31006 f219fce4.

/// `CLUSTER SHARDS`, RESP2, steady state.
pub(crate) const SHARDS_RESP2: &[u8] = b"*3\r\n\
    *4\r\n$5\r\nslots\r\n*2\r\n:10923\r\n:16383\r\n$5\r\nnodes\r\n*2\r\n\
    *14\r\n$2\r\nid\r\n$40\r\n195a70238fae24117ecea9db7321b2c9666adb71\r\n$4\r\nport\r\n:31003\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:70\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    *14\r\n$2\r\nid\r\n$40\r\n2fa05c2b6a850c989b92d1a865ad874c3dbb8be7\r\n$4\r\nport\r\n:31004\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:70\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    *4\r\n$5\r\nslots\r\n*2\r\n:5461\r\n:10922\r\n$5\r\nnodes\r\n*2\r\n\
    *14\r\n$2\r\nid\r\n$40\r\n63477c6b4e9b4b86dfbbebde1005debceafd3bd5\r\n$4\r\nport\r\n:31002\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:70\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    *14\r\n$2\r\nid\r\n$40\r\nf219fce4d4393110f6bbcfd522d9c0c6e60cad6e\r\n$4\r\nport\r\n:31006\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:70\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    *4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:5460\r\n$5\r\nnodes\r\n*2\r\n\
    *14\r\n$2\r\nid\r\n$40\r\n6e673699dc09bef19b8aba9b3349d049a6619b65\r\n$4\r\nport\r\n:31001\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:70\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    *14\r\n$2\r\nid\r\n$40\r\n3fdb19f0a2796cf6eb72a3555860a89ac6212a88\r\n$4\r\nport\r\n:31005\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:70\r\n$6\r\nhealth\r\n$6\r\nonline\r\n";

/// `CLUSTER SHARDS`, RESP3 (after `HELLO 3`), steady state.
pub(crate) const SHARDS_RESP3: &[u8] = b"*3\r\n\
    %2\r\n$5\r\nslots\r\n*2\r\n:10923\r\n:16383\r\n$5\r\nnodes\r\n*2\r\n\
    %7\r\n$2\r\nid\r\n$40\r\n195a70238fae24117ecea9db7321b2c9666adb71\r\n$4\r\nport\r\n:31003\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:70\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    %7\r\n$2\r\nid\r\n$40\r\n2fa05c2b6a850c989b92d1a865ad874c3dbb8be7\r\n$4\r\nport\r\n:31004\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:70\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    %2\r\n$5\r\nslots\r\n*2\r\n:5461\r\n:10922\r\n$5\r\nnodes\r\n*2\r\n\
    %7\r\n$2\r\nid\r\n$40\r\n63477c6b4e9b4b86dfbbebde1005debceafd3bd5\r\n$4\r\nport\r\n:31002\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:70\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    %7\r\n$2\r\nid\r\n$40\r\nf219fce4d4393110f6bbcfd522d9c0c6e60cad6e\r\n$4\r\nport\r\n:31006\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:70\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    %2\r\n$5\r\nslots\r\n*2\r\n:0\r\n:5460\r\n$5\r\nnodes\r\n*2\r\n\
    %7\r\n$2\r\nid\r\n$40\r\n6e673699dc09bef19b8aba9b3349d049a6619b65\r\n$4\r\nport\r\n:31001\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:70\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    %7\r\n$2\r\nid\r\n$40\r\n3fdb19f0a2796cf6eb72a3555860a89ac6212a88\r\n$4\r\nport\r\n:31005\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:70\r\n$6\r\nhealth\r\n$6\r\nonline\r\n";

/// `CLUSTER SLOTS`, RESP2, steady state.
pub(crate) const SLOTS_RESP2: &[u8] = b"*3\r\n\
    *4\r\n:0\r\n:5460\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31001\r\n$40\r\n6e673699dc09bef19b8aba9b3349d049a6619b65\r\n*0\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31005\r\n$40\r\n3fdb19f0a2796cf6eb72a3555860a89ac6212a88\r\n*0\r\n\
    *4\r\n:5461\r\n:10922\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31002\r\n$40\r\n63477c6b4e9b4b86dfbbebde1005debceafd3bd5\r\n*0\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31006\r\n$40\r\nf219fce4d4393110f6bbcfd522d9c0c6e60cad6e\r\n*0\r\n\
    *4\r\n:10923\r\n:16383\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31003\r\n$40\r\n195a70238fae24117ecea9db7321b2c9666adb71\r\n*0\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31004\r\n$40\r\n2fa05c2b6a850c989b92d1a865ad874c3dbb8be7\r\n*0\r\n";

/// `CLUSTER SLOTS`, RESP3, steady state.
pub(crate) const SLOTS_RESP3: &[u8] = b"*3\r\n\
    *4\r\n:0\r\n:5460\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31001\r\n$40\r\n6e673699dc09bef19b8aba9b3349d049a6619b65\r\n%0\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31005\r\n$40\r\n3fdb19f0a2796cf6eb72a3555860a89ac6212a88\r\n%0\r\n\
    *4\r\n:5461\r\n:10922\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31002\r\n$40\r\n63477c6b4e9b4b86dfbbebde1005debceafd3bd5\r\n%0\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31006\r\n$40\r\nf219fce4d4393110f6bbcfd522d9c0c6e60cad6e\r\n%0\r\n\
    *4\r\n:10923\r\n:16383\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31003\r\n$40\r\n195a70238fae24117ecea9db7321b2c9666adb71\r\n%0\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31004\r\n$40\r\n2fa05c2b6a850c989b92d1a865ad874c3dbb8be7\r\n%0\r\n";

/// `CLUSTER SHARDS`, RESP3, right after `redis-cli --cluster create`: replicas still `loading`.
pub(crate) const SHARDS_RESP3_JUST_CREATED: &[u8] = b"*3\r\n\
    %2\r\n$5\r\nslots\r\n*2\r\n:10923\r\n:16383\r\n$5\r\nnodes\r\n*2\r\n\
    %7\r\n$2\r\nid\r\n$40\r\n195a70238fae24117ecea9db7321b2c9666adb71\r\n$4\r\nport\r\n:31003\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:0\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    %7\r\n$2\r\nid\r\n$40\r\n2fa05c2b6a850c989b92d1a865ad874c3dbb8be7\r\n$4\r\nport\r\n:31004\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:0\r\n$6\r\nhealth\r\n$7\r\nloading\r\n\
    %2\r\n$5\r\nslots\r\n*2\r\n:5461\r\n:10922\r\n$5\r\nnodes\r\n*2\r\n\
    %7\r\n$2\r\nid\r\n$40\r\n63477c6b4e9b4b86dfbbebde1005debceafd3bd5\r\n$4\r\nport\r\n:31002\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:0\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    %7\r\n$2\r\nid\r\n$40\r\nf219fce4d4393110f6bbcfd522d9c0c6e60cad6e\r\n$4\r\nport\r\n:31006\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:0\r\n$6\r\nhealth\r\n$7\r\nloading\r\n\
    %2\r\n$5\r\nslots\r\n*2\r\n:0\r\n:5460\r\n$5\r\nnodes\r\n*2\r\n\
    %7\r\n$2\r\nid\r\n$40\r\n6e673699dc09bef19b8aba9b3349d049a6619b65\r\n$4\r\nport\r\n:31001\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:0\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    %7\r\n$2\r\nid\r\n$40\r\n3fdb19f0a2796cf6eb72a3555860a89ac6212a88\r\n$4\r\nport\r\n:31005\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:0\r\n$6\r\nhealth\r\n$7\r\nloading\r\n";

/// `CLUSTER SLOTS`, RESP2, right after create: no replica listed yet.
pub(crate) const SLOTS_RESP2_JUST_CREATED: &[u8] = b"*3\r\n\
    *3\r\n:0\r\n:5460\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31001\r\n$40\r\n6e673699dc09bef19b8aba9b3349d049a6619b65\r\n*0\r\n\
    *3\r\n:5461\r\n:10922\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31002\r\n$40\r\n63477c6b4e9b4b86dfbbebde1005debceafd3bd5\r\n*0\r\n\
    *3\r\n:10923\r\n:16383\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31003\r\n$40\r\n195a70238fae24117ecea9db7321b2c9666adb71\r\n*0\r\n";

/// `CLUSTER SHARDS`, RESP3, `cluster-preferred-endpoint-type hostname`; 31006 announced no hostname (`?`).
pub(crate) const SHARDS_RESP3_HOSTNAMES: &[u8] = b"*3\r\n\
    %2\r\n$5\r\nslots\r\n*2\r\n:10923\r\n:16383\r\n$5\r\nnodes\r\n*2\r\n\
    %8\r\n$2\r\nid\r\n$40\r\n195a70238fae24117ecea9db7321b2c9666adb71\r\n$4\r\nport\r\n:31003\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$15\r\nnode-31003.test\r\n$8\r\nhostname\r\n$15\r\nnode-31003.test\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:168\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    %8\r\n$2\r\nid\r\n$40\r\n2fa05c2b6a850c989b92d1a865ad874c3dbb8be7\r\n$4\r\nport\r\n:31004\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$15\r\nnode-31004.test\r\n$8\r\nhostname\r\n$15\r\nnode-31004.test\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:168\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    %2\r\n$5\r\nslots\r\n*2\r\n:5461\r\n:10922\r\n$5\r\nnodes\r\n*2\r\n\
    %8\r\n$2\r\nid\r\n$40\r\n63477c6b4e9b4b86dfbbebde1005debceafd3bd5\r\n$4\r\nport\r\n:31002\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$15\r\nnode-31002.test\r\n$8\r\nhostname\r\n$15\r\nnode-31002.test\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:168\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    %7\r\n$2\r\nid\r\n$40\r\nf219fce4d4393110f6bbcfd522d9c0c6e60cad6e\r\n$4\r\nport\r\n:31006\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$1\r\n?\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:168\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    %2\r\n$5\r\nslots\r\n*2\r\n:0\r\n:5460\r\n$5\r\nnodes\r\n*2\r\n\
    %8\r\n$2\r\nid\r\n$40\r\n6e673699dc09bef19b8aba9b3349d049a6619b65\r\n$4\r\nport\r\n:31001\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$15\r\nnode-31001.test\r\n$8\r\nhostname\r\n$15\r\nnode-31001.test\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:168\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    %8\r\n$2\r\nid\r\n$40\r\n3fdb19f0a2796cf6eb72a3555860a89ac6212a88\r\n$4\r\nport\r\n:31005\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$15\r\nnode-31005.test\r\n$8\r\nhostname\r\n$15\r\nnode-31005.test\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:168\r\n$6\r\nhealth\r\n$6\r\nonline\r\n";

/// `CLUSTER SLOTS`, RESP2, hostnames preferred; 31006 is `?`.
pub(crate) const SLOTS_RESP2_HOSTNAMES: &[u8] = b"*3\r\n\
    *4\r\n:0\r\n:5460\r\n\
    *4\r\n$15\r\nnode-31001.test\r\n:31001\r\n$40\r\n6e673699dc09bef19b8aba9b3349d049a6619b65\r\n*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
    *4\r\n$15\r\nnode-31005.test\r\n:31005\r\n$40\r\n3fdb19f0a2796cf6eb72a3555860a89ac6212a88\r\n*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
    *4\r\n:5461\r\n:10922\r\n\
    *4\r\n$15\r\nnode-31002.test\r\n:31002\r\n$40\r\n63477c6b4e9b4b86dfbbebde1005debceafd3bd5\r\n*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
    *4\r\n$1\r\n?\r\n:31006\r\n$40\r\nf219fce4d4393110f6bbcfd522d9c0c6e60cad6e\r\n*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
    *4\r\n:10923\r\n:16383\r\n\
    *4\r\n$15\r\nnode-31003.test\r\n:31003\r\n$40\r\n195a70238fae24117ecea9db7321b2c9666adb71\r\n*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
    *4\r\n$15\r\nnode-31004.test\r\n:31004\r\n$40\r\n2fa05c2b6a850c989b92d1a865ad874c3dbb8be7\r\n*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n";

/// `CLUSTER SLOTS`, RESP3, hostnames preferred; metadata is a map.
pub(crate) const SLOTS_RESP3_HOSTNAMES: &[u8] = b"*3\r\n\
    *4\r\n:0\r\n:5460\r\n\
    *4\r\n$15\r\nnode-31001.test\r\n:31001\r\n$40\r\n6e673699dc09bef19b8aba9b3349d049a6619b65\r\n%1\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
    *4\r\n$15\r\nnode-31005.test\r\n:31005\r\n$40\r\n3fdb19f0a2796cf6eb72a3555860a89ac6212a88\r\n%1\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
    *4\r\n:5461\r\n:10922\r\n\
    *4\r\n$15\r\nnode-31002.test\r\n:31002\r\n$40\r\n63477c6b4e9b4b86dfbbebde1005debceafd3bd5\r\n%1\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
    *4\r\n$1\r\n?\r\n:31006\r\n$40\r\nf219fce4d4393110f6bbcfd522d9c0c6e60cad6e\r\n%1\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
    *4\r\n:10923\r\n:16383\r\n\
    *4\r\n$15\r\nnode-31003.test\r\n:31003\r\n$40\r\n195a70238fae24117ecea9db7321b2c9666adb71\r\n%1\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
    *4\r\n$15\r\nnode-31004.test\r\n:31004\r\n$40\r\n2fa05c2b6a850c989b92d1a865ad874c3dbb8be7\r\n%1\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n";

/// `CLUSTER SHARDS`, RESP2, `cluster-preferred-endpoint-type unknown-endpoint`: empty `endpoint`.
pub(crate) const SHARDS_RESP2_UNKNOWN_ENDPOINT: &[u8] = b"*3\r\n\
    *4\r\n$5\r\nslots\r\n*2\r\n:10923\r\n:16383\r\n$5\r\nnodes\r\n*2\r\n\
    *16\r\n$2\r\nid\r\n$40\r\n195a70238fae24117ecea9db7321b2c9666adb71\r\n$4\r\nport\r\n:31003\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$0\r\n\r\n$8\r\nhostname\r\n$15\r\nnode-31003.test\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:168\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    *16\r\n$2\r\nid\r\n$40\r\n2fa05c2b6a850c989b92d1a865ad874c3dbb8be7\r\n$4\r\nport\r\n:31004\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$0\r\n\r\n$8\r\nhostname\r\n$15\r\nnode-31004.test\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:168\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    *4\r\n$5\r\nslots\r\n*2\r\n:5461\r\n:10922\r\n$5\r\nnodes\r\n*2\r\n\
    *16\r\n$2\r\nid\r\n$40\r\n63477c6b4e9b4b86dfbbebde1005debceafd3bd5\r\n$4\r\nport\r\n:31002\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$0\r\n\r\n$8\r\nhostname\r\n$15\r\nnode-31002.test\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:168\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    *14\r\n$2\r\nid\r\n$40\r\nf219fce4d4393110f6bbcfd522d9c0c6e60cad6e\r\n$4\r\nport\r\n:31006\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$0\r\n\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:168\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    *4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:5460\r\n$5\r\nnodes\r\n*2\r\n\
    *16\r\n$2\r\nid\r\n$40\r\n6e673699dc09bef19b8aba9b3349d049a6619b65\r\n$4\r\nport\r\n:31001\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$0\r\n\r\n$8\r\nhostname\r\n$15\r\nnode-31001.test\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:168\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    *16\r\n$2\r\nid\r\n$40\r\n3fdb19f0a2796cf6eb72a3555860a89ac6212a88\r\n$4\r\nport\r\n:31005\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$0\r\n\r\n$8\r\nhostname\r\n$15\r\nnode-31005.test\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:168\r\n$6\r\nhealth\r\n$6\r\nonline\r\n";

/// `CLUSTER SLOTS`, RESP3, `unknown-endpoint`: null endpoint (`_`).
pub(crate) const SLOTS_RESP3_UNKNOWN_ENDPOINT: &[u8] = b"*3\r\n\
    *4\r\n:0\r\n:5460\r\n*4\r\n_\r\n:31001\r\n$40\r\n6e673699dc09bef19b8aba9b3349d049a6619b65\r\n\
    %2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31001.test\r\n*4\r\n_\r\n:31005\r\n$40\r\n3fdb19f0a2796cf6eb72a3555860a89ac6212a88\r\n\
    %2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31005.test\r\n\
    *4\r\n:5461\r\n:10922\r\n*4\r\n_\r\n:31002\r\n$40\r\n63477c6b4e9b4b86dfbbebde1005debceafd3bd5\r\n\
    %2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31002.test\r\n*4\r\n_\r\n:31006\r\n$40\r\nf219fce4d4393110f6bbcfd522d9c0c6e60cad6e\r\n%1\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
    *4\r\n:10923\r\n:16383\r\n*4\r\n_\r\n:31003\r\n$40\r\n195a70238fae24117ecea9db7321b2c9666adb71\r\n\
    %2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31003.test\r\n*4\r\n_\r\n:31004\r\n$40\r\n2fa05c2b6a850c989b92d1a865ad874c3dbb8be7\r\n\
    %2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31004.test\r\n";

/// `CLUSTER SLOTS`, RESP2, `unknown-endpoint`: null endpoint (`$-1`).
pub(crate) const SLOTS_RESP2_UNKNOWN_ENDPOINT: &[u8] = b"*3\r\n\
    *4\r\n:0\r\n:5460\r\n\
    *4\r\n$-1\r\n:31001\r\n$40\r\n6e673699dc09bef19b8aba9b3349d049a6619b65\r\n\
    *4\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31001.test\r\n\
    *4\r\n$-1\r\n:31005\r\n$40\r\n3fdb19f0a2796cf6eb72a3555860a89ac6212a88\r\n\
    *4\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31005.test\r\n\
    *4\r\n:5461\r\n:10922\r\n\
    *4\r\n$-1\r\n:31002\r\n$40\r\n63477c6b4e9b4b86dfbbebde1005debceafd3bd5\r\n\
    *4\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31002.test\r\n\
    *4\r\n$-1\r\n:31006\r\n$40\r\nf219fce4d4393110f6bbcfd522d9c0c6e60cad6e\r\n*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
    *4\r\n:10923\r\n:16383\r\n\
    *4\r\n$-1\r\n:31003\r\n$40\r\n195a70238fae24117ecea9db7321b2c9666adb71\r\n\
    *4\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31003.test\r\n\
    *4\r\n$-1\r\n:31004\r\n$40\r\n2fa05c2b6a850c989b92d1a865ad874c3dbb8be7\r\n\
    *4\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31004.test\r\n";

/// `CLUSTER SHARDS`, RESP2, 3 s after SIGKILL of replica 31006: `health fail`.
pub(crate) const SHARDS_RESP2_FAILED_REPLICA: &[u8] = b"*3\r\n\
    *4\r\n$5\r\nslots\r\n*2\r\n:10923\r\n:16383\r\n$5\r\nnodes\r\n*2\r\n\
    *16\r\n$2\r\nid\r\n$40\r\n195a70238fae24117ecea9db7321b2c9666adb71\r\n$4\r\nport\r\n:31003\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31003.test\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:182\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    *16\r\n$2\r\nid\r\n$40\r\n2fa05c2b6a850c989b92d1a865ad874c3dbb8be7\r\n$4\r\nport\r\n:31004\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31004.test\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:182\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    *4\r\n$5\r\nslots\r\n*2\r\n:5461\r\n:10922\r\n$5\r\nnodes\r\n*2\r\n\
    *16\r\n$2\r\nid\r\n$40\r\n63477c6b4e9b4b86dfbbebde1005debceafd3bd5\r\n$4\r\nport\r\n:31002\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31002.test\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:182\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    *14\r\n$2\r\nid\r\n$40\r\nf219fce4d4393110f6bbcfd522d9c0c6e60cad6e\r\n$4\r\nport\r\n:31006\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:182\r\n$6\r\nhealth\r\n$4\r\nfail\r\n\
    *4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:5460\r\n$5\r\nnodes\r\n*2\r\n\
    *16\r\n$2\r\nid\r\n$40\r\n6e673699dc09bef19b8aba9b3349d049a6619b65\r\n$4\r\nport\r\n:31001\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31001.test\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:182\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    *16\r\n$2\r\nid\r\n$40\r\n3fdb19f0a2796cf6eb72a3555860a89ac6212a88\r\n$4\r\nport\r\n:31005\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31005.test\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:182\r\n$6\r\nhealth\r\n$6\r\nonline\r\n";

/// `CLUSTER SLOTS`, RESP2, same moment: the failed replica is left out.
pub(crate) const SLOTS_RESP2_FAILED_REPLICA: &[u8] = b"*3\r\n\
    *4\r\n:0\r\n:5460\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31001\r\n$40\r\n6e673699dc09bef19b8aba9b3349d049a6619b65\r\n*2\r\n$8\r\nhostname\r\n$15\r\nnode-31001.test\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31005\r\n$40\r\n3fdb19f0a2796cf6eb72a3555860a89ac6212a88\r\n*2\r\n$8\r\nhostname\r\n$15\r\nnode-31005.test\r\n\
    *3\r\n:5461\r\n:10922\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31002\r\n$40\r\n63477c6b4e9b4b86dfbbebde1005debceafd3bd5\r\n*2\r\n$8\r\nhostname\r\n$15\r\nnode-31002.test\r\n\
    *4\r\n:10923\r\n:16383\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31003\r\n$40\r\n195a70238fae24117ecea9db7321b2c9666adb71\r\n*2\r\n$8\r\nhostname\r\n$15\r\nnode-31003.test\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31004\r\n$40\r\n2fa05c2b6a850c989b92d1a865ad874c3dbb8be7\r\n*2\r\n$8\r\nhostname\r\n$15\r\nnode-31004.test\r\n";

/// `CLUSTER SHARDS`, RESP3, after SIGKILL of master 31003: 31004 promoted, 31003 a failed slot-less master.
pub(crate) const SHARDS_RESP3_AFTER_FAILOVER: &[u8] = b"*4\r\n\
    %2\r\n$5\r\nslots\r\n*2\r\n:10923\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n\
    %8\r\n$2\r\nid\r\n$40\r\n2fa05c2b6a850c989b92d1a865ad874c3dbb8be7\r\n$4\r\nport\r\n:31004\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31004.test\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:196\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    %2\r\n$5\r\nslots\r\n*0\r\n$5\r\nnodes\r\n*1\r\n\
    %8\r\n$2\r\nid\r\n$40\r\n195a70238fae24117ecea9db7321b2c9666adb71\r\n$4\r\nport\r\n:31003\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31003.test\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:196\r\n$6\r\nhealth\r\n$4\r\nfail\r\n\
    %2\r\n$5\r\nslots\r\n*2\r\n:5461\r\n:10922\r\n$5\r\nnodes\r\n*2\r\n\
    %8\r\n$2\r\nid\r\n$40\r\n63477c6b4e9b4b86dfbbebde1005debceafd3bd5\r\n$4\r\nport\r\n:31002\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31002.test\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:182\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    %7\r\n$2\r\nid\r\n$40\r\nf219fce4d4393110f6bbcfd522d9c0c6e60cad6e\r\n$4\r\nport\r\n:31006\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:182\r\n$6\r\nhealth\r\n$4\r\nfail\r\n\
    %2\r\n$5\r\nslots\r\n*2\r\n:0\r\n:5460\r\n$5\r\nnodes\r\n*2\r\n\
    %8\r\n$2\r\nid\r\n$40\r\n6e673699dc09bef19b8aba9b3349d049a6619b65\r\n$4\r\nport\r\n:31001\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31001.test\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:196\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
    %8\r\n$2\r\nid\r\n$40\r\n3fdb19f0a2796cf6eb72a3555860a89ac6212a88\r\n$4\r\nport\r\n:31005\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$15\r\nnode-31005.test\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:196\r\n$6\r\nhealth\r\n$6\r\nonline\r\n";

/// `CLUSTER SLOTS`, RESP2, same moment.
pub(crate) const SLOTS_RESP2_AFTER_FAILOVER: &[u8] = b"*3\r\n\
    *4\r\n:0\r\n:5460\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31001\r\n$40\r\n6e673699dc09bef19b8aba9b3349d049a6619b65\r\n*2\r\n$8\r\nhostname\r\n$15\r\nnode-31001.test\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31005\r\n$40\r\n3fdb19f0a2796cf6eb72a3555860a89ac6212a88\r\n*2\r\n$8\r\nhostname\r\n$15\r\nnode-31005.test\r\n\
    *3\r\n:5461\r\n:10922\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31002\r\n$40\r\n63477c6b4e9b4b86dfbbebde1005debceafd3bd5\r\n*2\r\n$8\r\nhostname\r\n$15\r\nnode-31002.test\r\n\
    *3\r\n:10923\r\n:16383\r\n\
    *4\r\n$9\r\n127.0.0.1\r\n:31004\r\n$40\r\n2fa05c2b6a850c989b92d1a865ad874c3dbb8be7\r\n*2\r\n$8\r\nhostname\r\n$15\r\nnode-31004.test\r\n";
