//! The module's line table: every row of every unit's line program, sorted by address, with
//! file names interned. Serves prologue skipping, `.statement("f@file:N")`, and address →
//! file:line (`usymfileline`).

use rustc_hash::FxHashMap;

use super::dwarf_index::FileTable;
use super::elf::Module;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRow {
    pub address: u64,
    /// Index into [`LineTable::files`].
    pub file: u32,
    pub line: u32,
    pub is_stmt: bool,
    /// The first address after a sequence; not itself a line.
    pub end_sequence: bool,
}

#[derive(Debug, Default)]
pub struct LineTable {
    pub rows: Vec<LineRow>,
    pub files: Vec<String>,
}

impl LineTable {
    pub fn build(module: &Module) -> gimli::Result<LineTable> {
        let mut table = LineTable::default();
        if !module.has_dwarf() {
            return Ok(table);
        }
        let mut interned: FxHashMap<String, u32> = FxHashMap::default();
        let dwarf = module.dwarf();
        let mut headers = dwarf.units();
        while let Some(header) = headers.next()? {
            let unit = dwarf.unit(header)?;
            let Some(program) = unit.line_program.clone() else {
                continue;
            };
            let files = FileTable::new(&dwarf, &unit);
            let mut file_ids: FxHashMap<u64, u32> = FxHashMap::default();
            let mut rows = program.rows();
            let mut sequence = Vec::new();
            while let Some((_, row)) = rows.next_row()? {
                let file = *file_ids.entry(row.file_index()).or_insert_with(|| {
                    let name = files.get(row.file_index()).unwrap_or("??").to_owned();
                    let next = interned.len() as u32;
                    *interned.entry(name.clone()).or_insert_with(|| {
                        table.files.push(name);
                        next
                    })
                });
                sequence.push(LineRow {
                    address: row.address(),
                    file,
                    line: row.line().map_or(0, |l| l.get() as u32),
                    is_stmt: row.is_stmt(),
                    end_sequence: row.end_sequence(),
                });
                if row.end_sequence() {
                    // Sequences of discarded functions (COMDAT/--gc-sections) start at 0.
                    if sequence.first().is_some_and(|r| r.address != 0) {
                        table.rows.append(&mut sequence);
                    }
                    sequence.clear();
                }
            }
        }
        table.rows.sort_by_key(|r| (r.address, !r.end_sequence));
        Ok(table)
    }

    pub fn file(&self, row: &LineRow) -> &str {
        &self.files[row.file as usize]
    }

    /// The row in effect at `address` (the last row at or below it in its sequence).
    pub fn lookup(&self, address: u64) -> Option<&LineRow> {
        let end = self.rows.partition_point(|r| r.address <= address);
        let row = self.rows[..end].last()?;
        (!row.end_sequence).then_some(row)
    }

    /// Rows with addresses in `range`, in address order.
    pub fn rows_in(&self, range: std::ops::Range<u64>) -> &[LineRow] {
        let start = self.rows.partition_point(|r| r.address < range.start);
        let end = self.rows.partition_point(|r| r.address < range.end);
        &self.rows[start..end]
    }
}
