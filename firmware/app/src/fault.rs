//! What a board does when it cannot go on: which [`Fault`] stopped it, the short message a person
//! reads on the screen ([`crate::ui::draw_fault`]) and the [`BlinkCode`] its LED repeats, which
//! says it when the display itself is what failed. Hardware-free, so both are tested on the host
//! and the simulator draws the same fault screen the board does.

use crate::recognizer::RecognizerError;

/// Why a board stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault<'a> {
    /// The display did not initialise: only the LED can say so.
    Display,
    /// The model the binary embeds cannot run.
    Model(RecognizerError),
    /// A panic: its message (as much as the board could format) and where it happened.
    Panic {
        /// The message.
        message: &'a str,
        /// The source file.
        file: &'a str,
        /// The line in it.
        line: u32,
    },
}

impl Fault<'_> {
    /// The screen's title.
    pub fn title(&self) -> &'static str {
        match self {
            Fault::Display => "Display error",
            Fault::Model(_) => "Model error",
            Fault::Panic { .. } => "Firmware panic",
        }
    }

    /// The blinks of the LED's code: a distinct count per kind of fault.
    pub fn blink_code(&self) -> BlinkCode {
        let blinks = match self {
            Fault::Display => 1,
            Fault::Model(_) => 2,
            Fault::Panic { .. } => 3,
        };
        BlinkCode { blinks }
    }
}

impl RecognizerError {
    /// What went wrong, in a few words for a screen (the `Display` text has the figures).
    pub fn summary(&self) -> &'static str {
        match self {
            RecognizerError::Model(_) => "The embedded model file does not parse.",
            RecognizerError::Classes { .. } => "The model does not answer the ten digits.",
            RecognizerError::Input { .. } => "The model does not take a 28x28 grey digit.",
            RecognizerError::ScratchTooSmall { .. } => {
                "The model needs more scratch memory than the build gave it."
            }
            RecognizerError::HelperScratchTooSmall { .. } => {
                "The second core needs more scratch memory than the build gave it."
            }
        }
    }
}

/// How long the LED stays on for one blink, in milliseconds.
pub const BLINK_ON_MS: u32 = 200;
/// How long it stays off between two blinks.
pub const BLINK_OFF_MS: u32 = 300;
/// The dark pause after the last blink, before the code repeats: long enough to count from.
pub const BLINK_PAUSE_MS: u32 = 1500;
// Counted by eye: the pause must be unmistakably longer than a gap between two blinks.
const _: () = assert!(BLINK_PAUSE_MS >= 3 * BLINK_OFF_MS);

/// A fault's code on the LED: `blinks` short blinks, a pause, repeated forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BlinkCode {
    /// How many blinks each repetition has.
    pub blinks: u8,
}

impl BlinkCode {
    /// One repetition as `(led_on, milliseconds)` phases, dark at the end.
    pub fn phases(self) -> impl Iterator<Item = (bool, u32)> + Clone {
        (0..self.blinks).flat_map(move |blink| {
            let last = blink + 1 == self.blinks;
            [
                (true, BLINK_ON_MS),
                (false, if last { BLINK_PAUSE_MS } else { BLINK_OFF_MS }),
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY_FAULT: [Fault<'static>; 3] = [
        Fault::Display,
        Fault::Model(RecognizerError::Classes { classes: 3 }),
        Fault::Panic {
            message: "boom",
            file: "main.rs",
            line: 1,
        },
    ];

    #[test]
    fn each_kind_of_fault_has_its_own_blink_count() {
        let mut counts: [u8; 3] = EVERY_FAULT.map(|f| f.blink_code().blinks);
        counts.sort_unstable();
        assert_eq!(counts, [1, 2, 3]);
    }

    #[test]
    fn a_code_is_its_blinks_then_a_pause_that_stands_out() {
        let phases: heapless::Vec<(bool, u32), 8> = BlinkCode { blinks: 3 }.phases().collect();
        assert_eq!(
            phases.as_slice(),
            &[
                (true, BLINK_ON_MS),
                (false, BLINK_OFF_MS),
                (true, BLINK_ON_MS),
                (false, BLINK_OFF_MS),
                (true, BLINK_ON_MS),
                (false, BLINK_PAUSE_MS),
            ]
        );
    }
}
