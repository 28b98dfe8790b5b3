//! Futures dropped at random mid-flight must never make the client hand a caller someone else's reply.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use rand::Rng;
use slotmux::{Bytes, Client, Cmd, Pipeline, Value};
use test_support::Server;

use crate::{eventually, run_serial};

/// Concurrent tasks; each owns its keys, so every reply it reads is checkable.
const TASKS: usize = 256;

/// How long the test runs: `SLOTMUX_CHAOS_SECS`, 60 s by default (the "for a minute").
fn duration() -> Duration {
    let secs = std::env::var("SLOTMUX_CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// What happened to one operation.
enum Outcome<T> {
    Done(T),
    Dropped,
}

/// Runs `f` to completion, or drops it at a random point half of the time: right after its first
/// poll (queued, maybe not yet written) or after a random delay up to 2 ms (written, reply pending).
async fn maybe_drop<F: Future>(rng: &mut rand::rngs::StdRng, f: F) -> Outcome<F::Output> {
    match rng.random_range(0..4) {
        0 => {
            let mut f = pin!(f);
            let first = std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await;
            match first {
                Poll::Ready(out) => Outcome::Done(out),
                Poll::Pending => Outcome::Dropped,
            }
        }
        1 => {
            let delay = Duration::from_micros(rng.random_range(0..2000));
            match tokio::time::timeout(delay, f).await {
                Ok(out) => Outcome::Done(out),
                Err(_) => Outcome::Dropped,
            }
        }
        _ => Outcome::Done(f.await),
    }
}

#[derive(Default, Debug)]
struct Tally {
    done: u64,
    dropped: u64,
}

impl Tally {
    fn count<T>(&mut self, o: &Outcome<T>) {
        match o {
            Outcome::Done(_) => self.done += 1,
            Outcome::Dropped => self.dropped += 1,
        }
    }
}

/// Parses `t{task}:{seq}` written by task `t`; `None` when it belongs to someone else.
fn own_seq(t: usize, v: &Bytes) -> Option<u64> {
    let s = std::str::from_utf8(v).ok()?;
    let (task, seq) = s.split_once(':')?;
    (task.strip_prefix('t')?.parse::<usize>().ok()? == t).then_some(())?;
    seq.parse().ok()
}

async fn worker(client: Client, t: usize, until: Instant) -> Result<Tally, String> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(t as u64);
    let mut tally = Tally::default();
    let key = format!("chaos:{t}");
    let counter = format!("chaos:{t}:n");
    // Sequence numbers of SETs issued: every one may have been written, even when dropped.
    let mut issued: u64 = 0;
    // The last SET whose reply came back: the key holds it or a later one.
    let mut confirmed: Option<u64> = None;
    let mut last_count: i64 = 0;
    let mut n: u64 = 0;
    while Instant::now() < until {
        n += 1;
        match rng.random_range(0..5) {
            0 => {
                issued += 1;
                let seq = issued;
                let o = maybe_drop(&mut rng, client.set(&key, format!("t{t}:{seq}"))).await;
                tally.count(&o);
                if let Outcome::Done(r) = o {
                    r.map_err(|e| format!("task {t} SET: {e}"))?;
                    confirmed = Some(seq);
                }
            }
            1 => {
                let o = maybe_drop(&mut rng, client.get(&key)).await;
                tally.count(&o);
                if let Outcome::Done(r) = o {
                    let got = r.map_err(|e| format!("task {t} GET: {e}"))?;
                    check_value(t, got.as_ref(), confirmed, issued)?;
                }
            }
            2 => {
                let token = format!("t{t}:echo:{n}");
                let o = maybe_drop(&mut rng, client.send(Cmd::new("ECHO").arg(&token))).await;
                tally.count(&o);
                if let Outcome::Done(r) = o {
                    let got = r.map_err(|e| format!("task {t} ECHO: {e}"))?;
                    if got != Value::Bulk(Bytes::from(token.clone())) {
                        return Err(format!("task {t} ECHO {token:?} got {got:?}"));
                    }
                }
            }
            3 => {
                let o = maybe_drop(&mut rng, client.incr(&counter)).await;
                tally.count(&o);
                if let Outcome::Done(r) = o {
                    let got = r.map_err(|e| format!("task {t} INCR: {e}"))?;
                    // Only this task increments it, and this INCR ran after every earlier completed one.
                    if got <= last_count {
                        return Err(format!("task {t} INCR got {got} after {last_count}"));
                    }
                    last_count = got;
                }
            }
            _ => {
                issued += 1;
                let seq = issued;
                let token = format!("t{t}:pipe:{n}");
                let p = Pipeline::new()
                    .cmd(Cmd::new("SET").arg(&key).arg(format!("t{t}:{seq}")))
                    .cmd(Cmd::new("GET").arg(&key))
                    .cmd(Cmd::new("ECHO").arg(&token));
                let o = maybe_drop(&mut rng, client.pipeline(&p)).await;
                tally.count(&o);
                if let Outcome::Done(r) = o {
                    let replies = r.map_err(|e| format!("task {t} pipeline: {e}"))?;
                    let mut it = replies.into_iter();
                    let mut next = |what: &str| match it.next() {
                        Some(Ok(v)) => Ok(v),
                        Some(Err(e)) => Err(format!("task {t} pipeline {what}: {e}")),
                        None => Err(format!("task {t} pipeline: no reply for {what}")),
                    };
                    let set = next("SET")?;
                    if set != Value::Status(Bytes::from_static(b"OK")) {
                        return Err(format!("task {t} pipeline SET got {set:?}"));
                    }
                    confirmed = Some(seq);
                    let get = next("GET")?;
                    // The GET ran right after the SET on the same connection.
                    let want = Value::Bulk(Bytes::from(format!("t{t}:{seq}")));
                    if get != want {
                        return Err(format!(
                            "task {t} pipeline GET got {get:?}, wanted {want:?}"
                        ));
                    }
                    let echo = next("ECHO")?;
                    if echo != Value::Bulk(Bytes::from(token.clone())) {
                        return Err(format!("task {t} pipeline ECHO {token:?} got {echo:?}"));
                    }
                }
            }
        }
    }
    Ok(tally)
}

/// A GET of the task's own key returns one of its own values, no older than the last confirmed SET.
fn check_value(
    t: usize,
    got: Option<&Bytes>,
    confirmed: Option<u64>,
    issued: u64,
) -> Result<(), String> {
    match (got, confirmed) {
        // Nothing confirmed yet: the key may still be missing.
        (None, None) => Ok(()),
        (None, Some(c)) => Err(format!(
            "task {t} GET found nothing after SET {c} was confirmed"
        )),
        (Some(v), _) => {
            let seq = own_seq(t, v)
                .ok_or_else(|| format!("task {t} GET got someone else's reply {v:?}"))?;
            let low = confirmed.unwrap_or(1);
            if seq < low || seq > issued {
                return Err(format!(
                    "task {t} GET got seq {seq}, expected {low}..={issued}"
                ));
            }
            Ok(())
        }
    }
}

#[test]
fn dropped_futures_never_misroute_replies() {
    let server = Server::start().expect("server");
    let secs = duration();
    run_serial(secs + Duration::from_secs(60), async {
        let client = Client::builder()
            .url(&server.url())
            // Long enough that a loaded machine never turns a slow reply into a failure here:
            // this test is about matching replies, not deadlines.
            .command_timeout(Duration::from_secs(5))
            .build()
            .await
            .expect("connect");
        let until = Instant::now() + secs;
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..TASKS {
            tasks.spawn(worker(client.clone(), t, until));
        }
        let mut total = Tally::default();
        let mut failures = Vec::new();
        while let Some(done) = tasks.join_next().await {
            match done.expect("task panicked") {
                Ok(tally) => {
                    total.done += tally.done;
                    total.dropped += tally.dropped;
                }
                Err(e) => failures.push(e),
            }
        }
        assert!(
            failures.is_empty(),
            "{} tasks saw wrong replies, first: {}",
            failures.len(),
            failures[0]
        );
        eprintln!(
            "chaos: {secs:?}, {} completed, {} dropped mid-flight",
            total.done, total.dropped
        );
        assert!(total.dropped > 0 && total.done > 0, "{total:?}");
        // Every abandoned command's slot comes back.
        eventually(Duration::from_secs(10), || client.in_flight() == 0).await;
        client.ping().await.expect("still healthy");
    });
}
