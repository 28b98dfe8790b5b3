//! Property: any assignment of slot ranges to nodes round-trips through the slot table.

use cluster_topology::{SlotRange, Topology};
use hash_slot::Slot;
use proptest::prelude::*;

use crate::decode;

/// Random cut points split 0..16384 into ranges; each range gets a random owner among `nodes` or none.
fn assignment() -> impl Strategy<Value = Vec<(u16, u16, Option<u16>)>> {
    (proptest::collection::btree_set(1u16..16384, 0..40), 1u16..6).prop_flat_map(|(cuts, nodes)| {
        let mut bounds: Vec<u16> = std::iter::once(0)
            .chain(cuts)
            .chain(std::iter::once(16384))
            .collect();
        bounds.dedup();
        let ranges: Vec<(u16, u16)> = bounds.windows(2).map(|w| (w[0], w[1] - 1)).collect();
        let owners =
            proptest::collection::vec(proptest::option::weighted(0.8, 0..nodes), ranges.len());
        (Just(ranges), owners).prop_map(|(ranges, owners)| {
            ranges
                .into_iter()
                .zip(owners)
                .map(|((s, e), o)| (s, e, o))
                .collect()
        })
    })
}

/// Encodes the assignment as a RESP2 CLUSTER SLOTS reply, ranges in a shuffled-looking order.
fn slots_reply(assignment: &[(u16, u16, Option<u16>)]) -> Vec<u8> {
    let assigned: Vec<_> = assignment
        .iter()
        .filter_map(|&(s, e, o)| Some((s, e, o?)))
        .rev()
        .collect();
    let mut wire = format!("*{}\r\n", assigned.len());
    for (start, end, owner) in assigned {
        let port = 7000 + owner;
        wire += &format!(
            "*3\r\n:{start}\r\n:{end}\r\n*3\r\n$4\r\nhost\r\n:{port}\r\n$2\r\nn{owner}\r\n"
        );
    }
    wire.into_bytes()
}

proptest! {
    #[test]
    fn master_for_agrees_with_the_ranges(assignment in assignment()) {
        let t = Topology::from_cluster_slots(&decode(&slots_reply(&assignment)), "seed").unwrap();
        let mut covered = 0;
        for &(start, end, owner) in &assignment {
            for s in [start, end, start + (end - start) / 2] {
                let got = t.master_for(Slot::new(s).unwrap()).map(|m| t.node(m).addr.port() - 7000);
                prop_assert_eq!(got, owner);
            }
            if owner.is_some() {
                covered += usize::from(end - start) + 1;
            }
        }
        prop_assert_eq!(t.covered_slots(), covered);
        prop_assert_eq!(t.is_fully_covered(), covered == 16384);
        // Every slot, exhaustively, against the ranges the view reports back.
        let mut from_ranges = vec![None; 16384];
        for (range, owner) in t.slot_ranges() {
            for s in range.start().get()..=range.end().get() {
                from_ranges[usize::from(s)] = Some(owner);
            }
        }
        for slot in Slot::all() {
            prop_assert_eq!(t.master_for(slot), from_ranges[slot.index()]);
        }
        let total: usize = t.slot_ranges().iter().map(|(r, _)| r.len()).sum::<usize>()
            + t.uncovered_ranges().iter().map(|r| r.len()).sum::<usize>();
        prop_assert_eq!(total, 16384);
        for m in t.masters() {
            let own: usize = t.slot_ranges_of(m).iter().map(|r: &SlotRange| r.len()).sum();
            prop_assert_eq!(own, t.slot_count(m));
        }
    }
}
