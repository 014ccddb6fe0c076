//! Tree heads and proofs from stored subtree hashes. A log keeps the hash of every complete,
//! aligned subtree (2^level leaves from index · 2^level; level 0 are the leaves), so a head or
//! a proof needs O(log n) of them instead of every leaf. Each computation comes in two steps
//! that tests and the server drive alike: which nodes it needs (`*_needs`), then the result from
//! those nodes (`*_from`); the result equals what [`crate::merkle`] computes from all leaves.

use std::collections::HashMap;

use crate::merkle::{Hash, node_hash};

/// A complete subtree: `2^level` leaves from leaf `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u32,
    pub index: u64,
}

/// Stored nodes, by id.
pub type Nodes = HashMap<NodeId, Hash>;

/// The largest power of two smaller than `n` (n > 1).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH of the `len` leaves from `start`. In the recursions of RFC 9162 every subtree is either
/// complete and aligned (a stored node) or the rightmost, which splits again.
fn range_root(start: u64, len: u64, get: &mut dyn FnMut(NodeId) -> Option<Hash>) -> Option<Hash> {
    if len.is_power_of_two() {
        let level = len.trailing_zeros();
        return get(NodeId {
            level,
            index: start >> level,
        });
    }
    let k = split(len);
    let left = range_root(start, k, get)?;
    let right = range_root(start + k, len - k, get)?;
    Some(node_hash(&left, &right))
}

/// PATH(m, D[start..start+n]).
fn path(
    m: u64,
    start: u64,
    n: u64,
    get: &mut dyn FnMut(NodeId) -> Option<Hash>,
    out: &mut Vec<Hash>,
) -> Option<()> {
    if n <= 1 {
        return Some(());
    }
    let k = split(n);
    if m < k {
        path(m, start, k, get, out)?;
        out.push(range_root(start + k, n - k, get)?);
    } else {
        path(m - k, start + k, n - k, get, out)?;
        out.push(range_root(start, k, get)?);
    }
    Some(())
}

/// SUBPROOF(m, D[start..start+n], whole).
fn subproof(
    m: u64,
    start: u64,
    n: u64,
    whole: bool,
    get: &mut dyn FnMut(NodeId) -> Option<Hash>,
    out: &mut Vec<Hash>,
) -> Option<()> {
    if m == n {
        if !whole {
            out.push(range_root(start, n, get)?);
        }
        return Some(());
    }
    let k = split(n);
    if m <= k {
        subproof(m, start, k, whole, get, out)?;
        out.push(range_root(start + k, n - k, get)?);
    } else {
        subproof(m - k, start + k, n - k, false, get, out)?;
        out.push(range_root(start, k, get)?);
    }
    Some(())
}

/// The node ids `compute` asks for (what it asks for does not depend on the hashes).
fn needs(compute: impl FnOnce(&mut dyn FnMut(NodeId) -> Option<Hash>)) -> Vec<NodeId> {
    let mut ids = Vec::new();
    compute(&mut |id| {
        ids.push(id);
        Some([0; 32])
    });
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The nodes the head of a tree of `size` leaves needs (none for the empty tree).
pub fn root_needs(size: u64) -> Vec<NodeId> {
    needs(|get| {
        if size > 0 {
            let _ = range_root(0, size, get);
        }
    })
}

/// The head of a tree of `size > 0` leaves; `None` when a node is missing.
pub fn root_from(size: u64, nodes: &Nodes) -> Option<Hash> {
    if size == 0 {
        return None;
    }
    range_root(0, size, &mut |id| nodes.get(&id).copied())
}

/// The nodes the audit path of leaf `index` in a tree of `size` leaves needs.
pub fn inclusion_needs(index: u64, size: u64) -> Vec<NodeId> {
    needs(|get| {
        if index < size {
            let _ = path(index, 0, size, get, &mut Vec::new());
        }
    })
}

/// PATH(index, D[size]); `None` when the index is outside the tree or a node is missing.
pub fn inclusion_from(index: u64, size: u64, nodes: &Nodes) -> Option<Vec<Hash>> {
    if index >= size {
        return None;
    }
    let mut out = Vec::new();
    path(index, 0, size, &mut |id| nodes.get(&id).copied(), &mut out)?;
    Some(out)
}

/// The nodes the consistency proof from `m` to `size` leaves needs.
pub fn consistency_needs(m: u64, size: u64) -> Vec<NodeId> {
    needs(|get| {
        if m > 0 && m <= size {
            let _ = subproof(m, 0, size, true, get, &mut Vec::new());
        }
    })
}

/// PROOF(m, D[size]); `None` unless 0 < m <= size, or when a node is missing.
pub fn consistency_from(m: u64, size: u64, nodes: &Nodes) -> Option<Vec<Hash>> {
    if m == 0 || m > size {
        return None;
    }
    let mut out = Vec::new();
    subproof(
        m,
        0,
        size,
        true,
        &mut |id| nodes.get(&id).copied(),
        &mut out,
    )?;
    Some(out)
}

/// The stored nodes that growing a tree from `old` to `new` leaves reads: at most one left
/// sibling per level.
pub fn grow_needs(old: u64, new: u64) -> Vec<NodeId> {
    let mut ids = Vec::new();
    for level in 1..64u32 {
        let first = old >> level;
        let last = new >> level;
        if first >= last {
            continue;
        }
        let child = level - 1;
        let left = NodeId {
            level: child,
            index: first * 2,
        };
        if left.index < old >> child {
            ids.push(left);
        }
    }
    ids
}

/// The nodes that become complete when the tree grows from `old` to `new` leaves, given the
/// new leaves' hashes (`new - old` of them) and the nodes [`grow_needs`] names. `None` when
/// one of those is missing.
pub fn grow(
    old: u64,
    new: u64,
    new_leaves: &[Hash],
    stored: &Nodes,
) -> Option<Vec<(NodeId, Hash)>> {
    if new < old || new - old != new_leaves.len() as u64 {
        return None;
    }
    let mut fresh: Nodes = HashMap::new();
    for (i, h) in new_leaves.iter().enumerate() {
        fresh.insert(
            NodeId {
                level: 0,
                index: old + i as u64,
            },
            *h,
        );
    }
    let mut out = Vec::new();
    for level in 1..64u32 {
        let (first, last) = (old >> level, new >> level);
        for index in first..last {
            let child = |i: u64| {
                let id = NodeId {
                    level: level - 1,
                    index: i,
                };
                fresh.get(&id).or_else(|| stored.get(&id)).copied()
            };
            let hash = node_hash(&child(index * 2)?, &child(index * 2 + 1)?);
            fresh.insert(NodeId { level, index }, hash);
            out.push((NodeId { level, index }, hash));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{self, leaf_hash};

    /// Every node of a tree grown in uneven steps, as a log seals batches.
    fn grown(leaves: &[Hash], steps: &[usize]) -> Nodes {
        let mut nodes = Nodes::new();
        let mut old = 0usize;
        let mut steps = steps.iter().cycle();
        while old < leaves.len() {
            let new = (old + steps.next().copied().unwrap_or(1)).min(leaves.len());
            for id in grow_needs(old as u64, new as u64) {
                assert!(
                    nodes.contains_key(&id),
                    "{id:?} needed when growing {old}..{new}"
                );
            }
            let made = grow(old as u64, new as u64, &leaves[old..new], &nodes).unwrap_or_default();
            for (i, h) in leaves[old..new].iter().enumerate() {
                nodes.insert(
                    NodeId {
                        level: 0,
                        index: (old + i) as u64,
                    },
                    *h,
                );
            }
            nodes.extend(made);
            old = new;
        }
        nodes
    }

    #[test]
    fn heads_and_proofs_from_nodes_equal_those_from_all_leaves() {
        let leaves: Vec<Hash> = (0u32..70).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let nodes = grown(&leaves, &[1, 3, 7, 2, 16, 5]);
        for n in 1..=leaves.len() {
            let d = &leaves[..n];
            let size = n as u64;
            let only = |ids: Vec<NodeId>| -> Nodes {
                ids.into_iter().map(|id| (id, nodes[&id])).collect()
            };
            assert_eq!(
                root_from(size, &only(root_needs(size))),
                Some(merkle::root(d)),
                "root {n}"
            );
            for m in 0..n {
                assert_eq!(
                    inclusion_from(m as u64, size, &only(inclusion_needs(m as u64, size))),
                    merkle::inclusion_proof(d, m),
                    "path {m} of {n}"
                );
                let m1 = m as u64 + 1;
                assert_eq!(
                    consistency_from(m1, size, &only(consistency_needs(m1, size))),
                    merkle::consistency_proof(d, m + 1),
                    "proof {} of {n}",
                    m + 1
                );
            }
            assert!(root_needs(size).len() <= 2 * 64, "O(log n) nodes");
        }
    }

    #[test]
    fn a_missing_node_is_none_not_a_wrong_answer() {
        assert_eq!(root_from(3, &Nodes::new()), None);
        assert_eq!(inclusion_from(5, 3, &Nodes::new()), None);
        assert_eq!(consistency_from(0, 3, &Nodes::new()), None);
    }
}
