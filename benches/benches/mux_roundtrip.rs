//! The multiplexer's round trip: pooled response slots (slotmux) against a oneshot-per-command baseline
//! with the same writer/reader structure, with 1, 64 and 1024 concurrent tasks, against a real
//! redis-server and against an in-process mock that answers PING as fast as it can read.
//! Also: the cost of a tokio timer per command (`tokio::time::timeout` around each send) on top of the
//! multiplexer's per-connection deadline sweep. Results and conclusions: docs/benchmarks/multiplexer.md.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use multiplexer::{ConnectionConfig, Multiplexer};
use resp_codec::{Decoder, EncodedCommand, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

const CONCURRENCY: [usize; 3] = [1, 64, 1024];

/// The baseline: the common design of a multiplexed client (redis-rs, many others) -- a bounded mpsc of
/// (command, oneshot sender) to a writer task that batches whatever is queued, a mutex-protected FIFO of
/// senders, and a reader task that completes them in order. One oneshot allocation per command.
struct Baseline {
    tx: mpsc::Sender<(Bytes, oneshot::Sender<Frame>)>,
}

impl Baseline {
    async fn connect(addr: &str) -> Baseline {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (mut rd, mut wr) = stream.into_split();
        let (tx, mut rx) = mpsc::channel::<(Bytes, oneshot::Sender<Frame>)>(2048);
        let pending = Arc::new(Mutex::new(VecDeque::<oneshot::Sender<Frame>>::new()));
        let writer_pending = pending.clone();
        tokio::spawn(async move {
            let mut buf = BytesMut::with_capacity(64 * 1024);
            let mut senders = Vec::with_capacity(512);
            while let Some((bytes, sender)) = rx.recv().await {
                buf.extend_from_slice(&bytes);
                senders.push(sender);
                while senders.len() < 512 {
                    let Ok((bytes, sender)) = rx.try_recv() else {
                        break;
                    };
                    buf.extend_from_slice(&bytes);
                    senders.push(sender);
                }
                writer_pending.lock().unwrap().extend(senders.drain(..));
                if wr.write_all(&buf).await.is_err() {
                    return;
                }
                buf.clear();
            }
        });
        tokio::spawn(async move {
            let mut buf = BytesMut::with_capacity(64 * 1024);
            let mut decoder = Decoder::new();
            let mut frames = Vec::with_capacity(512);
            loop {
                if buf.capacity() - buf.len() < 4096 {
                    buf.reserve(64 * 1024);
                }
                match rd.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                while let Ok(Some(frame)) = decoder.decode(&mut buf) {
                    frames.push(frame);
                }
                let mut pending = pending.lock().unwrap();
                for frame in frames.drain(..) {
                    if let Some(sender) = pending.pop_front() {
                        let _ = sender.send(frame);
                    }
                }
            }
        });
        Baseline { tx }
    }

    async fn send(&self, cmd: &EncodedCommand) -> Frame {
        let (tx, rx) = oneshot::channel();
        self.tx.send((cmd.bytes().clone(), tx)).await.unwrap();
        rx.await.unwrap()
    }
}

#[derive(Clone)]
enum Client {
    Slots(Multiplexer),
    SlotsWithTimer(Multiplexer),
    Oneshot(Arc<Baseline>),
}

impl Client {
    async fn send(&self, cmd: &EncodedCommand) -> Frame {
        match self {
            Client::Slots(mux) => mux.send(cmd).await.unwrap(),
            Client::SlotsWithTimer(mux) => {
                tokio::time::timeout(Duration::from_secs(1), mux.send(cmd))
                    .await
                    .unwrap()
                    .unwrap()
            }
            Client::Oneshot(base) => base.send(cmd).await,
        }
    }
}

/// Which clock the bench reports: wall time (default), or with `MUX_BENCH_CLOCK=cpu` the CPU time of the
/// whole process (client plus the in-process mock). CPU time per command is what a loaded machine
/// (several jobs sharing 2 cores) still measures reliably, and it is the cost that matters at scale.
fn cpu_clock() -> bool {
    std::env::var("MUX_BENCH_CLOCK").is_ok_and(|v| v == "cpu")
}

fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `iters` PINGs spread over `concurrency` tasks; returns the time scaled to exactly `iters` commands.
async fn run(client: &Client, concurrency: usize, iters: u64) -> Duration {
    let cpu = cpu_clock();
    let cpu_start = process_cpu_time();
    let per_task = (iters as usize).div_ceil(concurrency).max(1);
    let ping = EncodedCommand::from_args(["PING"]);
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let client = client.clone();
            let ping = ping.clone();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    std::hint::black_box(client.send(&ping).await);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = if cpu {
        process_cpu_time().saturating_sub(cpu_start)
    } else {
        start.elapsed()
    };
    elapsed.mul_f64(iters as f64 / (per_task * concurrency) as f64)
}

/// A server that answers every PING (14 bytes on the wire) with +PONG, one write per read.
async fn mock_server() -> String {
    const PING_LEN: usize = b"*1\r\n$4\r\nPING\r\n".len();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            stream.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut out = Vec::with_capacity(64 * 1024);
                let mut carry = 0usize;
                let mut hello_done = false;
                loop {
                    let n = match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if !hello_done && buf[..n].starts_with(b"*2\r\n$5\r\nHELLO") {
                        // The multiplexer's handshake: refuse HELLO, it falls back to RESP2.
                        hello_done = true;
                        stream
                            .write_all(b"-ERR unknown command 'HELLO'\r\n")
                            .await
                            .unwrap();
                        continue;
                    }
                    hello_done = true;
                    carry += n;
                    out.clear();
                    for _ in 0..carry / PING_LEN {
                        out.extend_from_slice(b"+PONG\r\n");
                    }
                    carry %= PING_LEN;
                    if stream.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn bench_against(c: &mut Criterion, rt: &tokio::runtime::Runtime, group: &str, addr: &str) {
    let config = ConnectionConfig::new(addr).command_timeout(Duration::from_secs(5));
    let slots = rt.block_on(Multiplexer::connect(config)).unwrap();
    let baseline = Arc::new(rt.block_on(Baseline::connect(addr)));
    let clients = [
        ("slot-pool", Client::Slots(slots.clone())),
        ("slot-pool+timer-per-command", Client::SlotsWithTimer(slots)),
        ("oneshot-per-command", Client::Oneshot(baseline)),
    ];
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for concurrency in CONCURRENCY {
        for (name, client) in &clients {
            g.bench_with_input(
                BenchmarkId::new(*name, concurrency),
                &concurrency,
                |b, &n| {
                    b.iter_custom(|iters| rt.block_on(run(client, n, iters)));
                },
            );
        }
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    let only = std::env::var("MUX_BENCH_ONLY").unwrap_or_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The mock isolates the client's submit/complete path from the server's cost.
    if std::env::var("MUX_BENCH_TICKER").is_ok() {
        // Experiment: a 10 ms timer task on the runtime (what the deadline sweep adds), to see what an
        // armed timer costs the runtime's park/unpark path for the baseline too.
        rt.spawn(async {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
    }
    // MUX_BENCH_ONLY=mock or =redis runs one half.
    if only != "redis" {
        let mock = rt.block_on(mock_server());
        bench_against(c, &rt, "mux_roundtrip/mock", &mock);
    }
    if only == "mock" {
        return;
    }
    // Started outside any measurement; killed when `server` drops.
    let server = test_support::Server::start().expect("start redis-server");
    bench_against(c, &rt, "mux_roundtrip/redis", &server.addr());
    drop(server);
}

criterion_group!(mux, benches);
criterion_main!(mux);
