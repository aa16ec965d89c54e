//! The A/B split: which arm of a `split` step an enrollment takes, decided by a hash so that a
//! redelivered step (or a replay) takes the same arm without storing anything first.

use sha2::{Digest, Sha256};

use super::SplitBranch;

/// The index of the arm enrollment `enrollment_id` takes at step `step_id`: SHA-256 of both
/// (NUL-separated) picks a point in `0..total percent`, and the arms own consecutive ranges
/// of their size. The same inputs always give the same arm; across enrollments the arms get
/// their percentages. Arms that do not add up to 100 share in proportion; with no arms (or
/// only 0 %), the answer is 0.
pub fn split_branch(enrollment_id: &str, step_id: &str, branches: &[SplitBranch]) -> usize {
    let total: u64 = branches.iter().map(|b| u64::from(b.percent)).sum();
    if total == 0 {
        return 0;
    }
    let digest = Sha256::new()
        .chain_update(enrollment_id.as_bytes())
        .chain_update([0u8])
        .chain_update(step_id.as_bytes())
        .finalize();
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    // 2^64 is not a multiple of `total`; the bias is below 1e-17, far under any A/B test's noise.
    let point = u64::from_be_bytes(head) % total;
    let mut upper = 0;
    for (index, branch) in branches.iter().enumerate() {
        upper += u64::from(branch.percent);
        if point < upper {
            return index;
        }
    }
    branches.len() - 1
}
