//! The one place slotmux spawns tasks.
//!
//! Every background task of the library starts here: the connection's driver, reader and
//! deadline sweep, and the cluster router's single topology-refresh task. Keeping the spawn in one
//! crate keeps the runtime coupling and the task-lifetime rules in one place: each task must end
//! by itself when the handles that feed it are dropped (it holds a `Weak`, or its queue closes).

use std::future::Future;

/// Spawns a background task on the current tokio runtime.
///
/// The task must end by itself once the last user handle that it serves is dropped: hold a `Weak`
/// to shared state, or watch a channel that closes. Dropping the returned handle detaches the task;
/// `abort()` cancels it.
pub fn spawn_background<F>(future: F) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(future)
}
