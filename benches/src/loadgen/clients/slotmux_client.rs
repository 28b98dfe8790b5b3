//! slotmux: one `Client` per instance, cloned into every task.
//!
//! Until the facade's `Client` lands this is a stub whose `connect` reports "not built yet";
//! the real driver is in `slotmux_real.rs` and replaces it by switching the `mod` line below.

#[path = "slotmux_stub.rs"]
mod imp;

pub(crate) use imp::SlotmuxClient;
