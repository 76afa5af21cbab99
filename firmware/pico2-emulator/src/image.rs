//! The firmware as the emulator takes it: the flash image from the UF2 file a board owner
//! flashes, and from the ELF beside it the symbols the run needs and the Thumb instructions of
//! its code (told apart from the data in it by the ELF's mapping symbols, `$t` and `$d`).

use object::{Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};
use uf2::{Family, Uf2Image};

/// Where flash sits in the address map, and the 4 MB of the Pico 2.
pub const FLASH: core::ops::Range<u32> = 0x1000_0000..0x1040_0000;

/// One Thumb instruction of the image: one halfword, or two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instruction {
    pub address: u32,
    pub first: u16,
    pub second: Option<u16>,
    /// Inside an IT block (conditional): the harness may not execute it in the core's place.
    pub conditional: bool,
}

/// A function or object of the ELF: its address (Thumb bit cleared), size and demangled name.
#[derive(Debug, Clone)]
pub struct Symbol {
    pub address: u32,
    pub size: u32,
    pub name: String,
}

/// The flash image, its code, and the ELF's symbols.
pub struct Firmware {
    /// The whole flash, erased (0xFF) where the UF2 file writes nothing.
    pub flash: Vec<u8>,
    pub code: Vec<Instruction>,
    pub functions: Vec<Symbol>,
    pub objects: Vec<Symbol>,
}

impl Firmware {
    /// Reads `uf2_file` (the image) and `elf_file` (its symbols and code map; the same build).
    pub fn load(uf2_file: &[u8], elf_file: &[u8]) -> Result<Firmware, String> {
        let image = Uf2Image::parse(uf2_file).map_err(|e| format!("not a UF2 image: {e}"))?;
        let family = Family::Rp2350ArmSecure;
        if image.family_id != family.id() {
            return Err(format!(
                "the UF2 image is for family {:#010x}, not the Pico 2's {family} ({:#010x})",
                image.family_id,
                family.id()
            ));
        }
        let mut flash = vec![0xFF; FLASH.len()];
        for (&address, page) in &image.pages {
            let at = address
                .checked_sub(FLASH.start)
                .map(|at| at as usize)
                .filter(|&at| at + page.len() <= flash.len())
                .ok_or(format!("a UF2 page at {address:#010x} lies outside flash"))?;
            flash[at..at + page.len()].copy_from_slice(page);
        }
        let elf = object::File::parse(elf_file).map_err(|e| format!("not an ELF file: {e}"))?;
        let (functions, objects) = symbols(&elf);
        let code = instructions(&elf, &flash)?;
        Ok(Firmware {
            flash,
            code,
            functions,
            objects,
        })
    }

    /// The data object whose name is `name` exactly.
    pub fn object(&self, name: &str) -> Result<&Symbol, String> {
        find(&self.objects, |s| s.name == name).ok_or(format!("no object {name} in the ELF"))
    }

    /// The address range the functions whose names start with `prefix` span.
    pub fn functions_under(&self, prefix: &str) -> Option<core::ops::Range<u32>> {
        let under = self.functions.iter().filter(|s| s.name.starts_with(prefix));
        let start = under.clone().map(|s| s.address).min()?;
        let end = under.map(|s| s.address + s.size).max()?;
        Some(start..end)
    }

    /// The function holding `pc`.
    fn function_holding(&self, pc: u32) -> Option<&Symbol> {
        let i = self.functions.partition_point(|s| s.address <= pc);
        let symbol = &self.functions[i.checked_sub(1)?];
        (pc < symbol.address + symbol.size.max(2)).then_some(symbol)
    }

    /// The name of the function holding `pc`, or the address when none does.
    pub fn function_name(&self, pc: u32) -> String {
        self.function_holding(pc)
            .map_or(format!("{pc:#010x} (no symbol)"), |s| s.name.clone())
    }

    /// The name of the function at `pc` and the offset into it, for messages.
    pub fn function_at(&self, pc: u32) -> String {
        self.function_holding(pc)
            .map_or(format!("{pc:#010x} (no symbol)"), |s| {
                format!("{}+{:#x}", s.name, pc - s.address)
            })
    }

    /// The 32-bit word of flash at `address`.
    pub fn flash_word(&self, address: u32) -> Option<u32> {
        let at = address.checked_sub(FLASH.start)? as usize;
        self.flash
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn find(symbols: &[Symbol], pred: impl Fn(&Symbol) -> bool) -> Option<&Symbol> {
    symbols.iter().find(|s| pred(s))
}

/// The ELF's functions (sorted by address) and data objects, names demangled without hashes.
fn symbols(elf: &object::File<'_>) -> (Vec<Symbol>, Vec<Symbol>) {
    let (mut functions, mut objects) = (Vec::new(), Vec::new());
    for symbol in elf.symbols() {
        let Ok(name) = symbol.name() else { continue };
        let entry = Symbol {
            address: (symbol.address() as u32) & !1,
            size: symbol.size() as u32,
            name: format!("{:#}", rustc_demangle::demangle(name)),
        };
        match symbol.kind() {
            SymbolKind::Text if symbol.size() > 0 => functions.push(entry),
            SymbolKind::Data => objects.push(entry),
            _ => {}
        }
    }
    functions.sort_by_key(|s| s.address);
    (functions, objects)
}

/// The Thumb instructions of every code region in flash: `$t` mapping symbols open one, `$d`
/// (literal pools, tables) close it.
fn instructions(elf: &object::File<'_>, flash: &[u8]) -> Result<Vec<Instruction>, String> {
    let mut code = Vec::new();
    for section in elf.sections() {
        if section.kind() != SectionKind::Text || !FLASH.contains(&(section.address() as u32)) {
            continue;
        }
        let (start, end) = (
            section.address() as u32,
            (section.address() + section.size()) as u32,
        );
        let mut marks: Vec<(u32, bool)> = elf
            .symbols()
            .filter(|s| s.section_index() == Some(section.index()))
            .filter_map(|s| match s.name() {
                Ok(n) if n == "$t" || n.starts_with("$t.") => Some((s.address() as u32, true)),
                Ok(n) if n == "$d" || n.starts_with("$d.") => Some((s.address() as u32, false)),
                _ => None,
            })
            .collect();
        marks.sort();
        for (i, &(from, is_code)) in marks.iter().enumerate() {
            let to = marks.get(i + 1).map_or(end, |m| m.0);
            if is_code {
                decode(flash, from.max(start)..to.min(end), &mut code)?;
            }
        }
    }
    Ok(code)
}

/// Splits a code region into instructions and marks those an IT instruction makes conditional.
fn decode(
    flash: &[u8],
    region: core::ops::Range<u32>,
    code: &mut Vec<Instruction>,
) -> Result<(), String> {
    let half = |address: u32| {
        let at = (address - FLASH.start) as usize;
        flash
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or(format!("code at {address:#010x} lies outside flash"))
    };
    let (mut address, mut it_left) = (region.start, 0u32);
    while address + 2 <= region.end {
        let first = half(address)?;
        // A 32-bit Thumb instruction starts with 0b11101, 0b11110 or 0b11111.
        let wide = first >> 11 >= 0b11101;
        let second = if wide { Some(half(address + 2)?) } else { None };
        code.push(Instruction {
            address,
            first,
            second,
            conditional: it_left > 0,
        });
        it_left = it_left.saturating_sub(1);
        // IT: 0xBFxy with a nonzero mask y; the mask's trailing zeros say how many of the
        // four slots it leaves unused.
        if first & 0xFF00 == 0xBF00 && first & 0xF != 0 {
            it_left = 4 - (first & 0xF).trailing_zeros();
        }
        address += if wide { 4 } else { 2 };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A code region of `halfwords` at the start of flash.
    fn decoded(halfwords: &[u16]) -> Vec<Instruction> {
        let mut flash = vec![0xFF; 64];
        for (i, h) in halfwords.iter().enumerate() {
            flash[2 * i..2 * i + 2].copy_from_slice(&h.to_le_bytes());
        }
        let mut code = Vec::new();
        let end = FLASH.start + 2 * halfwords.len() as u32;
        decode(&flash, FLASH.start..end, &mut code).unwrap();
        code
    }

    #[test]
    fn wide_instructions_take_two_halfwords() {
        // movs r0, #1; ldr.w r3, [r4]; bx lr
        let code = decoded(&[0x2001, 0xF8D4, 0x3000, 0x4770]);
        let shape: Vec<_> = code
            .iter()
            .map(|i| (i.address, i.second.is_some()))
            .collect();
        assert_eq!(
            shape,
            [
                (FLASH.start, false),
                (FLASH.start + 2, true),
                (FLASH.start + 6, false)
            ]
        );
    }

    #[test]
    fn an_it_block_makes_its_instructions_conditional() {
        // ite eq (mask 0b1100: two slots); movs r0, #1; movs r0, #2; movs r0, #3
        let code = decoded(&[0xBF0C, 0x2001, 0x2002, 0x2003]);
        let conditional: Vec<_> = code.iter().map(|i| i.conditional).collect();
        assert_eq!(conditional, [false, true, true, false]);
        // itttt ne (mask 0b0001: four slots)
        let code = decoded(&[0xBF1F, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005]);
        let conditional: Vec<_> = code.iter().map(|i| i.conditional).collect();
        assert_eq!(conditional, [false, true, true, true, true, false]);
    }
}
