//! Placeholder while `slotmux::Client` is not built yet: connecting reports the cell as not applicable.

use crate::loadgen::clients::{BenchClient, ErrKind};
use crate::loadgen::workload::Request;

/// The slotmux client (not built yet).
#[derive(Clone)]
pub(crate) struct SlotmuxClient;

impl SlotmuxClient {
    /// Always fails: the facade has no `Client` yet.
    pub(crate) async fn connect(
        _hosts: &[(String, u16)],
        _cluster: bool,
        _connections: usize,
        _value_size: usize,
    ) -> Result<Vec<SlotmuxClient>, String> {
        Err(crate::loadgen::NOT_BUILT_SLOTMUX.to_string())
    }
}

impl BenchClient for SlotmuxClient {
    async fn request(&mut self, _req: &Request) -> Result<usize, ErrKind> {
        Err(ErrKind::Other)
    }
}
