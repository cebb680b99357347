//! Buffers the CPU kernels write before they read: outputs not zero-filled first, the
//! per-thread scratch buffer, and the slots a transposition may write into.

use std::mem::MaybeUninit;

/// `len` values to be written before they are read (see [`written`]).
pub(crate) fn unwritten(len: usize) -> Vec<std::mem::MaybeUninit<f32>> {
    let mut v = Vec::with_capacity(len);
    // SAFETY: MaybeUninit needs no initialisation.
    unsafe { v.set_len(len) };
    v
}

/// The values of a buffer from [`unwritten`] once every one has been written. Safety: every
/// entry must have been written.
pub(crate) unsafe fn written(v: Vec<std::mem::MaybeUninit<f32>>) -> Vec<f32> {
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: MaybeUninit<f32> has f32's layout; the caller vouches for initialisation.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr().cast::<f32>(), v.len(), v.capacity()) }
}

/// A destination value a kernel writes: an `f32` already there, or one not yet written (a
/// buffer from [`unwritten`]).
///
/// # Safety
///
/// Implementors have `f32`'s size and alignment, and an `f32` written through a pointer
/// cast leaves them initialised (the AVX tiles store through one).
pub(crate) unsafe trait Slot {
    /// Writes `value` here.
    fn put(&mut self, value: f32);
}

// SAFETY: f32 is f32.
unsafe impl Slot for f32 {
    fn put(&mut self, value: f32) {
        *self = value;
    }
}

// SAFETY: MaybeUninit<f32> has f32's layout; a written f32 initialises it.
unsafe impl Slot for MaybeUninit<f32> {
    fn put(&mut self, value: f32) {
        self.write(value);
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Calls `f` with this thread's scratch buffer of at least `len` values (reused from call to
/// call; its contents are whatever the last user left). While a thread waits on a parallel
/// loop it may run other tasks; should one of them need the buffer while it is lent out, it
/// gets a fresh one.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < len {
                buffer.resize(len, 0.0);
            }
            f(&mut buffer[..len])
        }
        Err(_) => f(&mut vec![0.0f32; len]),
    })
}
