//! ELF symbol tables (`.symtab` and `.dynsym`, merged): name → address for the symbol-table
//! fallback of `.function("PAT")` when there is no DWARF, and address → symbol for
//! `usymname`/`usymdata`.

use rustc_hash::FxHashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolKind {
    Function,
    Object,
    Tls,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    pub address: u64,
    pub size: u64,
    pub kind: SymbolKind,
    pub global: bool,
    pub weak: bool,
    /// Found in `.dynsym` (so exported from a shared object).
    pub dynamic: bool,
}

/// Symbols sorted by address, one entry per (name, address); `.dynsym` duplicates of
/// `.symtab` entries are folded into one with `dynamic` set.
#[derive(Debug, Default)]
pub struct SymbolTable {
    by_address: Vec<Symbol>,
    by_name: FxHashMap<String, Vec<usize>>,
}

impl SymbolTable {
    pub fn new(mut symbols: Vec<Symbol>) -> Self {
        symbols.sort_by(|a, b| {
            (a.address, &a.name, !a.dynamic).cmp(&(b.address, &b.name, !b.dynamic))
        });
        let mut folded: Vec<Symbol> = Vec::with_capacity(symbols.len());
        for s in symbols {
            match folded.last_mut() {
                Some(last) if last.address == s.address && last.name == s.name => {
                    last.dynamic |= s.dynamic;
                    last.global |= s.global;
                    last.size = last.size.max(s.size);
                }
                _ => folded.push(s),
            }
        }
        let mut by_name: FxHashMap<String, Vec<usize>> = FxHashMap::default();
        for (i, s) in folded.iter().enumerate() {
            by_name.entry(s.name.clone()).or_default().push(i);
        }
        SymbolTable {
            by_address: folded,
            by_name,
        }
    }

    pub fn merge(&mut self, other: SymbolTable) {
        let mut all = std::mem::take(&mut self.by_address);
        all.extend(other.by_address);
        *self = SymbolTable::new(all);
    }

    /// True when only dynamic (exported) function symbols are known: the file was stripped.
    pub fn is_empty_of_local_functions(&self) -> bool {
        !self
            .by_address
            .iter()
            .any(|s| s.kind == SymbolKind::Function && !s.dynamic)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Symbol> {
        self.by_address.iter()
    }

    pub fn by_name(&self, name: &str) -> impl Iterator<Item = &Symbol> {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .map(|&i| &self.by_address[i])
    }

    /// The function or object symbol containing `address`: the nearest symbol at or below it
    /// whose size covers it (a zero-size symbol covers up to the next symbol). Prefers global
    /// names over local aliases at the same address, as `nm`-based tools do.
    pub fn lookup(&self, address: u64) -> Option<&Symbol> {
        let end = self.by_address.partition_point(|s| s.address <= address);
        let candidates = &self.by_address[..end];
        let last = candidates.last()?;
        let first_at = candidates.partition_point(|s| s.address < last.address);
        let at = &candidates[first_at..];
        let best = at
            .iter()
            .filter(|s| s.kind != SymbolKind::Tls)
            .max_by_key(|s| {
                (
                    s.kind == SymbolKind::Function,
                    s.global && !s.weak,
                    s.global,
                    s.size,
                )
            })?;
        let covers = if best.size > 0 {
            address - best.address < best.size
        } else {
            self.by_address
                .get(end)
                .is_none_or(|next| address < next.address)
        };
        covers.then_some(best)
    }
}
