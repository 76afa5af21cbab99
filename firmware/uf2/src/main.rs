//! `elf2uf2`: writes the UF2 file for a board's ELF image, or checks one against its image.
//!
//! ```text
//! elf2uf2 convert --family rp2040|rp2350-arm-s FIRMWARE.elf OUT.uf2
//! elf2uf2 check   --family rp2040|rp2350-arm-s FIRMWARE.elf FILE.uf2
//! ```
//!
//! `check` reads the UF2 file back (every block well formed, numbered, of the family, 256-byte
//! aligned pages in order), compares its pages with the image's flash segments byte for byte
//! and, for the RP2040, checks the boot2 checksum in the first page.

use std::path::PathBuf;
use std::process::ExitCode;

use uf2::{Family, Uf2Image, boot2_crc_holds, elf, image_pages, to_uf2};

const USAGE: &str =
    "usage: elf2uf2 convert|check --family rp2040|rp2350-arm-s FIRMWARE.elf FILE.uf2";

struct Args {
    check: bool,
    family: Family,
    elf: PathBuf,
    uf2: PathBuf,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let [command, flag, family, elf, uf2] = args else {
        return Err(USAGE.into());
    };
    let check = match command.as_str() {
        "convert" => false,
        "check" => true,
        other => return Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    if flag != "--family" {
        return Err(USAGE.into());
    }
    let family = Family::named(family)
        .ok_or_else(|| format!("unknown family `{family}`: rp2040 or rp2350-arm-s"))?;
    Ok(Args {
        check,
        family,
        elf: elf.into(),
        uf2: uf2.into(),
    })
}

fn read(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn run(args: &Args) -> Result<String, String> {
    let image = read(&args.elf)?;
    let named = |path: &PathBuf, e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    if !args.check {
        let file = to_uf2(&image, args.family).map_err(|e| named(&args.elf, &e))?;
        std::fs::write(&args.uf2, &file).map_err(|e| named(&args.uf2, &e))?;
        return Ok(format!(
            "{}: {} blocks, family {}",
            args.uf2.display(),
            file.len() / uf2::block::BLOCK_LEN,
            args.family
        ));
    }
    let file = read(&args.uf2)?;
    let parsed = Uf2Image::parse(&file).map_err(|e| named(&args.uf2, &e))?;
    if parsed.family_id != args.family.id() {
        return Err(format!(
            "{}: family ID {:#010x}, not {}'s {:#010x}",
            args.uf2.display(),
            parsed.family_id,
            args.family,
            args.family.id()
        ));
    }
    let segments =
        elf::flash_segments(&image, args.family.flash()).map_err(|e| named(&args.elf, &e))?;
    let expected = image_pages(&segments, args.family).map_err(|e| named(&args.elf, &e))?;
    let same_pages = expected.len() == parsed.pages.len()
        && expected
            .iter()
            .zip(&parsed.pages)
            .all(|((a, x), (b, y))| a == b && x[..] == y[..]);
    if !same_pages {
        return Err(format!(
            "{}: its pages are not {}'s flash segments",
            args.uf2.display(),
            args.elf.display()
        ));
    }
    let mut boot2 = String::new();
    if args.family == Family::Rp2040 {
        let first = expected.get(&args.family.flash().start);
        if !first.is_some_and(boot2_crc_holds) {
            return Err(format!(
                "{}: the first 256 bytes of flash are not a boot2 with a valid checksum",
                args.uf2.display()
            ));
        }
        boot2 = ", boot2 checksum valid".into();
    }
    Ok(format!(
        "{}: {} blocks of family {} cover {}'s flash segments exactly{boot2}",
        args.uf2.display(),
        parsed.pages.len(),
        args.family,
        args.elf.display()
    ))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_args(&args).and_then(|args| run(&args)) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("elf2uf2: {message}");
            ExitCode::FAILURE
        }
    }
}
