//! How large a policy may be: what the compact subject state and the compiled policy's bit
//! sets can hold. Validation refuses more; compilation relies on it. Its own file so that the
//! compiled policy reads these limits without depending on validation.

/// The limits of the compact subject state (see `state.rs`): one bit per purpose, category and
/// consent slot in a `u64`.
pub const MAX_PURPOSES: usize = 64;
pub const MAX_CATEGORIES: usize = 64;
pub const MAX_CHANNELS: usize = 16;
/// Per-person Art. 49 grounds keep one bit per third country in each of two `u32` masks.
pub const MAX_THIRD_COUNTRIES: usize = 32;
