//! Giving freed memory back to the system after a big flag file is replaced.
//!
//! glibc's allocator keeps freed memory in its heaps for reuse. Worse, once
//! a block bigger than its mmap threshold is freed it raises that threshold
//! (up to 32 MiB) and the trim threshold with it, so the next big blocks of
//! a reload land in per-thread heaps that are never trimmed: after a file
//! with a million pilot ids went back to a small one, a server kept 16 to
//! 60 MB it no longer used, and even `malloc_trim` could not return the
//! per-thread heaps' free tops. So [`configure`] fixes both thresholds at
//! start (which turns the adjustment off: big blocks are always mapped on
//! their own and unmapped when freed, heaps shrink from the top), and a
//! `malloc_trim` a moment after each reload (once requests that started on
//! the old snapshot are done with it) returns what is free inside the
//! heaps. Elsewhere (musl, macOS, other allocators) this does nothing.

use std::time::Duration;

/// How long after a reload to trim: requests in flight on the previous
/// snapshot hold it until they finish.
const AFTER_RELOAD: Duration = Duration::from_secs(2);

/// Schedules a trim on `runtime`'s blocking pool [`AFTER_RELOAD`] from now.
pub(crate) fn trim_later(runtime: &tokio::runtime::Handle) {
    runtime.spawn(async {
        tokio::time::sleep(AFTER_RELOAD).await;
        let _ = tokio::task::spawn_blocking(release_free_memory).await;
    });
}

/// Blocks of this size or more get a mapping of their own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 256 * 1024;
/// A heap whose free top exceeds this is shrunk.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: i32 = 1024 * 1024;

/// Fixes the allocator's thresholds; call once at start, before threads.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // Two calls into the C library, with no pointers.
pub(crate) fn configure() {
    // SAFETY: `mallopt` takes two integers and only sets the allocator's
    // parameters; both are documented settings with in-range values.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn configure() {}

/// Returns the allocator's free memory to the system, where it can.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // One call into the C library, with no pointers.
pub(crate) fn release_free_memory() {
    // SAFETY: `malloc_trim` takes a byte count and works only on the
    // allocator's own state; glibc documents it as thread-safe (MT-Safe).
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn release_free_memory() {}
