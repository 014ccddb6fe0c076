//! The verifiable log (issue 10): sealing ledger and request-ledger rows as leaves of an
//! RFC 6962 Merkle tree, signing tree heads with an Ed25519 key kept outside the store, and
//! `verify`, which recomputes everything from the store and names the first entry that does
//! not match. The tree itself is `tutela_core::merkle`.

use std::collections::HashMap;
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};
use tutela_core::merkle::{self, Hash};
use tutela_core::merkle_nodes::{self, NodeId, Nodes};
use tutela_store::{AnyStore, LogLeaf, LogSource, LogStore, SignedHead, StoreError};

/// Rows sealed per source in one step.
pub const SEAL_BATCH: i64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum LogKeyError {
    #[error("reading the log key {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("writing the log key {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("the log key {path} is not 64 hexadecimal characters (an Ed25519 secret key)")]
    Malformed { path: String },
    #[error("no randomness for a new log key")]
    NoRandomness,
}

/// The key that signs tree heads. It lives in a file or the environment, never in the store.
pub struct LogKey {
    signing: SigningKey,
    key_id: String,
}

impl LogKey {
    pub fn generate() -> Result<LogKey, LogKeyError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|_| LogKeyError::NoRandomness)?;
        Ok(LogKey::from_secret(secret))
    }

    fn from_secret(secret: [u8; 32]) -> LogKey {
        let signing = SigningKey::from_bytes(&secret);
        let key_id = key_id(&signing.verifying_key().to_bytes());
        LogKey { signing, key_id }
    }

    /// Reads the key from `path` (the secret as hex); never creates it.
    pub fn read(path: &Path) -> Result<LogKey, LogKeyError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LogKeyError::Read {
            path: shown.clone(),
            source,
        })?;
        let bytes = hex_decode(text.trim()).ok_or(LogKeyError::Malformed {
            path: shown.clone(),
        })?;
        let secret: [u8; 32] = bytes
            .try_into()
            .map_err(|_| LogKeyError::Malformed { path: shown })?;
        Ok(LogKey::from_secret(secret))
    }

    /// Reads the key from `path` (the secret as hex), creating it (mode 0600) when missing.
    pub fn load_or_create(path: &Path) -> Result<LogKey, LogKeyError> {
        let shown = path.display().to_string();
        match std::fs::metadata(path) {
            Ok(_) => LogKey::read(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = LogKey::generate()?;
                crate::write_private(path, &hex(&key.signing.to_bytes())).map_err(|source| {
                    LogKeyError::Write {
                        path: shown,
                        source,
                    }
                })?;
                Ok(key)
            }
            Err(source) => Err(LogKeyError::Read {
                path: shown,
                source,
            }),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    pub fn sign(&self, size: u64, root: Hash, at: jiff::Timestamp) -> SignedHead {
        let at = jiff::Timestamp::from_microsecond(at.as_microsecond()).unwrap_or(at);
        let signature = self.signing.sign(&head_message(size, &root, at));
        SignedHead {
            size,
            root,
            at,
            key_id: self.key_id.clone(),
            signature: signature.to_bytes().to_vec(),
        }
    }
}

/// A key's id: the first 8 bytes of the SHA-256 of its public key, in hex.
pub fn key_id(public: &[u8; 32]) -> String {
    hex(&Sha256::digest(public)[..8])
}

/// The bytes a tree head's signature covers.
pub fn head_message(size: u64, root: &Hash, at: jiff::Timestamp) -> Vec<u8> {
    format!(
        "tutela-log-head-v1\n{size}\n{}\n{}",
        hex(root),
        at.as_microsecond()
    )
    .into_bytes()
}

/// Whether `head` is signed by `public`.
pub fn verify_head(public: &[u8; 32], head: &SignedHead) -> bool {
    let (Ok(key), Ok(sig)) = (
        VerifyingKey::from_bytes(public),
        Signature::from_slice(&head.signature),
    ) else {
        return false;
    };
    key_id(public) == head.key_id
        && key
            .verify(&head_message(head.size, &head.root, head.at), &sig)
            .is_ok()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// One sealer at a time in this process: the background sealer and `POST /v1/log/head` would
/// otherwise number the same new leaves twice and one of them fail (another instance's sealer
/// runs under the lease; a head signed there meanwhile is taken as it is).
static SEALING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Seals the rows written since the last step as new leaves; returns how many. Each source
/// is sealed in its own order, so a leaf's row is always after its predecessor's.
pub async fn seal(store: &AnyStore) -> Result<usize, StoreError> {
    let _one = SEALING.lock().await;
    seal_now(store).await
}

async fn seal_now(store: &AnyStore) -> Result<usize, StoreError> {
    let mut next = store.log_size().await?;
    let mut leaves = Vec::new();
    for source in LogSource::ALL {
        let cursor = store.log_cursor(source).await?;
        for (seq, content) in store.log_contents(source, cursor, SEAL_BATCH).await? {
            leaves.push(LogLeaf {
                index: next,
                source,
                seq,
                leaf_hash: merkle::leaf_hash(&content),
            });
            next += 1;
        }
    }
    if leaves.is_empty() {
        return Ok(0);
    }
    let old = leaves[0].index;
    let new = next;
    let needs = merkle_nodes::grow_needs(old, new);
    let mut stored = store.log_nodes(&needs).await?;
    if stored.len() < needs.len() {
        // A log sealed before nodes were kept: derive them once from its leaves.
        fill_nodes(store).await?;
        stored = store.log_nodes(&needs).await?;
    }
    let hashes: Vec<Hash> = leaves.iter().map(|l| l.leaf_hash).collect();
    let nodes =
        merkle_nodes::grow(old, new, &hashes, &stored).ok_or_else(|| StoreError::Corrupt {
            seq: -1,
            what: "a log node the new leaves need is missing".into(),
        })?;
    store.append_leaves(&leaves, &nodes).await?;
    Ok(leaves.len())
}

/// Stores the nodes a log's leaves imply and that are missing (a log sealed before nodes were
/// kept); returns how many were added.
pub async fn fill_nodes(store: &AnyStore) -> Result<usize, StoreError> {
    let leaves = store.log_leaves().await?;
    let size = leaves.len() as u64;
    let expected: u64 = (1..64).map(|l| size >> l).sum();
    let present = store.all_log_nodes().await?;
    if present.len() as u64 >= expected {
        return Ok(0);
    }
    let hashes: Vec<Hash> = leaves.iter().map(|l| l.leaf_hash).collect();
    let all = merkle_nodes::grow(0, size, &hashes, &Nodes::new()).unwrap_or_default();
    let missing: Vec<(NodeId, Hash)> = all
        .into_iter()
        .filter(|(id, _)| !present.contains_key(id))
        .collect();
    store.append_leaves(&[], &missing).await?;
    Ok(missing.len())
}

/// The head of the first `size` leaves, from O(log n) stored nodes.
pub async fn root_of(store: &AnyStore, size: u64) -> Result<Option<Hash>, StoreError> {
    if size == 0 {
        return Ok(Some(merkle::root(&[])));
    }
    let nodes = store.log_nodes(&merkle_nodes::root_needs(size)).await?;
    Ok(merkle_nodes::root_from(size, &nodes))
}

/// Seals what is pending, then signs the tree head unless the newest signed head already has
/// this size.
pub async fn sign_head(
    store: &AnyStore,
    key: &LogKey,
    now: jiff::Timestamp,
) -> Result<SignedHead, StoreError> {
    let _one = SEALING.lock().await;
    while seal_now(store).await? > 0 {}
    let size = store.log_size().await?;
    if let Some(last) = store.heads().await?.pop()
        && last.size == size
    {
        return Ok(last);
    }
    let root = match root_of(store, size).await? {
        Some(root) => root,
        None => {
            fill_nodes(store).await?;
            root_of(store, size)
                .await?
                .ok_or_else(|| StoreError::Corrupt {
                    seq: -1,
                    what: "the log's nodes do not cover its leaves".into(),
                })?
        }
    };
    let head = key.sign(size, root, now);
    store.insert_head(&head).await?;
    Ok(head)
}

/// What `verify` checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub leaves: u64,
    pub heads: usize,
    /// Rows of the sources after the log's last leaf of each: written since the sealer's last
    /// pass, or cut from the log (leaves, nodes and heads deleted together). The first of them.
    pub unsealed: u64,
    pub first_unsealed: Option<String>,
}

/// Recomputes the log from the store: every leaf from its row, every row sealed up to its
/// source's cursor, each source in order, every signed head's root and signature. The error
/// names the first entry that does not match. The key is required: a log whose signatures were
/// not checked is not verified (a forger with database access recomputes every hash).
///
/// `kept` are signed heads an auditor kept apart from the store (from `GET /v1/log/head`):
/// the log must still hold each of them. Only they catch a log cut back as a whole (leaves,
/// nodes and heads deleted together, rows after the cut then look unsealed).
pub async fn verify(
    store: &AnyStore,
    public: &[u8; 32],
    kept: &[SignedHead],
) -> Result<Verified, String> {
    let io = |e: StoreError| format!("the store could not be read: {e}");
    let leaves = store.log_leaves().await.map_err(io)?;
    let mut rows: HashMap<LogSource, Vec<(i64, Vec<u8>)>> = HashMap::new();
    for source in LogSource::ALL {
        rows.insert(
            source,
            store.log_contents(source, 0, i64::MAX).await.map_err(io)?,
        );
    }
    let mut position: HashMap<LogSource, usize> = HashMap::new();
    for (i, leaf) in leaves.iter().enumerate() {
        let name = format!("leaf {i} ({} {})", leaf.source.as_str(), leaf.seq);
        if leaf.index != i as u64 {
            return Err(format!("{name}: stored at index {}", leaf.index));
        }
        let source_rows = &rows[&leaf.source];
        let at = position.entry(leaf.source).or_default();
        // The source's rows in order: each leaf takes the next one.
        match source_rows.get(*at) {
            Some((seq, _)) if *seq < leaf.seq => {
                let later = leaves[i..]
                    .iter()
                    .any(|l| l.source == leaf.source && l.seq == *seq);
                return Err(if later {
                    format!("{name}: out of order in the log (reordered)")
                } else {
                    format!(
                        "{} {seq}: the row is in the store but in no leaf (inserted after sealing, or its leaf was removed)",
                        leaf.source.as_str()
                    )
                });
            }
            Some((seq, content)) if *seq == leaf.seq => {
                if merkle::leaf_hash(content) != leaf.leaf_hash {
                    return Err(format!(
                        "{name}: the stored row does not match the sealed hash (changed)"
                    ));
                }
                *at += 1;
            }
            _ => {
                let reordered = source_rows.iter().any(|(seq, _)| *seq == leaf.seq);
                return Err(if reordered {
                    format!("{name}: out of order in the log (reordered)")
                } else {
                    format!("{name}: the row is missing from the store (deleted)")
                });
            }
        }
    }
    let mut unsealed = 0u64;
    let mut first_unsealed = None;
    for source in LogSource::ALL {
        let after = position.get(&source).copied().unwrap_or(0);
        let rest = rows[&source].get(after..).unwrap_or_default();
        if let Some((seq, _)) = rest.first()
            && first_unsealed.is_none()
        {
            first_unsealed = Some(format!("{} {seq}", source.as_str()));
        }
        unsealed += rest.len() as u64;
    }
    let hashes: Vec<Hash> = leaves.iter().map(|l| l.leaf_hash).collect();
    for h in kept {
        let name = format!("the kept head of size {}", h.size);
        if !verify_head(public, h) {
            return Err(format!(
                "{name}: its signature does not verify with key {}",
                key_id(public)
            ));
        }
        match hashes.get(..usize::try_from(h.size).unwrap_or(usize::MAX)) {
            None => {
                return Err(format!(
                    "{name}: the log holds only {} leaves (cut back since the head was kept)",
                    hashes.len()
                ));
            }
            Some(prefix) if merkle::root(prefix) != h.root => {
                return Err(format!(
                    "{name}: the log's first {} leaves no longer give its root (rewritten since the head was kept)",
                    h.size
                ));
            }
            Some(_) => {}
        }
    }
    // The stored nodes must be what the leaves give: proofs are built from them.
    let expected: Nodes = merkle_nodes::grow(0, hashes.len() as u64, &hashes, &Nodes::new())
        .unwrap_or_default()
        .into_iter()
        .collect();
    let stored = store.all_log_nodes().await.map_err(io)?;
    let mut ids: Vec<&NodeId> = expected.keys().collect();
    ids.sort_unstable();
    for id in ids {
        if stored.get(id).is_some_and(|s| Some(s) != expected.get(id)) {
            return Err(format!(
                "node (level {}, index {}): the leaves do not give its hash (changed)",
                id.level, id.index
            ));
        }
    }
    if let Some(extra) = stored.keys().filter(|id| !expected.contains_key(id)).min() {
        return Err(format!(
            "node (level {}, index {}): covers leaves the log does not hold (truncated)",
            extra.level, extra.index
        ));
    }
    let heads = store.heads().await.map_err(io)?;
    for h in &heads {
        let Some(prefix) = hashes.get(..usize::try_from(h.size).unwrap_or(usize::MAX)) else {
            return Err(format!(
                "head of size {}: the log holds only {} leaves (truncated)",
                h.size,
                hashes.len()
            ));
        };
        if merkle::root(prefix) != h.root {
            return Err(format!(
                "head of size {}: the leaves do not give its root (changed or reordered)",
                h.size
            ));
        }
        if !verify_head(public, h) {
            return Err(format!(
                "head of size {}: the signature does not verify with key {}",
                h.size,
                key_id(public)
            ));
        }
    }
    Ok(Verified {
        leaves: leaves.len() as u64,
        heads: heads.len(),
        unsealed,
        first_unsealed,
    })
}
