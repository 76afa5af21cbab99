//! A pointing device as the board's touch panel: a mouse, a pen or a finger on a screen that
//! reports screen pixels, so its raw readings are the pixels themselves (use it with
//! [`Calibration::IDENTITY`](crate::touch::Calibration::IDENTITY)). The desktop simulator and the
//! web page both run the board's [`Controller`](crate::controller::Controller) with it.

use core::convert::Infallible;

use embedded_graphics::prelude::Point;

use crate::controller::TouchPanel;
use crate::touch::RawPoint;

/// Where the pointer touches, if it does; set by the event loop before each poll.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pointer {
    /// The touching point, in screen pixels, or `None` while lifted.
    pub at: Option<Point>,
}

impl TouchPanel for Pointer {
    type Error = Infallible;

    fn pressed(&mut self) -> bool {
        self.at.is_some()
    }

    /// The point, or `None` off the panel's raw range (a drag that left the screen to the left
    /// or top): the controller then waits for a clean reading, as for a light touch.
    fn read(&mut self) -> Result<Option<RawPoint>, Infallible> {
        let raw = |p: Point| {
            Some(RawPoint {
                x: u16::try_from(p.x).ok()?,
                y: u16::try_from(p.y).ok()?,
            })
        };
        Ok(self.at.and_then(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_the_pixels_and_off_range_points_are_unreadable() {
        let mut pointer = Pointer::default();
        assert!(!pointer.pressed());
        assert_eq!(pointer.read(), Ok(None));
        pointer.at = Some(Point::new(12, 200));
        assert!(pointer.pressed());
        assert_eq!(pointer.read(), Ok(Some(RawPoint { x: 12, y: 200 })));
        pointer.at = Some(Point::new(-1, 5));
        assert!(pointer.pressed());
        assert_eq!(pointer.read(), Ok(None));
    }
}
