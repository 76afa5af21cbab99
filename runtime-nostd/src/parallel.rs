//! Two pieces of work at once, where the hardware has a second core: the interface through which
//! [`Model::infer_parallel`](crate::Model::infer_parallel) splits each int8 layer into two
//! halves (a convolution's output pixels, a dense layer's neurons). The runtime starts no thread and knows no core; a board gives
//! its second core behind [`Parallel`], a host may give a thread, and [`Serial`] runs both
//! halves on the caller's core. Every split gives the codes the whole layer gives, bit for bit.

/// Runs two pieces of work, at once where it can.
pub trait Parallel {
    /// Runs `there` and `here`, and returns when both are done. `there` may run on another core
    /// (hence `Send`), `here` runs on the caller's; the two touch disjoint memory.
    fn join(&mut self, there: &mut (dyn FnMut() + Send), here: &mut dyn FnMut());
}

/// One core: `there`, then `here`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Serial;

impl Parallel for Serial {
    fn join(&mut self, there: &mut (dyn FnMut() + Send), here: &mut dyn FnMut()) {
        there();
        here();
    }
}
