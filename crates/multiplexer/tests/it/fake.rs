//! Byte-exact cases against a scripted fake server: what a real server cannot be made to send.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use multiplexer::{ConnectionConfig, ErrorKind, Multiplexer, ProtocolVersion};
use resp_codec::{Decoder, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use crate::{bounded, bulk, cmd, eventually};

/// One accepted connection of the fake server.
struct FakeConn {
    stream: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
}

impl FakeConn {
    /// Reads one command and returns its arguments as strings.
    async fn read_command(&mut self) -> Vec<String> {
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.buf).unwrap() {
                return arguments(frame);
            }
            let n = self.stream.read_buf(&mut self.buf).await.unwrap();
            assert!(n > 0, "client closed the connection");
        }
    }

    /// Reads commands until the client closes the connection, and returns them.
    async fn commands_until_eof(&mut self) -> Vec<Vec<String>> {
        let mut commands = Vec::new();
        loop {
            while let Some(frame) = self.decoder.decode(&mut self.buf).unwrap() {
                commands.push(arguments(frame));
            }
            // A reset counts as the end too: the client is gone either way.
            if self.stream.read_buf(&mut self.buf).await.unwrap_or(0) == 0 {
                return commands;
            }
        }
    }

    async fn expect(&mut self, args: &[&str]) {
        assert_eq!(self.read_command().await, args);
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The RESP3 handshake for a config without AUTH or name.
    async fn hello3(&mut self) {
        self.expect(&["HELLO", "3"]).await;
        self.write(b"%1\r\n+server\r\n+fake\r\n").await;
    }
}

/// A command's arguments as strings.
fn arguments(frame: Frame) -> Vec<String> {
    let Frame::Array(args) = frame else {
        panic!("commands are arrays: {frame:?}")
    };
    args.into_iter()
        .map(|a| match a {
            Frame::BulkString(b) => String::from_utf8(b.to_vec()).unwrap(),
            other => panic!("arguments are bulk strings: {other:?}"),
        })
        .collect()
}

/// Starts a fake server that runs `script` on each accepted connection in turn (connection 0, 1, ...).
async fn fake<F, Fut>(script: F) -> String
where
    F: Fn(usize, FakeConn) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        for n in 0.. {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let conn = FakeConn {
                stream,
                buf: BytesMut::new(),
                decoder: Decoder::new(),
            };
            tokio::spawn(script(n, conn));
        }
    });
    addr
}

fn config(addr: &str) -> ConnectionConfig {
    ConnectionConfig::new(addr)
        .command_timeout(Duration::from_secs(5))
        .reconnect_backoff_max(Duration::from_millis(50))
}

/// Sends `n` GETs (keys k0, k1, ...) as one batch (so they are all written before the fake answers)
/// and returns results.
async fn batch_of(mux: &Multiplexer, n: usize) -> Vec<Result<Frame, multiplexer::Error>> {
    let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
    batch_of_keys(mux, &keys).await
}

/// Sends a GET of each key as one batch and returns results.
async fn batch_of_keys(
    mux: &Multiplexer,
    keys: &[String],
) -> Vec<Result<Frame, multiplexer::Error>> {
    let cmds: Vec<_> = keys.iter().map(|k| cmd(["GET", k.as_str()])).collect();
    mux.send_batch(&cmds, Instant::now() + Duration::from_secs(5))
        .await
}

/// Drives the fake through `n` GETs and then `reply`, and checks each caller's result kind.
async fn check(reply: &'static [u8], expected: &[Result<Frame, ErrorKind>]) -> Multiplexer {
    let n = expected.len();
    let addr = fake(move |i, mut c| async move {
        c.hello3().await;
        if i == 0 {
            for k in 0..n {
                c.expect(&["GET", &format!("k{k}")]).await;
            }
            c.write(reply).await;
            // Hold the connection open: the client must act on the bytes, not on EOF.
            tokio::time::sleep(Duration::from_secs(30)).await;
        } else {
            // Later connections (after the client resets) answer PING.
            c.expect(&["PING"]).await;
            c.write(b"+PONG\r\n").await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    })
    .await;
    let mux = Multiplexer::connect(config(&addr)).await.unwrap();
    let got = batch_of(&mux, n).await;
    let got: Vec<Result<Frame, ErrorKind>> =
        got.into_iter().map(|r| r.map_err(|e| e.kind())).collect();
    assert_eq!(
        got,
        expected,
        "reply bytes {:?}",
        String::from_utf8_lossy(reply)
    );
    mux
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_reply_is_a_protocol_error_for_everyone_in_flight() {
    bounded(Duration::from_secs(20), async {
        let ok = Ok(Frame::SimpleString("OK".into()));
        let proto = Err(ErrorKind::Protocol);
        let mux = check(
            b"+OK\r\n?garbage\r\n",
            &[ok.clone(), proto.clone(), proto.clone()],
        )
        .await;
        assert_eq!(mux.stats().protocol_errors, 1);
        // The connection was reset and comes back.
        eventually(|| mux.stats().reconnects == 1).await;
        assert_eq!(
            mux.send(&cmd(["PING"])).await.unwrap(),
            Frame::SimpleString("PONG".into())
        );
        // A reply nobody asked for is a protocol error too.
        check(b"+OK\r\n:1\r\n:2\r\n", &[ok.clone(), Ok(Frame::Integer(1))]).await;
        // A length that is not a number.
        check(b"$x\r\n", &[proto]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_reply_fails_at_the_reply_bound_instead_of_filling_memory() {
    // A broken server declares a huge array and streams elements forever.
    bounded(Duration::from_secs(20), async {
        let streamed = Arc::new(AtomicUsize::new(0));
        let counter = streamed.clone();
        let addr = fake(move |i, mut c| {
            let counter = counter.clone();
            async move {
                c.hello3().await;
                if i > 0 {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                }
                c.expect(&["GET", "k0"]).await;
                c.write(b"*2147483647\r\n").await;
                let chunk = b":1\r\n".repeat(1024);
                // Until the client hangs up; bounded so the script ends by itself.
                for _ in 0..100_000 {
                    if c.stream.write_all(&chunk).await.is_err() {
                        return;
                    }
                    counter.fetch_add(chunk.len(), Ordering::Relaxed);
                }
            }
        })
        .await;
        let mux = Multiplexer::connect(config(&addr).max_reply_bytes(64 * 1024))
            .await
            .unwrap();
        let got = batch_of(&mux, 1).await;
        let kinds: Vec<_> = got.into_iter().map(|r| r.map_err(|e| e.kind())).collect();
        assert_eq!(kinds, [Err(ErrorKind::Protocol)]);
        assert_eq!(mux.stats().protocol_errors, 1);
        // The client stopped reading near the bound: what the server got through is the bound plus
        // the sockets' buffers, far from the 400 MiB it would have streamed.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sent = streamed.load(Ordering::Relaxed);
        assert!(sent < 32 * 1024 * 1024, "{sent} bytes streamed");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_frames_are_never_matched_to_callers() {
    bounded(Duration::from_secs(20), async {
        let mux = check(
            b">2\r\n+invalidate\r\n*1\r\n$1\r\nk\r\n+OK\r\n>1\r\n+x\r\n:5\r\n>1\r\n+y\r\n",
            &[Ok(Frame::SimpleString("OK".into())), Ok(Frame::Integer(5))],
        )
        .await;
        eventually(|| mux.stats().push_frames == 3).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mid_frame_disconnect_fails_in_flight_as_indeterminate() {
    bounded(Duration::from_secs(20), async {
        let addr = fake(|i, mut c| async move {
            c.hello3().await;
            if i == 0 {
                c.expect(&["GET", "k0"]).await;
                c.expect(&["GET", "k1"]).await;
                c.write(b"$5\r\nhello\r\n$10\r\nhel").await;
                // Dropping the connection mid-frame.
            } else {
                c.expect(&["PING"]).await;
                c.write(b"+PONG\r\n").await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        })
        .await;
        let mux = Multiplexer::connect(config(&addr)).await.unwrap();
        let got = batch_of(&mux, 2).await;
        assert_eq!(got[0].as_ref().unwrap(), &bulk("hello"));
        let err = got[1].as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionIndeterminate, "{err}");
        assert!(err.may_have_been_sent());
        eventually(|| mux.is_connected() && mux.stats().reconnects == 1).await;
        assert_eq!(
            mux.send(&cmd(["PING"])).await.unwrap(),
            Frame::SimpleString("PONG".into())
        );
    })
    .await;
}

/// Commands still queued (never written because of the in-flight bound) fail as not sent; the one
/// written fails as indeterminate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_commands_fail_as_not_sent() {
    bounded(Duration::from_secs(20), async {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let rx = std::sync::Mutex::new(Some(rx));
        let addr = fake(move |_, mut c| {
            let rx = rx.lock().unwrap().take();
            async move {
                c.hello3().await;
                c.expect(&["GET", "first"]).await;
                // Close only once the other commands are queued behind the in-flight bound.
                if let Some(rx) = rx {
                    let _ = rx.await;
                }
            }
        })
        .await;
        let mux = Multiplexer::connect(config(&addr).max_in_flight(1))
            .await
            .unwrap();
        let first = {
            let mux = mux.clone();
            tokio::spawn(async move { mux.send(&cmd(["GET", "first"])).await })
        };
        eventually(|| mux.in_flight() == 1).await;
        let rest: Vec<_> = (0..3)
            .map(|_| {
                let mux = mux.clone();
                tokio::spawn(async move { mux.send(&cmd(["GET", "queued"])).await })
            })
            .collect();
        eventually(|| mux.in_flight() == 4).await;
        tx.send(()).unwrap();
        let err = first.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionIndeterminate, "{err}");
        for task in rest {
            let err = task.await.unwrap().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionNotSent, "{err}");
            assert!(!err.may_have_been_sent());
        }
    })
    .await;
}

/// A batch dropped while it awaits its replies, after taking none, one or two of its three, gives every
/// other slot back once its reply arrives (none kept, none returned twice), and the next command gets
/// its own reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_batch_gives_back_every_slot() {
    bounded(Duration::from_secs(20), async {
        for taken in 0..3usize {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let rx = std::sync::Mutex::new(Some(rx));
            let addr = fake(move |_, mut c| {
                let rx = rx.lock().unwrap().take();
                async move {
                    c.hello3().await;
                    for k in 0..3 {
                        c.expect(&["GET", &format!("k{k}")]).await;
                    }
                    for k in 0..taken {
                        c.write(format!("$2\r\nv{k}\r\n").as_bytes()).await;
                    }
                    // The rest only once the caller has gone.
                    if let Some(rx) = rx {
                        let _ = rx.await;
                    }
                    for k in taken..3 {
                        c.write(format!("$2\r\nv{k}\r\n").as_bytes()).await;
                    }
                    c.expect(&["PING"]).await;
                    c.write(b"+PONG\r\n").await;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            })
            .await;
            let mux = Multiplexer::connect(config(&addr)).await.unwrap();
            // Boxed, so that `drop` below drops the future itself (not a pinned reference to it).
            let mut batch = Box::pin(batch_of(&mux, 3));
            // Poll until the first `taken` replies are taken and the batch awaits the next one.
            let started = std::time::Instant::now();
            while mux.in_flight() != 3 - taken {
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "taken {taken}: in flight {}",
                    mux.in_flight()
                );
                let polled = tokio::time::timeout(Duration::from_millis(5), &mut batch).await;
                assert!(polled.is_err(), "taken {taken}: the batch cannot finish");
            }
            drop(batch);
            assert_eq!(mux.in_flight(), 3 - taken, "taken {taken}");
            tx.send(()).unwrap();
            eventually(|| mux.in_flight() == 0).await;
            assert_eq!(
                mux.send(&cmd(["PING"])).await.unwrap(),
                Frame::SimpleString("PONG".into()),
                "taken {taken}"
            );
            assert_eq!(mux.in_flight(), 0, "taken {taken}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_split_across_many_writes() {
    bounded(Duration::from_secs(20), async {
        let addr = fake(|_, mut c| async move {
            c.hello3().await;
            c.expect(&["GET", "k0"]).await;
            c.expect(&["GET", "k1"]).await;
            let wire: &[u8] = b"$11\r\nhello world\r\n*3\r\n:1\r\n$2\r\nab\r\n%1\r\n+f\r\n#t\r\n";
            for byte in wire {
                c.write(&[*byte]).await;
                c.stream.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
        })
        .await;
        let mux = Multiplexer::connect(config(&addr)).await.unwrap();
        let got = batch_of(&mux, 2).await;
        assert_eq!(got[0].as_ref().unwrap(), &bulk("hello world"));
        assert_eq!(
            got[1].as_ref().unwrap(),
            &Frame::Array(vec![
                Frame::Integer(1),
                bulk("ab"),
                Frame::Map(vec![(
                    Frame::SimpleString("f".into()),
                    Frame::Boolean(true)
                )]),
            ])
        );
    })
    .await;
}

/// HELLO rejected by an old server (unknown command) or a proxy (NOPROTO): RESP2 with AUTH, CLIENT
/// SETNAME, SELECT and READONLY, in that order, before any user command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_rejected_falls_back_to_resp2() {
    bounded(Duration::from_secs(20), async {
        for rejection in [
            &b"-ERR unknown command 'HELLO', with args beginning with: '3'\r\n"[..],
            &b"-NOPROTO sorry, this protocol version is not supported\r\n"[..],
        ] {
            let addr = fake(move |_, mut c| async move {
                c.expect(&["HELLO", "3", "AUTH", "app", "pw", "SETNAME", "me"])
                    .await;
                c.write(rejection).await;
                c.expect(&["AUTH", "app", "pw"]).await;
                c.write(b"+OK\r\n").await;
                c.expect(&["CLIENT", "SETNAME", "me"]).await;
                c.write(b"+OK\r\n").await;
                c.expect(&["SELECT", "2"]).await;
                c.write(b"+OK\r\n").await;
                c.expect(&["READONLY"]).await;
                c.write(b"+OK\r\n").await;
                c.expect(&["PING"]).await;
                c.write(b"+PONG\r\n").await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            })
            .await;
            let mux = Multiplexer::connect(
                config(&addr)
                    .username("app")
                    .password("pw")
                    .client_name("me")
                    .database(2)
                    .readonly(true),
            )
            .await
            .unwrap();
            assert_eq!(mux.protocol(), ProtocolVersion::Resp2);
            assert_eq!(
                mux.send(&cmd(["PING"])).await.unwrap(),
                Frame::SimpleString("PONG".into())
            );
        }
    })
    .await;
}

/// A set-up failure carries the server's text; a SELECT refused is a set-up failure too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_errors_carry_the_server_text() {
    bounded(Duration::from_secs(20), async {
        let addr = fake(|_, mut c| async move {
            c.expect(&["HELLO", "3"]).await;
            c.write(b"%1\r\n+server\r\n+fake\r\n").await;
            c.expect(&["SELECT", "99"]).await;
            c.write(b"-ERR DB index is out of range\r\n").await;
        })
        .await;
        let err = Multiplexer::connect(config(&addr).database(99))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Setup);
        assert_eq!(err.message(), Some("ERR DB index is out of range"));
        // Nothing listening at all.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let err = Multiplexer::connect(config(&addr)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
        assert!(!err.may_have_been_sent());
    })
    .await;
}

/// Where the other connection of [`next_command_written_before_first_answered`] goes.
#[derive(Clone, Copy, Debug)]
enum Neighbour {
    /// Another server, same group (another node of a cluster). Its sweep ticks once a second, so
    /// within the fake's 300 ms it cannot tell the silence from a busy server.
    OtherNode,
    /// The same, with the default 10 ms tick: seen as stalled after a tick without a reply. A's own
    /// server is silent too and A withdraws its count as well, but A adds its own withdrawal back when
    /// it compares, so only the other node's withdrawal lets it write.
    StalledNode,
    /// Another server, a group of its own (another client).
    OtherClient,
    /// The same server, same group (a pool of two connections to one server).
    SamePool,
}

/// The multiplexer's `HOLD_MIN_UNANSWERED`: a writer never holds for fewer unanswered commands.
const HOLD_MIN: usize = 8;

/// Whether connection A writes a command while its `first` commands are unanswered, beside another
/// connection that has `HOLD_MIN` commands unanswered. The fake answers A's first commands only after
/// 300 ms without seeing more.
async fn next_command_written_before_first_answered(other: Neighbour, first: usize) -> bool {
    let (events, mut seen) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
    // One script for both roles, told apart by the first command, so either may be on either fake.
    let script = move |_, mut c: FakeConn| {
        let events = events.clone();
        async move {
            c.hello3().await;
            if c.read_command().await == ["GET", "b0"] {
                // The other connection: commands it never gets answers to.
                for k in 1..HOLD_MIN {
                    c.expect(&["GET", &format!("b{k}")]).await;
                }
                let _ = events.send("other loaded");
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
            for k in 1..first {
                c.expect(&["GET", &format!("a{k}")]).await;
            }
            let _ = events.send("first read");
            let early = tokio::time::timeout(Duration::from_millis(300), c.read_command()).await;
            let _ = events.send(if early.is_ok() {
                "next early"
            } else {
                "next held"
            });
            for _ in 0..first {
                c.write(b"$2\r\nv0\r\n").await;
            }
            if early.is_ok() {
                // Answered at once: the early command may itself have brought A to the bound, and
                // then the last one waits for this reply.
                c.write(b"$1\r\nv\r\n").await;
            } else {
                c.read_command().await;
                c.write(b"$1\r\nv\r\n").await;
            }
            c.read_command().await;
            c.write(b"$1\r\nv\r\n").await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    };
    let a_addr = fake(script.clone()).await;
    let other_config = match other {
        Neighbour::SamePool => config(&a_addr),
        _ => config(&fake(script).await),
    };
    let other_config = match other {
        Neighbour::StalledNode => other_config,
        _ => other_config.timeout_tick(Duration::from_secs(1)),
    };
    let a_config = match other {
        Neighbour::OtherClient => config(&a_addr),
        // The same group: a clone of the other's configuration, pointed at A's server.
        _ => other_config.clone().addr(a_addr.as_str()),
    };
    let other = Multiplexer::connect(other_config).await.unwrap();
    let a = Multiplexer::connect(a_config).await.unwrap();
    let keys = |prefix: &str, n: usize| -> Vec<String> {
        (0..n).map(|k| format!("{prefix}{k}")).collect()
    };
    let (b_keys, a_keys) = (keys("b", HOLD_MIN), keys("a", first));
    let loaded = tokio::spawn(async move { batch_of_keys(&other, &b_keys).await });
    assert_eq!(seen.recv().await, Some("other loaded"));
    let first_replies = {
        let a = a.clone();
        tokio::spawn(async move { batch_of_keys(&a, &a_keys).await })
    };
    assert_eq!(seen.recv().await, Some("first read"));
    let rest: Vec<_> = ["n0", "n1"]
        .into_iter()
        .map(|k| {
            let a = a.clone();
            tokio::spawn(async move { a.send(&cmd(["GET", k])).await })
        })
        .collect();
    let verdict = seen.recv().await;
    for r in first_replies.await.unwrap() {
        assert_eq!(r.unwrap(), bulk("v0"));
    }
    for r in rest {
        assert_eq!(r.await.unwrap().unwrap(), bulk("v"));
    }
    loaded.abort();
    match verdict {
        Some("next early") => true,
        Some("next held") => false,
        other => panic!("fake reported {other:?}"),
    }
}

/// A writer holds its queue while its server has at least `HOLD_MIN` commands unanswered and the
/// group's other servers have at least as many (they keep the cores busy meanwhile), and writes it
/// all once the replies come. Beside a connection of another client, or of the same pool to the same
/// server, or beside a node that has answered nothing for a sweep tick (stopped, or stuck in a long
/// script), it pipelines: nothing else would fill the time its server waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_holds_its_queue_only_while_other_servers_of_its_group_are_busier() {
    bounded(Duration::from_secs(20), async {
        for (other, first, written_early) in [
            (Neighbour::OtherNode, HOLD_MIN, false),
            // Light load: too few unanswered to be worth a wait.
            (Neighbour::OtherNode, HOLD_MIN - 1, true),
            // A server that answers nothing keeps no core busy.
            (Neighbour::StalledNode, HOLD_MIN, true),
            (Neighbour::OtherClient, HOLD_MIN, true),
            (Neighbour::SamePool, HOLD_MIN, true),
        ] {
            assert_eq!(
                next_command_written_before_first_answered(other, first).await,
                written_early,
                "{other:?}, {first} unanswered"
            );
        }
    })
    .await;
}

/// Regression: a close with a command queued behind `max_in_flight` and a server that reads but never
/// answers (stopped, or stuck in a long script) kept the connection's tasks and socket forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_with_a_queued_command_ends_by_the_close_deadline() {
    bounded(Duration::from_secs(20), async {
        let (command_timeout, tick) = (Duration::from_millis(300), Duration::from_millis(10));
        // What the fake read after the first command, sent when it sees the client close.
        let (eof, mut after_first) = tokio::sync::oneshot::channel();
        let eof = std::sync::Mutex::new(Some(eof));
        let addr = fake(move |_, mut c| {
            let eof = eof.lock().unwrap().take();
            async move {
                c.hello3().await;
                c.expect(&["GET", "first"]).await;
                let rest = c.commands_until_eof().await;
                if let Some(eof) = eof {
                    let _ = eof.send(rest);
                }
            }
        })
        .await;
        let mux = Multiplexer::connect(
            config(&addr)
                .max_in_flight(1)
                .command_timeout(command_timeout)
                .timeout_tick(tick),
        )
        .await
        .unwrap();
        // The callers' own deadlines lie far beyond the close's: what ends them is the close.
        let deadline = Instant::now() + Duration::from_secs(10);
        let send = |key: &'static str| {
            let mux = mux.clone();
            tokio::spawn(async move { mux.send_by(&cmd(["GET", key]), deadline).await })
        };
        let first = send("first");
        eventually(|| mux.stats().writes == 1).await;
        let queued = send("queued");
        eventually(|| mux.in_flight() == 2).await;
        let closed_at = Instant::now();
        mux.close();
        // The close waits for the reply until its deadline, then gives up on it: command_timeout
        // plus at most a sweep tick, and more only for a slow scheduler.
        let rest = tokio::time::timeout(Duration::from_secs(3), &mut after_first)
            .await
            .expect("the connection outlived its close deadline")
            .unwrap();
        let took = closed_at.elapsed();
        assert!(
            took >= command_timeout && took < command_timeout + 2 * tick + Duration::from_secs(1),
            "closed after {took:?}"
        );
        assert!(rest.is_empty(), "written after the first: {rest:?}");
        let err = first.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionIndeterminate, "{err}");
        let err = queued.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
        assert!(!err.may_have_been_sent());
    })
    .await;
}

/// Regression: a writer stuck in a write to a server that reads nothing outlived the close deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_ends_a_write_the_server_never_reads() {
    bounded(Duration::from_secs(20), async {
        let (read, setup_done) = tokio::sync::oneshot::channel();
        let read = std::sync::Mutex::new(Some(read));
        let addr = fake(move |_, mut c| {
            let read = read.lock().unwrap().take();
            async move {
                c.hello3().await;
                if let Some(read) = read {
                    let _ = read.send(());
                }
                // Reads nothing more, and keeps the socket open.
                tokio::time::sleep(Duration::from_secs(30)).await;
                drop(c);
            }
        })
        .await;
        let command_timeout = Duration::from_millis(300);
        let mux = Multiplexer::connect(config(&addr).command_timeout(command_timeout))
            .await
            .unwrap();
        setup_done.await.unwrap();
        // Far more than the socket buffers of both ends hold, so the write cannot finish.
        let value = "x".repeat(64 << 20);
        let sent = {
            let mux = mux.clone();
            tokio::spawn(async move {
                let set = cmd(["SET", "big", value.as_str()]);
                mux.send_by(&set, Instant::now() + Duration::from_secs(10))
                    .await
            })
        };
        eventually(|| mux.stats().writes == 1).await;
        // Let the write fill the buffers and wait.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let closed_at = Instant::now();
        mux.close();
        let err = sent.await.unwrap().unwrap_err();
        let took = closed_at.elapsed();
        assert_eq!(err.kind(), ErrorKind::ConnectionIndeterminate, "{err}");
        assert!(
            took < command_timeout + Duration::from_secs(1),
            "the write outlived the close by {took:?}"
        );
    })
    .await;
}

/// How the fake answers a reconnect in [`stalled_reconnect_ends_with_the_last_handle`].
#[derive(Clone, Copy, Debug)]
enum Reconnect {
    /// Accepts and reads HELLO, but never answers: the set-up waits for `connect_timeout`.
    SetupNeverAnswered,
    /// Closes the connection at once: the next attempt waits for `reconnect_backoff_min`.
    SetupRefused,
}

/// Drops the last handle of a connection that is reconnecting under `Duration::MAX` timeouts and
/// backoff, and waits for every one of its tasks to end.
async fn stalled_reconnect_ends_with_the_last_handle(reconnect: Reconnect) {
    let (events, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let addr = fake(move |i, mut c| {
        let events = events.clone();
        async move {
            if i == 0 {
                c.hello3().await;
                // Then drops the connection: the client reconnects.
                return;
            }
            match reconnect {
                Reconnect::SetupNeverAnswered => {
                    c.expect(&["HELLO", "3"]).await;
                    let _ = events.send(i);
                    c.commands_until_eof().await;
                }
                Reconnect::SetupRefused => {
                    let _ = events.send(i);
                }
            }
        }
    })
    .await;
    let metrics = tokio::runtime::Handle::current().metrics();
    // The fake's accept loop is running; its connection tasks end with their connections.
    let before = metrics.num_alive_tasks();
    let mux = Multiplexer::connect(
        config(&addr)
            .connect_timeout(Duration::MAX)
            .reconnect_backoff_min(Duration::MAX)
            .reconnect_backoff_max(Duration::MAX),
    )
    .await
    .unwrap();
    assert_eq!(seen.recv().await, Some(1), "{reconnect:?}");
    // Time for the client to act on the refusal and start its backoff.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!mux.is_connected(), "{reconnect:?}");
    drop(mux);
    eventually(|| metrics.num_alive_tasks() == before).await;
}

/// Regression: `Duration::MAX` as connect timeout or reconnect backoff (natural for "never give
/// up") panicked the driver in its backoff arithmetic, or held it in a set-up that never ends after
/// the last handle was gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_under_duration_max_settings_ends_with_the_last_handle() {
    bounded(Duration::from_secs(30), async {
        for reconnect in [Reconnect::SetupNeverAnswered, Reconnect::SetupRefused] {
            stalled_reconnect_ends_with_the_last_handle(reconnect).await;
        }
    })
    .await;
}

/// A pipeline longer than the slot pool stops at its first failed part: when the connection drops
/// during part one, part two is not written on the new connection (it would run before the caller
/// could retry part one's commands, out of order), and fails as never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_pipeline_stops_at_its_first_failed_part() {
    bounded(Duration::from_secs(20), async {
        // What the second connection received, once it ended.
        let later: Arc<std::sync::Mutex<Option<Vec<Vec<String>>>>> = Arc::default();
        let seen = later.clone();
        let addr = fake(move |i, mut c| {
            let seen = seen.clone();
            async move {
                c.hello3().await;
                if i == 0 {
                    // Part one: GET k0..k3 (a pool of 8, parts of 4). Answer two, then drop.
                    for k in 0..4 {
                        c.expect(&["GET", &format!("k{k}")]).await;
                    }
                    c.write(b"$2\r\nv0\r\n$2\r\nv1\r\n").await;
                } else {
                    // Whatever reaches the new connection.
                    let got = c.commands_until_eof().await;
                    *seen.lock().unwrap() = Some(got);
                }
            }
        })
        .await;
        // Waiting for the reconnect: part two would go out on the new connection.
        let mux = Multiplexer::connect(
            config(&addr)
                .max_in_flight(4)
                .max_queued(4)
                .wait_for_reconnect(true),
        )
        .await
        .unwrap();
        let cmds: Vec<_> = (0..12).map(|i| cmd(["GET", &format!("k{i}")])).collect();
        let got = mux
            .send_pipeline(&cmds, Instant::now() + Duration::from_secs(2))
            .await;
        assert_eq!(got.len(), 12);
        assert_eq!(got[0].as_ref().unwrap(), &bulk("v0"));
        assert_eq!(got[1].as_ref().unwrap(), &bulk("v1"));
        for (i, r) in got.iter().enumerate().skip(2) {
            let err = r.as_ref().expect_err("failed");
            if i < 4 {
                assert_eq!(err.kind(), ErrorKind::ConnectionIndeterminate, "{i}: {err}");
            } else {
                assert_eq!(err.kind(), ErrorKind::ConnectionNotSent, "{i}: {err}");
                assert!(!err.may_have_been_sent());
            }
        }
        eventually(|| mux.is_connected()).await;
        mux.close();
        eventually(|| later.lock().unwrap().is_some()).await;
        let later = later.lock().unwrap().take().unwrap_or_default();
        assert!(
            later
                .iter()
                .all(|c| c.first().map(String::as_str) != Some("GET")),
            "later parts were written: {later:?}"
        );
    })
    .await;
}
