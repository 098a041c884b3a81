//! One memory budget for decoding, shared by every decode in the process: a thumbnail job, the
//! renders of the web UI and DICOMweb, a transcode for a send. A decode reserves what it will
//! need (its estimate from the frame's size, before anything is allocated) and gives it back
//! when the frame is dropped; a frame larger than the whole budget is refused with the reason,
//! and decodes beyond what is free wait for their turn (for a while, then they are refused).

use super::PixelError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The budget unless configured otherwise.
pub const DEFAULT_DECODE_BUDGET: u64 = 512 << 20;
/// How long a decode waits for others to free enough of the budget.
const WAIT: Duration = Duration::from_secs(20);

struct Budget {
    limit: AtomicU64,
    used: Mutex<u64>,
    freed: Condvar,
}

static BUDGET: Budget = Budget {
    limit: AtomicU64::new(DEFAULT_DECODE_BUDGET),
    used: Mutex::new(0),
    freed: Condvar::new(),
};

/// Sets the decode budget of the process, in bytes.
pub fn set_decode_budget(bytes: u64) {
    BUDGET.limit.store(bytes.max(1 << 20), Ordering::SeqCst);
    BUDGET.freed.notify_all();
}

/// The decode budget of the process, in bytes.
pub fn decode_budget() -> u64 {
    BUDGET.limit.load(Ordering::SeqCst)
}

/// Memory held for one decoded frame, given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    bytes: u64,
}

/// Reserves `bytes` of the budget, waiting while other decodes hold too much of it.
pub(crate) fn reserve(bytes: u64) -> Result<Reservation, PixelError> {
    let limit = decode_budget();
    if bytes > limit {
        return Err(PixelError::OverBudget {
            needed: bytes,
            budget: limit,
        });
    }
    let deadline = Instant::now() + WAIT;
    let mut used = BUDGET.used.lock().unwrap_or_else(|e| e.into_inner());
    while *used + bytes > decode_budget() {
        let now = Instant::now();
        if now >= deadline {
            return Err(PixelError::BudgetBusy { needed: bytes });
        }
        used = BUDGET
            .freed
            .wait_timeout(used, deadline - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    *used += bytes;
    Ok(Reservation { bytes })
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut used = BUDGET.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(self.bytes);
        BUDGET.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_the_budget_is_refused_and_what_fits_waits_its_turn() {
        let limit = decode_budget();
        assert!(matches!(
            reserve(limit + 1),
            Err(PixelError::OverBudget { .. })
        ));
        let most = reserve(limit - (1 << 20)).unwrap();
        let waiter = std::thread::spawn(move || reserve(2 << 20).map(|_| ()));
        std::thread::sleep(Duration::from_millis(100));
        assert!(!waiter.is_finished(), "it waits while the budget is held");
        drop(most);
        assert!(waiter.join().unwrap().is_ok());
    }
}
