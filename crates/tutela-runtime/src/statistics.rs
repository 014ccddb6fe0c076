//! Anonymous statistics from files (N7c, N16): a CSV table read in chunks through the core's
//! aggregator, and the operating system's randomness for the noise. Shared by the API, which
//! releases from registered datasets under their budget, and by `tutela stats`.

use std::io::Read;
use std::path::Path;

use tutela_core::pseudonym::table::{OnBadRow, RowError, TableError};
use tutela_core::stats::noise::AesCtrBits;
use tutela_core::stats::{Aggregator, Query, Tally};

/// Why a file could not be tallied.
#[derive(Debug, thiserror::Error)]
pub enum TallyFileError {
    #[error("the file could not be read: {0}")]
    Io(std::io::ErrorKind),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(transparent)]
    Row(#[from] RowError),
}

/// Bytes read at a time: large enough for the aggregator's speed, small next to any budget.
const CHUNK: usize = 1 << 20;

/// Tallies the CSV file at `path` for `query`, calling `progress` with the bytes read so far.
/// Bad rows stop the tally or, with [`OnBadRow::Reject`], are left out and returned (line and
/// column, never content).
pub fn tally_file(
    path: &Path,
    query: Query,
    on_bad: OnBadRow,
    progress: impl FnMut(u64),
) -> Result<(Tally, Vec<RowError>), TallyFileError> {
    let file = std::fs::File::open(path).map_err(|e| TallyFileError::Io(e.kind()))?;
    tally(file, query, on_bad, progress)
}

/// [`tally_file`] of a file already opened (and checked) by the caller.
pub fn tally(
    mut file: std::fs::File,
    query: Query,
    on_bad: OnBadRow,
    mut progress: impl FnMut(u64),
) -> Result<(Tally, Vec<RowError>), TallyFileError> {
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK * 2);
    let mut read_total = 0u64;
    let mut eof = false;
    let mut errors = Vec::new();
    // The header must be complete before the aggregator is made.
    let mut aggregator = loop {
        eof = fill(&mut file, &mut buf, &mut read_total)? || eof;
        let header_done = eof || memchr_newline(&buf);
        if header_done {
            let (aggregator, consumed) = Aggregator::new(query, &buf)?;
            buf.drain(..consumed);
            break aggregator;
        }
    };
    loop {
        let p = aggregator.process(&buf, eof, on_bad, &mut errors)?;
        buf.drain(..p.consumed);
        progress(read_total);
        if eof {
            break;
        }
        eof = fill(&mut file, &mut buf, &mut read_total)?;
    }
    Ok((aggregator.finish(), errors))
}

fn memchr_newline(buf: &[u8]) -> bool {
    buf.contains(&b'\n')
}

/// Appends up to [`CHUNK`] bytes; `true` at the end of the file.
fn fill(
    file: &mut std::fs::File,
    buf: &mut Vec<u8>,
    total: &mut u64,
) -> Result<bool, TallyFileError> {
    let start = buf.len();
    buf.resize(start + CHUNK, 0);
    let mut filled = start;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => {
                buf.truncate(filled);
                return Ok(true);
            }
            Ok(n) => {
                filled += n;
                *total += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(TallyFileError::Io(e.kind())),
        }
    }
    Ok(false)
}

/// A generator for one release, keyed from the operating system's randomness. Without it no
/// noise is drawn: a release that cannot be made safely is not made.
pub fn release_bits() -> Result<AesCtrBits, getrandom::Error> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)?;
    Ok(AesCtrBits::new(&key))
}
