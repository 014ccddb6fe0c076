//! The Merkle tree of RFC 6962 / RFC 9162 (section 2.1): leaf and node hashes with the 0x00 and
//! 0x01 prefixes, the tree head, inclusion and consistency proofs, and their verification, as
//! pure functions over leaf hashes. The verifiable log (issue 10) builds on these; a verifier
//! needs nothing but a proof, a tree head and this module.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two smaller than `n` (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The tree head of the leaves, MTH(D[n]); the empty tree's is SHA-256 of nothing.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The audit path of leaf `index` (from 0) in the tree of `leaves`, PATH(m, D[n]); `None`
/// when the index is outside the tree.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    (index < leaves.len()).then(|| path(index, leaves))
}

fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n <= 1 {
        return vec![];
    }
    let k = split(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(root(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(root(&d[..k]));
        p
    }
}

/// The proof that the tree of the first `m` leaves is a prefix of the tree of all `leaves`,
/// PROOF(m, D[n]); `None` unless 0 < m <= n.
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Option<Vec<Hash>> {
    (m > 0 && m <= leaves.len()).then(|| subproof(m, leaves, true))
}

fn subproof(m: usize, d: &[Hash], whole: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if whole { vec![] } else { vec![root(d)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], whole);
        p.push(root(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(root(&d[..k]));
        p
    }
}

/// Checks an audit path (RFC 9162, 2.1.3.2): leaf `index` of a tree of `size` leaves, whose
/// head is `root`.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// Checks a consistency proof (RFC 9162, 2.1.4.2) between the heads of trees of `size1` and
/// `size2` leaves.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    root1: &Hash,
    root2: &Hash,
    proof: &[Hash],
) -> bool {
    if size1 > size2 || size1 == 0 {
        return false;
    }
    if size1 == size2 {
        return proof.is_empty() && root1 == root2;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(*root1);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut fn_, mut sn) = (size1 - 1, size2 - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && fr == *root1 && sr == *root2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn h(s: &str) -> Hash {
        hex(s).try_into().expect("32 bytes")
    }

    /// The reference tree of the certificate-transparency project's Merkle tree tests
    /// (cpp/merkletree/merkle_tree_test.cc, in Debian's
    /// golang-github-google-certificate-transparency-dev): eight leaves, their incremental
    /// roots, audit paths and consistency proofs.
    const INPUTS: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn leaves() -> Vec<Hash> {
        INPUTS.iter().map(|i| leaf_hash(&hex(i))).collect()
    }

    #[test]
    fn the_empty_tree_and_the_reference_roots() {
        assert_eq!(
            root(&[]),
            h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        let l = leaves();
        for n in 1..=8 {
            assert_eq!(root(&l[..n]), h(ROOTS[n - 1]), "tree of {n}");
        }
    }

    #[test]
    fn the_reference_audit_paths() {
        let l = leaves();
        // (leaf from 1 as in the vectors, tree size, path)
        let cases: [(usize, usize, &[&str]); 4] = [
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                3,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                2,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (leaf, size, want) in cases {
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            let got = inclusion_proof(&l[..size], leaf - 1).expect("in the tree");
            assert_eq!(got, want, "leaf {leaf} of {size}");
            assert!(verify_inclusion(
                &l[leaf - 1],
                (leaf - 1) as u64,
                size as u64,
                &got,
                &h(ROOTS[size - 1])
            ));
        }
        assert_eq!(inclusion_proof(&l[..1], 0), Some(vec![]));
        assert_eq!(inclusion_proof(&l, 8), None);
    }

    #[test]
    fn the_reference_consistency_proofs() {
        let l = leaves();
        let cases: [(usize, usize, &[&str]); 4] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (m, n, want) in cases {
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            let got = consistency_proof(&l[..n], m).expect("m <= n");
            assert_eq!(got, want, "{m} -> {n}");
            assert!(verify_consistency(
                m as u64,
                n as u64,
                &h(ROOTS[m - 1]),
                &h(ROOTS[n - 1]),
                &got
            ));
        }
    }

    #[test]
    fn every_proof_of_every_small_tree_verifies_and_any_change_fails() {
        let l: Vec<Hash> = (0..20u8).map(|i| leaf_hash(&[i; 3])).collect();
        for n in 1..=l.len() {
            let head = root(&l[..n]);
            for i in 0..n {
                let p = inclusion_proof(&l[..n], i).expect("proof");
                assert!(verify_inclusion(&l[i], i as u64, n as u64, &p, &head));
                let other = leaf_hash(b"not in the tree");
                assert!(!verify_inclusion(&other, i as u64, n as u64, &p, &head));
                for j in 0..p.len() {
                    let mut bad = p.clone();
                    bad[j][0] ^= 1;
                    assert!(!verify_inclusion(&l[i], i as u64, n as u64, &bad, &head));
                }
                assert!(!verify_inclusion(&l[i], n as u64, n as u64, &p, &head));
            }
            for m in 1..=n {
                let p = consistency_proof(&l[..n], m).expect("proof");
                let old = root(&l[..m]);
                assert!(
                    verify_consistency(m as u64, n as u64, &old, &head, &p),
                    "{m} -> {n}"
                );
                if m < n {
                    let mut other = l[..n].to_vec();
                    other[m - 1][0] ^= 1;
                    assert!(!verify_consistency(
                        m as u64,
                        n as u64,
                        &root(&other[..m]),
                        &head,
                        &p
                    ));
                    for j in 0..p.len() {
                        let mut bad = p.clone();
                        bad[j][5] ^= 1;
                        assert!(!verify_consistency(m as u64, n as u64, &old, &head, &bad));
                    }
                }
            }
        }
    }
}
