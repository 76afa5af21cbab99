//! The Pico-ResTouch-LCD-2.8 on the emulated Pico 2's SPI1: the ST7789 display (its commands
//! decoded into a frame), the XPT2046 touch controller (answering conversions for a finger
//! placed by the run), routed by their chip selects, and [`BoardBus`], the memory bus the
//! core steps through, which puts them at SPI1's data and status registers. The pins are
//! `pico-restouch`'s (`src/main.rs`, `Board`), as the RP2040 board emulator's are.

use std::collections::VecDeque;
use std::sync::Arc;

use rp2350_emu::Bus;
use rp2350_emu::core::CoreBus;

use crate::quirks;

/// The display's data/command line (high: data).
const PIN_LCD_DATA_COMMAND: u32 = 8;
/// The display's chip select (low: selected).
const PIN_LCD_SELECT: u32 = 9;
/// The display's backlight.
pub const PIN_LCD_BACKLIGHT: u32 = 13;
/// The touch controller's chip select (low: selected).
const PIN_TOUCH_SELECT: u32 = 16;
/// The touch controller's pen-down line (low while touched).
pub const PIN_TOUCH_PEN_DOWN: u32 = 17;

/// SPI1's registers on the RP2350 (the PL022's data and status at 0x008 and 0x00C).
const SPI1: u32 = 0x4008_8000;
const SPI_DATA: u32 = 0x008;
const SPI_STATUS: u32 = 0x00C;
/// SIO's GPIO input register, where the firmware reads the pen-down line.
const SIO_GPIO_IN: u32 = 0xD000_0004;

/// The screen in landscape, as the firmware drives it.
pub const WIDTH: usize = 320;
pub const HEIGHT: usize = 240;

/// ST7789 commands the decoder follows.
const CASET: u8 = 0x2A;
const RASET: u8 = 0x2B;
const RAMWR: u8 = 0x2C;
const DISPON: u8 = 0x29;

/// The display: RGB565 pixels written through column and row windows.
pub struct St7789 {
    pub frame: Vec<u16>,
    command: u8,
    parameters: Vec<u8>,
    columns: (u16, u16),
    rows: (u16, u16),
    at: (u16, u16),
    high_byte: Option<u8>,
    /// Bytes and pixels received, and the cycle of the last byte.
    pub bytes: u64,
    pub pixels: u64,
    pub last_byte: u64,
    /// When the display was switched on (DISPON).
    pub on_at: Option<u64>,
}

impl St7789 {
    fn new() -> St7789 {
        St7789 {
            frame: vec![0; WIDTH * HEIGHT],
            command: 0,
            parameters: Vec::new(),
            columns: (0, 0),
            rows: (0, 0),
            at: (0, 0),
            high_byte: None,
            bytes: 0,
            pixels: 0,
            last_byte: 0,
            on_at: None,
        }
    }

    fn byte(&mut self, byte: u8, data: bool, cycle: u64) {
        self.bytes += 1;
        self.last_byte = cycle;
        if !data {
            self.command = byte;
            self.parameters.clear();
            self.high_byte = None;
            if byte == RAMWR {
                self.at = (self.columns.0, self.rows.0);
            }
            if byte == DISPON {
                self.on_at.get_or_insert(cycle);
            }
            return;
        }
        match self.command {
            CASET | RASET => {
                self.parameters.push(byte);
                if let [a, b, c, d] = self.parameters[..] {
                    let window = (u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]));
                    if self.command == CASET {
                        self.columns = window;
                    } else {
                        self.rows = window;
                    }
                }
            }
            RAMWR => match self.high_byte.take() {
                None => self.high_byte = Some(byte),
                Some(high) => self.pixel(u16::from_be_bytes([high, byte])),
            },
            _ => {}
        }
    }

    /// One pixel at the write position, which then moves along the window's rows.
    fn pixel(&mut self, colour: u16) {
        self.pixels += 1;
        let (x, y) = (usize::from(self.at.0), usize::from(self.at.1));
        if x < WIDTH && y < HEIGHT {
            self.frame[y * WIDTH + x] = colour;
        }
        if self.at.0 >= self.columns.1 {
            self.at.0 = self.columns.0;
            self.at.1 = if self.at.1 >= self.rows.1 {
                self.rows.0
            } else {
                self.at.1 + 1
            };
        } else {
            self.at.0 += 1;
        }
    }

    /// The frame as 8-bit RGB.
    pub fn rgb(&self) -> Vec<u8> {
        let expand = |value: u16, bits: u32| {
            let value = u32::from(value);
            ((value << (8 - bits)) | (value >> (2 * bits - 8))) as u8
        };
        self.frame
            .iter()
            .flat_map(|&p| {
                [
                    expand(p >> 11, 5),
                    expand((p >> 5) & 63, 6),
                    expand(p & 31, 5),
                ]
            })
            .collect()
    }
}

/// The panel's raw axes at the screen's edges (the controller's Y axis runs along the screen's
/// x), the nominal ranges of the firmware's default calibration
/// (`app::touch::Calibration::PICO_RESTOUCH_2_8`), and the plates' resistances for pressure.
const RAW_Y_LEFT: f32 = 3880.0;
const RAW_Y_RIGHT: f32 = 340.0;
const RAW_X_TOP: f32 = 262.0;
const RAW_X_BOTTOM: f32 = 3850.0;
const X_PLATE_OHMS: f32 = 400.0;
const Y_PLATE_OHMS: f32 = 300.0;
const CONTACT_OHMS: f32 = 500.0;

/// The touch controller: a conversion starts with a control byte (bit 7), its 12 bits come back
/// left-aligned in the next two bytes. Conversions are exact (no noise).
pub struct Xpt2046 {
    /// Where the finger touches the screen (pixels), if it does.
    pub finger: Option<(i32, i32)>,
    output: VecDeque<u8>,
    pub conversions: u64,
}

impl Xpt2046 {
    fn transfer(&mut self, byte: u8) -> u8 {
        let out = self.output.pop_front().unwrap_or(0);
        if byte & 0x80 != 0 {
            self.conversions += 1;
            let value = (self.convert((byte >> 4) & 7) << 3) as u16;
            self.output = VecDeque::from(value.to_be_bytes());
        }
        out
    }

    /// One 12-bit conversion of channel `channel` (X 0b101, Y 0b001, Z1 0b011, Z2 0b100).
    fn convert(&self, channel: u8) -> u32 {
        let Some((x, y)) = self.finger else {
            return if channel == 0b100 { 4095 } else { 0 };
        };
        let raw_x = RAW_X_TOP + y as f32 * (RAW_X_BOTTOM - RAW_X_TOP) / HEIGHT as f32;
        let raw_y = RAW_Y_LEFT + x as f32 * (RAW_Y_RIGHT - RAW_Y_LEFT) / WIDTH as f32;
        let x_part = raw_x / 4096.0 * X_PLATE_OHMS;
        let y_part = (1.0 - raw_y / 4096.0) * Y_PLATE_OHMS;
        let total = x_part + CONTACT_OHMS + y_part;
        let value = match channel {
            0b101 => raw_x,
            0b001 => raw_y,
            0b011 => 4095.0 * x_part / total,
            0b100 => 4095.0 * (x_part + CONTACT_OHMS) / total,
            _ => 0.0,
        };
        value.round().clamp(0.0, 4095.0) as u32
    }
}

/// The board around the chip: its devices on SPI1, and what the run watches.
pub struct Panel {
    pub lcd: St7789,
    pub touch: Xpt2046,
    /// Bytes SPI1 has received for the firmware to read.
    received: VecDeque<u8>,
    /// Cycles at which the firmware read the pen-down line (its touch polls).
    pub pen_reads: Vec<u64>,
    /// The core's cycle count, for timestamps.
    pub now: u64,
    pub sys_clk_hz: u32,
    /// Tick generator writes rescaled ([`quirks::ticks_cycles`]).
    pub ticks_rescaled: u64,
}

impl Panel {
    pub fn new(sys_clk_hz: u32) -> Panel {
        Panel {
            lcd: St7789::new(),
            touch: Xpt2046 {
                finger: None,
                output: VecDeque::new(),
                conversions: 0,
            },
            received: VecDeque::new(),
            pen_reads: Vec::new(),
            now: 0,
            sys_clk_hz,
            ticks_rescaled: 0,
        }
    }

    /// A byte the firmware sends on SPI1, to whichever device its chip select picks.
    fn send(&mut self, byte: u8, gpio_out: u32, gpio_oe: u32) {
        // A pin not driven reads high (the board's pull-ups).
        let high = |pin: u32| (gpio_out >> pin) & 1 == 1 || (gpio_oe >> pin) & 1 == 0;
        let reply = if !high(PIN_LCD_SELECT) {
            self.lcd.byte(byte, high(PIN_LCD_DATA_COMMAND), self.now);
            0xFF
        } else if !high(PIN_TOUCH_SELECT) {
            self.touch.transfer(byte)
        } else {
            0xFF
        };
        // The PL022's receive FIFO holds 8 entries.
        if self.received.len() < 8 {
            self.received.push_back(reply);
        }
    }

    fn status(&self) -> u32 {
        // Transmit FIFO empty and not full, receive FIFO not empty when a byte waits, never busy:
        // each byte moves at once.
        0b11 | if self.received.is_empty() { 0 } else { 0b100 }
    }

    fn pen_read(&mut self) {
        // One poll reads the line once; a second read in the same poll is not a new one.
        if self
            .pen_reads
            .last()
            .is_none_or(|&last| self.now - last > 10_000)
        {
            self.pen_reads.push(self.now);
        }
    }
}

/// The emulator's bus with the board attached: SPI1's data and status registers answered by
/// [`Panel`], the tick generators' writes rescaled, everything else the emulator's own.
pub struct BoardBus<'a> {
    pub bus: &'a mut Bus,
    pub panel: &'a mut Panel,
}

/// Which of SPI1's registers an address is (its atomic aliases included), if any.
fn spi1_register(address: u32) -> Option<u32> {
    let canonical = address & !0x3000;
    let offset = canonical.wrapping_sub(SPI1);
    (offset == SPI_DATA || offset == SPI_STATUS).then_some(offset)
}

impl BoardBus<'_> {
    fn read(&mut self, address: u32) -> Option<u32> {
        if address == SIO_GPIO_IN {
            self.panel.pen_read();
        }
        match spi1_register(address)? {
            SPI_DATA => Some(self.panel.received.pop_front().map_or(0, u32::from)),
            _ => Some(self.panel.status()),
        }
    }

    /// Whether the board took the write (else the emulator's bus does).
    fn write(&mut self, address: u32, value: u32) -> bool {
        match spi1_register(address) {
            Some(SPI_DATA) => {
                let (out, oe) = (self.bus.gpio_read_out(), self.bus.gpio_read_oe());
                self.panel.send(value as u8, out, oe);
                true
            }
            Some(_) => true,
            None => false,
        }
    }
}

impl CoreBus for BoardBus<'_> {
    fn read8(&mut self, address: u32, core: u8) -> u8 {
        match self.read(address) {
            Some(value) => value as u8,
            None => self.bus.read8(address, core),
        }
    }
    fn read16(&mut self, address: u32, core: u8) -> u16 {
        match self.read(address) {
            Some(value) => value as u16,
            None => self.bus.read16(address, core),
        }
    }
    fn read32(&mut self, address: u32, core: u8) -> u32 {
        match self.read(address) {
            Some(value) => value,
            None => self.bus.read32(address, core),
        }
    }
    fn write8(&mut self, address: u32, value: u8, core: u8) {
        if !self.write(address, u32::from(value)) {
            self.bus.write8(address, value, core);
        }
    }
    fn write16(&mut self, address: u32, value: u16, core: u8) {
        if !self.write(address, u32::from(value)) {
            self.bus.write16(address, value, core);
        }
    }
    fn write32(&mut self, address: u32, value: u32, core: u8) {
        if let Some(scaled) = quirks::ticks_cycles(address, value, self.panel.sys_clk_hz) {
            self.panel.ticks_rescaled += 1;
            return self.bus.write32(address, scaled, core);
        }
        if !self.write(address, value) {
            self.bus.write32(address, value, core);
        }
    }
    fn gpio_read_in(&self) -> u32 {
        self.bus.gpio_read_in()
    }
    // Everything else is the emulator's bus, unchanged.
    fn set_active_pc(&mut self, pc: u32, core: u8) {
        CoreBus::set_active_pc(self.bus, pc, core)
    }
    fn bus_fault(&self, core: u8) -> bool {
        CoreBus::bus_fault(self.bus, core)
    }
    fn bus_fault_addr(&self, core: u8) -> u32 {
        CoreBus::bus_fault_addr(self.bus, core)
    }
    fn clear_bus_fault(&mut self, core: u8) {
        CoreBus::clear_bus_fault(self.bus, core)
    }
    fn set_burst_mode(&mut self, on: bool) {
        CoreBus::set_burst_mode(self.bus, on)
    }
    fn add_extra_wait_states(&mut self, n: u32) {
        CoreBus::add_extra_wait_states(self.bus, n)
    }
    fn take_extra_wait_states(&mut self) -> u32 {
        CoreBus::take_extra_wait_states(self.bus)
    }
    fn atomics(&self) -> &Arc<rp2350_emu::threaded::CoreAtomics> {
        CoreBus::atomics(self.bus)
    }
    fn gpio_read_out(&self) -> u32 {
        self.bus.gpio_read_out()
    }
    fn gpio_write_out(&mut self, value: u32) {
        self.bus.gpio_write_out(value)
    }
    fn gpio_set_out(&mut self, mask: u32) {
        self.bus.gpio_set_out(mask)
    }
    fn gpio_clear_out(&mut self, mask: u32) {
        self.bus.gpio_clear_out(mask)
    }
    fn gpio_xor_out(&mut self, mask: u32) {
        self.bus.gpio_xor_out(mask)
    }
    fn gpio_read_oe(&self) -> u32 {
        self.bus.gpio_read_oe()
    }
    fn gpio_write_oe(&mut self, value: u32) {
        self.bus.gpio_write_oe(value)
    }
    fn gpio_set_oe(&mut self, mask: u32) {
        self.bus.gpio_set_oe(mask)
    }
    fn gpio_clear_oe(&mut self, mask: u32) {
        self.bus.gpio_clear_oe(mask)
    }
    fn gpio_xor_oe(&mut self, mask: u32) {
        self.bus.gpio_xor_oe(mask)
    }
    fn extra_wait_states(&self) -> u32 {
        CoreBus::extra_wait_states(self.bus)
    }
    fn reset_extra_wait_states(&mut self) {
        CoreBus::reset_extra_wait_states(self.bus)
    }
    fn last_fetch_addr(&self) -> u32 {
        CoreBus::last_fetch_addr(self.bus)
    }
    fn set_last_fetch_addr(&mut self, address: u32) {
        CoreBus::set_last_fetch_addr(self.bus, address)
    }
    fn mmio_trace_enabled(&self) -> bool {
        CoreBus::mmio_trace_enabled(self.bus)
    }
    fn emit_mmio_trace(&mut self, rw: char, size: u32, address: u32, value: u32, core: u8) {
        CoreBus::emit_mmio_trace(self.bus, rw, size, address, value, core)
    }
}
