//! The module's plain exports, the page's whole interface (`site/main.js` calls them): start
//! with the embedded model or one the page copied in, feed pointer events and idle ticks, read
//! the frame, the answer and any error message out of the module's memory.
//!
//! One [`Page`] lives in the module (a page has one screen); the pointers returned stay valid
//! until the next call that takes `&mut` (a poll, a start).

use std::cell::RefCell;

use embedded_graphics::prelude::{OriginDimensions, Point};

use crate::{Page, models};

thread_local! {
    static PAGE: RefCell<Option<Page>> = const { RefCell::new(None) };
    /// A model the page fetched (`?model=`), copied in through [`model_buffer`].
    static FETCHED_MODEL: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// The last error, for [`message_ptr`] and [`message_len`].
    static MESSAGE: RefCell<String> = const { RefCell::new(String::new()) };
}

#[cfg(target_arch = "wasm32")]
// SAFETY: `now_ms` is the page's `() => performance.now()` (main.js passes it in the `env`
// import object): no arguments, returns an f64, touches no memory of the module.
#[link(wasm_import_module = "env")]
unsafe extern "C" {
    safe fn now_ms() -> f64;
}

/// Off the browser (host tests), a clock of the process.
#[cfg(not(target_arch = "wasm32"))]
fn now_ms() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
        * 1e3
}

fn now_us() -> u64 {
    (now_ms() * 1e3) as u64
}

fn with_page<T>(default: T, f: impl FnOnce(&mut Page) -> T) -> T {
    PAGE.with_borrow_mut(|page| page.as_mut().map_or(default, f))
}

/// A buffer of `len` bytes for a model the page fetched; `start(1)` runs it.
#[unsafe(no_mangle)]
pub extern "C" fn model_buffer(len: u32) -> *mut u8 {
    FETCHED_MODEL.with_borrow_mut(|model| {
        *model = vec![0; len as usize];
        model.as_mut_ptr()
    })
}

/// Powers the app up with the embedded model (`fetched` 0) or the one copied into
/// [`model_buffer`] (1). Returns 1, or 0 with the reason in the message.
#[unsafe(no_mangle)]
pub extern "C" fn start(fetched: u32) -> u32 {
    let model: &'static [u8] = if fetched == 0 {
        models::MODEL
    } else {
        // The session keeps the model for the page's life.
        Box::leak(FETCHED_MODEL.take().into_boxed_slice())
    };
    match Page::start(model, now_us()) {
        Ok(page) => {
            PAGE.set(Some(page));
            1
        }
        Err(message) => {
            MESSAGE.set(message);
            0
        }
    }
}

/// The model file the page runs, its first byte (the page offers it for download).
#[unsafe(no_mangle)]
pub extern "C" fn model_ptr() -> *const u8 {
    with_page(std::ptr::null(), |page| page.model().as_ptr())
}

/// The model file's length in bytes (0 before a start).
#[unsafe(no_mangle)]
pub extern "C" fn model_len() -> u32 {
    with_page(0, |page| page.model().len() as u32)
}

/// The last error message (UTF-8), its first byte.
#[unsafe(no_mangle)]
pub extern "C" fn message_ptr() -> *const u8 {
    MESSAGE.with_borrow(|m| m.as_ptr())
}

/// The last error message's length in bytes.
#[unsafe(no_mangle)]
pub extern "C" fn message_len() -> u32 {
    MESSAGE.with_borrow(|m| m.len() as u32)
}

/// One poll with the pointer at (`x`, `y`) in screen pixels if `touching` is 1, lifted if 0.
/// Returns the digit this poll recognised, or -1.
#[unsafe(no_mangle)]
pub extern "C" fn pointer(x: i32, y: i32, touching: u32) -> i32 {
    let touch = (touching != 0).then_some(Point::new(x, y));
    with_page(-1, |page| {
        page.poll(touch, &mut now_us).map_or(-1, i32::from)
    })
}

/// One idle poll (the page calls it every `POLL_MS` while nothing touches): the drawing
/// settles, the notice ends. Returns the digit recognised, or -1.
#[unsafe(no_mangle)]
pub extern "C" fn tick() -> i32 {
    with_page(-1, |page| {
        if page.touching() {
            return -1;
        }
        page.poll(None, &mut now_us).map_or(-1, i32::from)
    })
}

/// The screen's RGBA pixels, row by row.
#[unsafe(no_mangle)]
pub extern "C" fn frame_ptr() -> *const u8 {
    with_page(std::ptr::null(), |page| page.frame().rgba().as_ptr())
}

/// How many draws have changed the frame: the page copies it when this moves.
#[unsafe(no_mangle)]
pub extern "C" fn frame_draws() -> u32 {
    with_page(0, |page| page.frame().draws())
}

/// The screen's width in pixels.
#[unsafe(no_mangle)]
pub extern "C" fn screen_width() -> u32 {
    with_page(0, |page| page.frame().size().width)
}

/// The screen's height in pixels.
#[unsafe(no_mangle)]
pub extern "C" fn screen_height() -> u32 {
    with_page(0, |page| page.frame().size().height)
}

/// The answer's `rank`-th likeliest digit (0 the answer), or -1 while there is none.
#[unsafe(no_mangle)]
pub extern "C" fn answer_digit(rank: u32) -> i32 {
    with_page(-1, |page| {
        page.answer()
            .and_then(|a| a.top3.get(rank as usize).copied())
            .map_or(-1, |(digit, _)| i32::from(digit))
    })
}

/// The probability of the `rank`-th likeliest digit, or -1.
#[unsafe(no_mangle)]
pub extern "C" fn answer_probability(rank: u32) -> f32 {
    with_page(-1.0, |page| {
        page.answer()
            .and_then(|a| a.top3.get(rank as usize).copied())
            .map_or(-1.0, |(_, p)| p)
    })
}

/// How long the answer's inference took, in microseconds (0 while there is none).
#[unsafe(no_mangle)]
pub extern "C" fn inference_us() -> u32 {
    with_page(0, |page| page.answer().map_or(0, |a| a.inference_us))
}

/// The 28x28 input the network saw (row by row, 0 black to 255 white), or null.
#[unsafe(no_mangle)]
pub extern "C" fn input_ptr() -> *const u8 {
    with_page(std::ptr::null(), |page| {
        page.answer().map_or(std::ptr::null(), |a| a.input.as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exports_start_draw_and_report_a_bad_model() {
        assert_eq!(start(0), 1);
        assert_eq!((screen_width(), screen_height()), (320, 240));
        assert!(!frame_ptr().is_null() && frame_draws() > 0);
        assert_eq!(answer_digit(0), -1);
        assert!(input_ptr().is_null());
        assert_eq!(tick(), -1);
        assert_eq!(model_len() as usize, models::MODEL.len());
        assert_eq!(model_ptr(), models::MODEL.as_ptr());
        let buffer = model_buffer(3);
        assert!(!buffer.is_null());
        assert_eq!(start(1), 0);
        let message = MESSAGE.with_borrow(String::clone);
        assert_eq!(message_len() as usize, message.len());
        assert!(message.starts_with("the model cannot run"), "{message}");
    }
}
