//! The log as text over USB serial (CDC ACM), for a board owner without a debug probe: the Pico
//! shows up as a serial port once plugged in (`/dev/ttyACM0` on Linux, `/dev/cu.usbmodem…` on
//! macOS, `COMn` on Windows) and any serial terminal reads the lines defmt sends over RTT.
//!
//! [`line`] formats into a pipe that a task drains into the USB class, so logging never waits
//! on the host: a line that does not fit whole (no terminal reading yet, or a burst) is dropped,
//! and lines written before a terminal opens wait in the pipe for it. After a panic the executor
//! no longer runs and nothing more goes out: the screen and the LED say the rest.

use core::fmt::{self, Write as _};

use embassy_executor::Spawner;
use embassy_rp::Peri;
use embassy_rp::bind_interrupts;
use embassy_rp::peripherals::USB;
use embassy_rp::usb::{Driver, InterruptHandler};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::pipe::Pipe;
use embassy_usb::class::cdc_acm::{CdcAcmClass, State};
use embassy_usb::{Builder, Config, UsbDevice};
use static_cell::StaticCell;

bind_interrupts!(struct Irqs {
    USBCTRL_IRQ => InterruptHandler<USB>;
});

/// pid.codes' test identity (vendor 0x1209, product 0x0001): this firmware has no USB IDs of its
/// own, and the host needs none, CDC ACM being a class every system drives.
const VENDOR_ID: u16 = 0x1209;
const PRODUCT_ID: u16 = 0x0001;
/// Full-speed bulk packets.
const PACKET_BYTES: usize = 64;
/// The longest line; longer ones are cut (and still end the line).
const LINE_BYTES: usize = 160;
/// Lines waiting for the host: the boot's and a few recognitions'.
const PIPE_BYTES: usize = 1024;

static PIPE: Pipe<CriticalSectionRawMutex, PIPE_BYTES> = Pipe::new();

type UsbDriver = Driver<'static, USB>;

/// Queues one line, `LEVEL message`, for the USB serial port; drops it if it does not fit whole.
pub fn line(level: &str, message: fmt::Arguments<'_>) {
    let mut text: heapless::String<LINE_BYTES> = heapless::String::new();
    // Cut where it stops fitting, keeping room for the line's end.
    let _ = write!(text, "{level} {message}");
    while text.len() > LINE_BYTES - 2 {
        text.pop();
    }
    let _ = text.push_str("\r\n");
    if PIPE.free_capacity() >= text.len() {
        let _ = PIPE.try_write(text.as_bytes());
    }
}

/// Starts the USB device (one CDC ACM port) and the task that sends it the queued lines.
pub fn start(spawner: Spawner, usb: Peri<'static, USB>) {
    static CONFIG_DESCRIPTOR: StaticCell<[u8; 128]> = StaticCell::new();
    static BOS_DESCRIPTOR: StaticCell<[u8; 16]> = StaticCell::new();
    static CONTROL: StaticCell<[u8; 64]> = StaticCell::new();
    static CDC_STATE: StaticCell<State<'static>> = StaticCell::new();

    let mut config = Config::new(VENDOR_ID, PRODUCT_ID);
    config.manufacturer = Some("mnist-edge");
    config.product = Some("digit recogniser log");
    config.max_packet_size_0 = PACKET_BYTES as u8;
    let mut builder = Builder::new(
        Driver::new(usb, Irqs),
        config,
        CONFIG_DESCRIPTOR.init([0; 128]),
        BOS_DESCRIPTOR.init([0; 16]),
        &mut [],
        CONTROL.init([0; 64]),
    );
    let class = CdcAcmClass::new(
        &mut builder,
        CDC_STATE.init(State::new()),
        PACKET_BYTES as u16,
    );
    spawner.spawn(run_device(builder.build()).expect("one USB device task"));
    spawner.spawn(send_lines(class).expect("one USB log task"));
}

#[embassy_executor::task]
async fn run_device(mut device: UsbDevice<'static, UsbDriver>) -> ! {
    device.run().await
}

#[embassy_executor::task]
async fn send_lines(mut class: CdcAcmClass<'static, UsbDriver>) -> ! {
    let mut packet = [0u8; PACKET_BYTES];
    loop {
        class.wait_connection().await;
        loop {
            let n = PIPE.read(&mut packet).await;
            // Unplugged or reset by the host: wait for the next connection (the packet is lost).
            if class.write_packet(&packet[..n]).await.is_err() {
                break;
            }
        }
    }
}
