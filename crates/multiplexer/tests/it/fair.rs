//! Fairness under overload: callers waiting for a response slot are served in arrival order, a waiting
//! batch is not starved by single commands, and waiters learn of a close at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use multiplexer::{ConnectionConfig, ErrorKind, Multiplexer};
use resp_codec::Frame;
use tokio::time::Instant;

use crate::{bounded, cmd, eventually};

/// A connection to the shared server with a slot pool of `in_flight + queued` slots.
fn small_pool(in_flight: usize, queued: usize, command_timeout: Duration) -> ConnectionConfig {
    ConnectionConfig::new(test_support::shared_server().addr())
        .max_in_flight(in_flight)
        .max_queued(queued)
        .command_timeout(command_timeout)
}

/// The BLPOP that held a slot ended with its own timeout: a nil reply.
async fn assert_blpop_timed_out(
    blocker: tokio::task::JoinHandle<Result<Frame, multiplexer::Error>>,
) {
    let blocked = blocker
        .await
        .expect("task")
        .expect("BLPOP times out with a nil reply");
    assert!(
        matches!(blocked, Frame::NullArray | Frame::Null),
        "{blocked:?}"
    );
}

/// A pool of 8 slots (4 in flight + 4 queued): far fewer than the tasks that share it.
fn tiny_pool(command_timeout: Duration) -> ConnectionConfig {
    small_pool(4, 4, command_timeout)
}

fn integer(frame: &Frame) -> i64 {
    match frame {
        Frame::Integer(n) => *n,
        other => panic!("expected an integer reply, got {other:?}"),
    }
}

/// 1,000 tasks x 20 `INCR`s of one counter through 8 slots, all released at once. The counter's value
/// is the order in which the server ran the commands, so it shows who got slots when: every task's
/// first command must run before the others have gone round more than a few times (with the old pool,
/// a task whose reply arrived took its freed slot back for its next command ahead of every waiter,
/// and late tasks ran their first command only after the early ones had finished all 20).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overloaded_pool_serves_waiters_in_arrival_order() {
    const TASKS: usize = 1_000;
    const ROUNDS: usize = 20;
    bounded(Duration::from_secs(60), async {
        let mux = Multiplexer::connect(tiny_pool(Duration::from_secs(30)))
            .await
            .unwrap();
        let key = "fair:order";
        mux.send(&cmd(["DEL", key])).await.unwrap();
        let (go, ready) = tokio::sync::watch::channel(false);
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let mux = mux.clone();
                let mut ready = ready.clone();
                tokio::spawn(async move {
                    ready.wait_for(|&go| go).await.unwrap();
                    let mut seen = Vec::with_capacity(ROUNDS);
                    for _ in 0..ROUNDS {
                        match mux.send(&cmd(["INCR", key])).await {
                            Ok(reply) => seen.push(integer(&reply)),
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(seen)
                })
            })
            .collect();
        go.send(true).unwrap();
        let mut firsts = Vec::with_capacity(TASKS);
        for task in tasks {
            let seen = task.await.unwrap().expect("no caller fails while waiting its turn");
            assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
            firsts.push(seen[0]);
        }
        let total = (TASKS * ROUNDS) as i64;
        assert_eq!(
            mux.send(&cmd(["GET", key])).await.unwrap(),
            crate::bulk(&total.to_string())
        );
        let latest_first = firsts.iter().copied().max().unwrap_or(0);
        // In turn, the last task to queue runs its first command after about one command per task
        // (those queued before it) plus what ran while the tasks were being woken; 4x leaves room for a
        // slow scheduler and is still a fifth of what a starving pool shows.
        assert!(
            latest_first <= 4 * TASKS as i64,
            "a task waited while the others went round: its first INCR was number {latest_first} of {total}"
        );
        assert_eq!(mux.stats().busy, 0);
        eventually(|| mux.in_flight() == 0).await;
        println!("fairness: the last task's first INCR was number {latest_first} of {total}");
    })
    .await;
}

/// A batch as large as the whole pool, sent while 64 tasks keep every slot busy with single commands:
/// it queues like anyone else and collects slots as they are freed (the old pool let the single
/// commands take every freed slot back, so the batch never found 8 free at once and failed `Busy`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_gets_through_while_single_callers_keep_the_pool_busy() {
    bounded(Duration::from_secs(60), async {
        let mux = Multiplexer::connect(tiny_pool(Duration::from_secs(30)))
            .await
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let singles: Vec<_> = (0..64)
            .map(|_| {
                let mux = mux.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    // A safety stop, so a starved batch fails this test instead of hanging it.
                    let until = Instant::now() + Duration::from_secs(20);
                    let mut sent = 0u64;
                    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                        let reply = mux.send(&cmd(["INCR", "fair:singles"])).await?;
                        integer(&reply);
                        sent += 1;
                    }
                    Ok::<u64, multiplexer::Error>(sent)
                })
            })
            .collect();
        // Every slot is in use and callers are queued before the batch arrives.
        eventually(|| mux.stats().commands > 2_000).await;
        let batch: Vec<_> = (0..8)
            .map(|i| cmd(["ECHO", &format!("batch-{i}")]))
            .collect();
        let started = Instant::now();
        let replies = mux
            .send_batch(&batch, started + Duration::from_secs(10))
            .await;
        let waited = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        for (i, reply) in replies.into_iter().enumerate() {
            assert_eq!(reply.unwrap(), crate::bulk(&format!("batch-{i}")));
        }
        let mut sent = 0;
        for single in singles {
            sent += single.await.unwrap().expect("no single command fails");
        }
        assert!(sent > 2_000, "the singles kept the pool busy: {sent}");
        // It waits behind the 56 or so queued singles, milliseconds; not the seconds of a starved batch.
        assert!(
            waited < Duration::from_secs(5),
            "the batch waited {waited:?}"
        );
        assert_eq!(mux.stats().busy, 0);
        eventually(|| mux.in_flight() == 0).await;
    })
    .await;
}

/// Callers queued for a slot fail with `Closed` as soon as the connection is closed, not when a slot
/// is freed or their deadline passes (here the only two slots are held by a `BLPOP` that blocks the
/// connection for 2 s and a command queued behind it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_fails_waiting_callers_at_once() {
    bounded(Duration::from_secs(30), async {
        let mux = Multiplexer::connect(small_pool(1, 1, Duration::from_secs(5)))
            .await
            .unwrap();
        // One at a time: the PING must be queued behind the BLPOP, not answered before it is written.
        let mut holders = Vec::new();
        for (c, taken) in [
            (cmd(["BLPOP", "fair:nothing-here", "2"]), 1),
            (cmd(["PING"]), 2),
        ] {
            let holder = mux.clone();
            holders.push(tokio::spawn(async move { holder.send(&c).await }));
            eventually(|| mux.in_flight() == taken).await;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let mux = mux.clone();
                tokio::spawn(async move { mux.send_by(&cmd(["PING"]), deadline).await })
            })
            .collect();
        // Let them queue.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let closed_at = Instant::now();
        mux.close();
        for waiter in waiters {
            let error = waiter
                .await
                .unwrap()
                .expect_err("a closed connection takes nothing new");
            assert_eq!(error.kind(), ErrorKind::Closed, "{error}");
        }
        let took = closed_at.elapsed();
        assert!(
            took < Duration::from_millis(1_000),
            "waiters learned of the close after {took:?}"
        );
        // The commands already accepted still finish.
        for holder in holders {
            holder.await.unwrap().unwrap();
        }
    })
    .await;
}

/// Batches as big as the whole pool (8 slots, `max_queued` 0), sent by many tasks at once: each batch
/// waits for every slot, takes the slots the previous batch's callers freed, and runs exactly once.
/// (The writer's re-reading of its room for slot indices when a batch seems not to fit, a race this
/// load only rarely hits, is checked directly by the handoff ring's unit test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_sized_batches_from_many_tasks_all_get_through() {
    const TASKS: usize = 16;
    const ROUNDS: usize = 100;
    const BATCH: usize = 8;
    bounded(Duration::from_secs(60), async {
        let config = small_pool(BATCH, 0, Duration::from_secs(20));
        let mux = Multiplexer::connect(config).await.expect("connect");
        let key = format!("fair:pool-sized:{}", std::process::id());
        mux.send(&cmd(["DEL", &key])).await.expect("del");
        let batch: Arc<Vec<_>> = Arc::new((0..BATCH).map(|_| cmd(["INCR", &key])).collect());
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (mux, batch) = (mux.clone(), batch.clone());
                tokio::spawn(async move {
                    for _ in 0..ROUNDS {
                        let deadline = Instant::now() + Duration::from_secs(20);
                        for reply in mux.send_batch(&batch, deadline).await {
                            let frame = reply.expect("every command of the batch is answered");
                            assert!(integer(&frame) > 0);
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        let total = mux.send(&cmd(["GET", &key])).await.expect("get");
        assert_eq!(
            total,
            Frame::BulkString((TASKS * ROUNDS * BATCH).to_string().into())
        );
    })
    .await;
}

/// A pool of two connections with one slot each: while one connection's slot is held by a blocking
/// command, every other command goes to the connection with a free slot instead of queueing behind
/// the blocked one in round-robin turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_skips_a_connection_whose_slots_are_taken() {
    bounded(Duration::from_secs(30), async {
        let config = small_pool(1, 0, Duration::from_secs(5));
        let pool = multiplexer::Pool::connect(config, 2)
            .await
            .expect("connect");
        let key = format!("fair:pool-skip:{}", std::process::id());
        // Holds one connection's only slot for 1.5 s (nothing is ever pushed to the key).
        let blocker = {
            let pool = pool.clone();
            let key = key.clone();
            tokio::spawn(async move { pool.send(&cmd(["BLPOP", &key, "1.5"])).await })
        };
        eventually(|| pool.in_flight() == 1).await;
        let started = Instant::now();
        for _ in 0..10 {
            assert_eq!(
                pool.send(&cmd(["PING"])).await.expect("ping"),
                Frame::SimpleString("PONG".into())
            );
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_millis(700),
            "10 PINGs took {elapsed:?}: some waited behind the blocked connection"
        );
        assert_blpop_timed_out(blocker).await;
    })
    .await;
}

/// A caller that is still waiting for a response slot at its deadline fails with `Busy` within a tick
/// of the connection's sweep (there is no timer per waiter), and the commands ahead of it are unharmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_gives_up_at_its_deadline() {
    bounded(Duration::from_secs(30), async {
        let config = small_pool(1, 1, Duration::from_secs(5));
        let mux = Multiplexer::connect(config).await.expect("connect");
        let key = format!("fair:waiter-deadline:{}", std::process::id());
        let later = Instant::now() + Duration::from_secs(5);
        // Holds the slot in flight for 0.8 s (nothing is pushed to the key); a PING takes the other.
        let blocker = {
            let (mux, key) = (mux.clone(), key.clone());
            tokio::spawn(async move { mux.send_by(&cmd(["BLPOP", &key, "0.8"]), later).await })
        };
        eventually(|| mux.in_flight() == 1).await;
        // Polled once here, so it has taken the second slot before the next caller comes.
        let ping = cmd(["PING"]);
        let mut queued = std::pin::pin!(mux.send_by(&ping, later));
        std::future::poll_fn(|cx| {
            assert!(
                queued.as_mut().poll(cx).is_pending(),
                "nothing answers while BLPOP blocks"
            );
            std::task::Poll::Ready(())
        })
        .await;
        let patience = Duration::from_millis(200);
        let started = Instant::now();
        let waited = mux.send_by(&cmd(["PING"]), started + patience).await;
        let elapsed = started.elapsed();
        assert_eq!(waited.map_err(|e| e.kind()), Err(ErrorKind::Busy));
        // The sweep ticks every 10 ms; the rest is room for a loaded machine.
        assert!(
            elapsed >= patience && elapsed < patience + Duration::from_millis(300),
            "gave up after {elapsed:?}"
        );
        assert_eq!(mux.stats().busy, 1);
        assert_blpop_timed_out(blocker).await;
        assert_eq!(
            queued.await.expect("the queued PING is answered"),
            Frame::SimpleString("PONG".into())
        );
    })
    .await;
}
