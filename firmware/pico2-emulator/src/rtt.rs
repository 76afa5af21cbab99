//! The firmware's defmt log, read out of its RTT up-channel in emulated RAM as a debug probe
//! reads it (`defmt-print -e <ELF>` decodes the bytes).

use rp2350_emu::Emulator;

/// RTT up-channel 0 of the control block at `control_block` (`_SEGGER_RTT`).
pub struct Rtt {
    control_block: u32,
    attached: bool,
    pub received: Vec<u8>,
}

/// Offsets in the control block: its 16-byte ID and two counts, then the up-channels (24 bytes
/// each: name, buffer, size, write offset, read offset, flags).
const UP_CHANNEL_0: u32 = 24;
const BUFFER: u32 = 4;
const SIZE: u32 = 8;
const WRITE: u32 = 12;
const READ: u32 = 16;
const FLAGS: u32 = 20;
/// The channel mode in which the firmware waits for the reader instead of dropping bytes.
const BLOCK_IF_FULL: u32 = 2;

impl Rtt {
    pub fn new(control_block: u32) -> Rtt {
        Rtt {
            control_block,
            attached: false,
            received: Vec::new(),
        }
    }

    /// Takes what the firmware has written since the last call.
    pub fn drain(&mut self, emu: &mut Emulator) {
        let channel = self.control_block + UP_CHANNEL_0;
        if !self.attached {
            if emu.peek(channel + SIZE) == 0 {
                return; // not set up yet
            }
            // As a probe does once attached: the firmware then never drops log bytes.
            let flags = emu.peek(channel + FLAGS);
            emu.poke(channel + FLAGS, (flags & !3) | BLOCK_IF_FULL);
            self.attached = true;
        }
        let (buffer, size) = (emu.peek(channel + BUFFER), emu.peek(channel + SIZE));
        let (write, mut read) = (emu.peek(channel + WRITE), emu.peek(channel + READ));
        if write >= size || read >= size {
            return;
        }
        while read != write {
            let address = buffer + read;
            self.received
                .push((emu.peek(address & !3) >> ((address & 3) * 8)) as u8);
            read = (read + 1) % size;
        }
        emu.poke(channel + READ, read);
    }
}
