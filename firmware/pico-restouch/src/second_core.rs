//! The RP2350's second Cortex-M33 as the inference's helper: started once at boot (embassy-rp's
//! `spawn_core1`, through the boot ROM's FIFO handshake), it then sleeps (`WFE`) until core 0
//! hands it a piece of work ([`SecondCore`]'s `Parallel::join`: the second half of a
//! convolution's output pixels) and wakes core 0 (`SEV`) when that is done. The Pico's build
//! (RP2040) keeps one core: its emulator (rp2040js) runs no second core, so nothing here could
//! check the split there.

use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};

use cortex_m::asm::{sev, wfe};
use embassy_rp::Peri;
use embassy_rp::multicore::{Stack, spawn_core1};
use embassy_rp::peripherals::CORE1;
use runtime_nostd::Parallel;
use static_cell::ConstStaticCell;

/// The second core's stack: the int8 convolution's frame (its sums, scales and the padded
/// filters' copy: about 5 KB) and what calls it, with room to spare. embassy-rp guards its
/// bottom: an overflow faults instead of writing past it.
const STACK_BYTES: usize = 8 * 1024;

/// A piece of work core 0 hands over: a closure on core 0's stack, which stays there until the
/// second core has run it ([`SecondCore`]'s `join` waits for that).
struct Work {
    run: *mut (dyn FnMut() + Send),
}

/// The work handed over, or null while there is none: set by core 0, cleared by the second
/// core once it has run it.
static WORK: AtomicPtr<Work> = AtomicPtr::new(null_mut());

/// The running second core; `&mut` to it hands work over one piece at a time.
pub struct SecondCore(());

impl SecondCore {
    /// Starts the second core, idle until work comes.
    pub fn start(core1: Peri<'static, CORE1>) -> SecondCore {
        static STACK: ConstStaticCell<Stack<STACK_BYTES>> = ConstStaticCell::new(Stack::new());
        spawn_core1(core1, STACK.take(), || {
            loop {
                let work = WORK.load(Ordering::Acquire);
                if work.is_null() {
                    wfe();
                    continue;
                }
                // SAFETY: core 0 published a pointer to a live `Work` whose closure nothing
                // else touches, and keeps both alive, until WORK is null again (`join`).
                unsafe { (*(*work).run)() };
                WORK.store(null_mut(), Ordering::Release);
                sev();
            }
        });
        SecondCore(())
    }
}

impl Parallel for SecondCore {
    fn join(&mut self, there: &mut (dyn FnMut() + Send), here: &mut dyn FnMut()) {
        let run: *mut (dyn FnMut() + Send + '_) = there;
        // SAFETY: only the lifetime is erased: `there` and `work` live in this frame until the
        // loop below has seen the second core clear WORK, that is finish with them, and
        // `&mut self` keeps a second join from handing other work over meanwhile.
        let run: *mut (dyn FnMut() + Send + 'static) = unsafe { core::mem::transmute(run) };
        let mut work = Work { run };
        WORK.store(&mut work, Ordering::Release);
        sev();
        here();
        while !WORK.load(Ordering::Acquire).is_null() {
            wfe();
        }
    }
}
