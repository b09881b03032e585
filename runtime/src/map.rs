//! Associative arrays, as `runtime/map.c` and `map-gen.c` behave.
//!
//! - Entries sit on a list in insertion order; an update does not move an entry; unsorted
//!   `foreach` walks the list.
//! - A sorted `foreach` sorts the list itself, stably (`_stp_map_sort`, a merge sort; ties keep
//!   list order), so the next unsorted walk sees the sorted order, as in SystemTap. With a
//!   `limit` of 1…30 only the top of the list is put in order (`_stp_map_sortn`'s bubble and
//!   insertion passes, reproduced step for step, including what they do to the rest).
//! - Capacity is the declared size `[N]` or MAXMAPENTRIES; inserting into a full array is an
//!   error unless it wraps (`%`), which reuses the entry at the head of the list.
//! - Reading a missing element yields 0 / "" and inserts nothing; storing 0 / "" inserts.
//!
//! Storage is a slab of entries with an open-addressing index of `u32` slots; a lookup hashes
//! the caller's keys in place and allocates nothing, an insert reuses a freed entry's buffers.

use crate::stats::{Stat, StatSpec};
use rtap_abi::codes::{SORT_ASCENDING, STAT_COUNT};
use rustc_hash::FxHasher;
use std::hash::Hasher;

/// Type of one key position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// long
    Long,
    /// string
    Str,
}

/// A key as the caller holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRef<'a> {
    /// A long key.
    Long(i64),
    /// A string key.
    Str(&'a [u8]),
}

/// A stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyVal {
    /// A long key.
    Long(i64),
    /// A string key.
    Str(Vec<u8>),
}

impl KeyVal {
    /// The key as a [`KeyRef`].
    pub fn as_ref(&self) -> KeyRef<'_> {
        match self {
            KeyVal::Long(v) => KeyRef::Long(*v),
            KeyVal::Str(s) => KeyRef::Str(s),
        }
    }
}

/// Type of the values of an array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueType {
    /// long
    Long,
    /// string
    Str,
    /// statistics
    Stats(StatSpec),
}

/// A stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// long
    Long(i64),
    /// string
    Str(Vec<u8>),
    /// statistics
    Stat(Stat),
}

/// The array is full and does not wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

const EMPTY: u32 = u32::MAX;
const TOMB: u32 = u32::MAX - 1;
/// The list head sentinel in `prev`/`next` links.
const HEAD: u32 = u32::MAX;

#[derive(Debug)]
struct Entry {
    hash: u64,
    prev: u32,
    next: u32,
    keys: Vec<KeyVal>,
    value: Value,
}

/// One associative array.
#[derive(Debug)]
pub struct Map {
    key_types: Vec<KeyType>,
    value_type: ValueType,
    capacity: usize,
    wrap: bool,
    entries: Vec<Entry>,
    free: Vec<u32>,
    table: Vec<u32>,
    used_slots: usize,
    head: u32,
    tail: u32,
    len: usize,
}

fn hash_keys(keys: &[KeyRef<'_>]) -> u64 {
    let mut h = FxHasher::default();
    for k in keys {
        match *k {
            KeyRef::Long(v) => h.write_i64(v),
            KeyRef::Str(s) => {
                h.write(s);
                h.write_u8(0xff);
            }
        }
    }
    // FxHash's low bits (the index) only mix the keys' low bits: finish with murmur3's fmix64
    // so sequential keys do not cluster in the linear-probing index.
    let mut h = h.finish();
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

fn keys_equal(stored: &[KeyVal], keys: &[KeyRef<'_>]) -> bool {
    stored.iter().zip(keys).all(|(a, b)| match (a, b) {
        (KeyVal::Long(x), KeyRef::Long(y)) => x == y,
        (KeyVal::Str(x), KeyRef::Str(y)) => x.as_slice() == *y,
        _ => false,
    })
}

impl Map {
    /// An empty array holding at most `capacity` elements.
    pub fn new(
        key_types: Vec<KeyType>,
        value_type: ValueType,
        capacity: usize,
        wrap: bool,
    ) -> Self {
        Self {
            key_types,
            value_type,
            capacity: capacity.max(1),
            wrap,
            entries: Vec::new(),
            free: Vec::new(),
            table: Vec::new(),
            used_slots: 0,
            head: HEAD,
            tail: HEAD,
            len: 0,
        }
    }

    /// The key types.
    pub fn key_types(&self) -> &[KeyType] {
        &self.key_types
    }

    /// The value type.
    pub fn value_type(&self) -> &ValueType {
        &self.value_type
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot_of(&self, hash: u64, keys: &[KeyRef<'_>]) -> Result<usize, usize> {
        // Ok(slot holding the entry) or Err(slot to insert at).
        let mask = self.table.len() - 1;
        let mut i = hash as usize & mask;
        let mut first_tomb = None;
        loop {
            match self.table[i] {
                EMPTY => return Err(first_tomb.unwrap_or(i)),
                TOMB => {
                    first_tomb.get_or_insert(i);
                }
                e => {
                    let entry = &self.entries[e as usize];
                    if entry.hash == hash && keys_equal(&entry.keys, keys) {
                        return Ok(i);
                    }
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// The entry id of `keys`, if present.
    pub fn find(&self, keys: &[KeyRef<'_>]) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        self.slot_of(hash_keys(keys), keys)
            .ok()
            .map(|slot| self.table[slot])
    }

    /// The value of an entry.
    pub fn value(&self, id: u32) -> &Value {
        &self.entries[id as usize].value
    }

    /// The keys of an entry.
    pub fn keys(&self, id: u32) -> &[KeyVal] {
        &self.entries[id as usize].keys
    }

    /// `a[k]` of a long array (0 when absent).
    pub fn get_long(&self, keys: &[KeyRef<'_>]) -> i64 {
        match self.find(keys).map(|id| self.value(id)) {
            Some(Value::Long(v)) => *v,
            _ => 0,
        }
    }

    /// `a[k]` of a string array ("" when absent).
    pub fn get_str(&self, keys: &[KeyRef<'_>]) -> &[u8] {
        match self.find(keys).map(|id| self.value(id)) {
            Some(Value::Str(s)) => s,
            _ => b"",
        }
    }

    /// The aggregate of a statistics element, if present.
    pub fn get_stat(&self, keys: &[KeyRef<'_>]) -> Option<&Stat> {
        match self.find(keys).map(|id| self.value(id)) {
            Some(Value::Stat(s)) => Some(s),
            _ => None,
        }
    }

    /// The entry for `keys`, inserted (with a cleared value) when absent.
    pub fn entry(&mut self, keys: &[KeyRef<'_>]) -> Result<&mut Value, Overflow> {
        if self.table.is_empty() {
            self.table = vec![EMPTY; 16];
        }
        let hash = hash_keys(keys);
        let slot = match self.slot_of(hash, keys) {
            Ok(slot) => return Ok(&mut self.entries[self.table[slot] as usize].value),
            Err(slot) => slot,
        };
        if self.len >= self.capacity {
            if !self.wrap {
                return Err(Overflow);
            }
            // `_new_map_create`: a wrapping array reuses the entry at the head of its list.
            let oldest = self.head;
            self.remove(oldest);
            return self.entry(keys);
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                let fresh = match &self.value_type {
                    ValueType::Long => Value::Long(0),
                    ValueType::Str => Value::Str(Vec::new()),
                    ValueType::Stats(spec) => Value::Stat(Stat::new(spec)),
                };
                self.entries.push(Entry {
                    hash: 0,
                    prev: HEAD,
                    next: HEAD,
                    keys: Vec::new(),
                    value: fresh,
                });
                (self.entries.len() - 1) as u32
            }
        };
        let entry = &mut self.entries[id as usize];
        entry.hash = hash;
        entry.keys.clear();
        entry.keys.extend(keys.iter().map(|k| match *k {
            KeyRef::Long(v) => KeyVal::Long(v),
            KeyRef::Str(s) => KeyVal::Str(s.to_vec()),
        }));
        match &mut entry.value {
            Value::Long(v) => *v = 0,
            Value::Str(s) => s.clear(),
            Value::Stat(s) => s.clear(),
        }
        if self.table[slot] == EMPTY {
            self.used_slots += 1;
        }
        self.table[slot] = id;
        self.link_after(id, self.tail);
        self.len += 1;
        if self.used_slots * 8 > self.table.len() * 7 {
            self.rehash();
        }
        Ok(&mut self.entries[id as usize].value)
    }

    fn rehash(&mut self) {
        let size = (self.len * 2).next_power_of_two().max(16);
        self.table = vec![EMPTY; size];
        self.used_slots = self.len;
        let mask = size - 1;
        let mut id = self.head;
        while id != HEAD {
            let mut i = self.entries[id as usize].hash as usize & mask;
            while self.table[i] != EMPTY {
                i = (i + 1) & mask;
            }
            self.table[i] = id;
            id = self.entries[id as usize].next;
        }
    }

    /// `a[k] = v`.
    pub fn set_long(&mut self, keys: &[KeyRef<'_>], v: i64) -> Result<(), Overflow> {
        if let Value::Long(slot) = self.entry(keys)? {
            *slot = v;
        }
        Ok(())
    }

    /// `a[k] += delta`; the new value.
    pub fn add_long(&mut self, keys: &[KeyRef<'_>], delta: i64) -> Result<i64, Overflow> {
        match self.entry(keys)? {
            Value::Long(slot) => {
                *slot = slot.wrapping_add(delta);
                Ok(*slot)
            }
            _ => Ok(0),
        }
    }

    /// `a[k] = s`.
    pub fn set_str(&mut self, keys: &[KeyRef<'_>], s: &[u8]) -> Result<(), Overflow> {
        if let Value::Str(slot) = self.entry(keys)? {
            slot.clear();
            slot.extend_from_slice(s);
        }
        Ok(())
    }

    /// `a[k] <<< v`.
    pub fn stat_add(&mut self, keys: &[KeyRef<'_>], v: i64) -> Result<(), Overflow> {
        let ValueType::Stats(spec) = &self.value_type else {
            return Ok(());
        };
        let spec = spec.clone();
        if let Value::Stat(stat) = self.entry(keys)? {
            stat.add(&spec, v);
        }
        Ok(())
    }

    /// Whether `keys` matches `pattern`, where bit *i* of `wildcards` makes key *i* match anything.
    pub fn matches(keys: &[KeyVal], pattern: &[KeyRef<'_>], wildcards: u64) -> bool {
        keys.iter().zip(pattern).enumerate().all(|(i, (k, p))| {
            wildcards & (1 << i) != 0
                || match (k, p) {
                    (KeyVal::Long(x), KeyRef::Long(y)) => x == y,
                    (KeyVal::Str(x), KeyRef::Str(y)) => x.as_slice() == *y,
                    _ => false,
                }
        })
    }

    /// `[k...] in a`, with slices.
    pub fn exists(&self, pattern: &[KeyRef<'_>], wildcards: u64) -> bool {
        if wildcards == 0 {
            return self.find(pattern).is_some();
        }
        self.ids()
            .into_iter()
            .any(|id| Self::matches(self.keys(id), pattern, wildcards))
    }

    /// `delete a[k...]`, with slices.
    pub fn delete(&mut self, pattern: &[KeyRef<'_>], wildcards: u64) {
        if wildcards == 0 {
            if let Some(id) = self.find(pattern) {
                self.remove(id);
            }
            return;
        }
        for id in self.ids() {
            if Self::matches(self.keys(id), pattern, wildcards) {
                self.remove(id);
            }
        }
    }

    /// `delete a`.
    pub fn clear(&mut self) {
        for id in self.ids() {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: u32) {
        let mask = self.table.len() - 1;
        let mut slot = self.entries[id as usize].hash as usize & mask;
        while self.table[slot] != id {
            slot = (slot + 1) & mask;
        }
        self.table[slot] = TOMB;
        self.unlink(id);
        self.free.push(id);
        self.len -= 1;
    }

    /// Entry ids in list order.
    pub fn ids(&self) -> Vec<u32> {
        let mut ids = Vec::with_capacity(self.len);
        let mut id = self.head;
        while id != HEAD {
            ids.push(id);
            id = self.entries[id as usize].next;
        }
        ids
    }

    // ---- the list (a circular doubly linked list through a HEAD sentinel, as mlist) ----

    fn next(&self, id: u32) -> u32 {
        if id == HEAD {
            self.head
        } else {
            self.entries[id as usize].next
        }
    }

    fn prev(&self, id: u32) -> u32 {
        if id == HEAD {
            self.tail
        } else {
            self.entries[id as usize].prev
        }
    }

    fn set_next(&mut self, id: u32, to: u32) {
        if id == HEAD {
            self.head = to;
        } else {
            self.entries[id as usize].next = to;
        }
    }

    fn set_prev(&mut self, id: u32, to: u32) {
        if id == HEAD {
            self.tail = to;
        } else {
            self.entries[id as usize].prev = to;
        }
    }

    fn unlink(&mut self, id: u32) {
        let (p, n) = (self.prev(id), self.next(id));
        self.set_next(p, n);
        self.set_prev(n, p);
    }

    /// `mlist_add(id, after)`: insert `id` right after `after`.
    fn link_after(&mut self, id: u32, after: u32) {
        let n = self.next(after);
        self.set_prev(id, after);
        self.set_next(id, n);
        self.set_next(after, id);
        self.set_prev(n, id);
    }

    // ---- sorting ----

    /// `_stp_cmp`: whether `a` belongs after `b` for the column (0 = value, 1… = key) and
    /// direction; statistics values compare by `stat_op`.
    fn out_of_order(&self, a: u32, b: u32, column: u32, direction: i64, stat_op: i64) -> bool {
        use std::cmp::Ordering;
        let (ea, eb) = (&self.entries[a as usize], &self.entries[b as usize]);
        let ord = if column == 0 {
            match (&ea.value, &eb.value) {
                (Value::Long(x), Value::Long(y)) => x.cmp(y),
                (Value::Str(x), Value::Str(y)) => x.cmp(y),
                (Value::Stat(x), Value::Stat(y)) => x.sort_key(stat_op).cmp(&y.sort_key(stat_op)),
                _ => Ordering::Equal,
            }
        } else {
            match (&ea.keys[column as usize - 1], &eb.keys[column as usize - 1]) {
                (KeyVal::Long(x), KeyVal::Long(y)) => x.cmp(y),
                (KeyVal::Str(x), KeyVal::Str(y)) => x.cmp(y),
                _ => Ordering::Equal,
            }
        };
        if direction == SORT_ASCENDING {
            ord == Ordering::Greater
        } else {
            ord == Ordering::Less
        }
    }

    /// Sorts the list for a `foreach` with `limit` (`_stp_map_sortn`; `limit` is a C `int`).
    pub fn sort(&mut self, column: u32, direction: i64, stat_op: i64, limit: i32) {
        let stat_op = if matches!(self.value_type, ValueType::Stats(_)) {
            stat_op
        } else {
            STAT_COUNT
        };
        if limit == 0 || limit > 30 {
            self.sort_all(column, direction, stat_op);
        } else {
            self.sort_top(limit, column, direction, stat_op);
        }
    }

    fn sort_all(&mut self, column: u32, direction: i64, stat_op: i64) {
        let mut ids = self.ids();
        // A stable sort: equal elements keep their list order, as the merge sort does.
        ids.sort_by(|&a, &b| {
            if self.out_of_order(a, b, column, direction, stat_op) {
                std::cmp::Ordering::Greater
            } else if self.out_of_order(b, a, column, direction, stat_op) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Equal
            }
        });
        self.head = HEAD;
        self.tail = HEAD;
        for id in ids {
            self.link_after(id, self.tail);
        }
    }

    /// `_stp_map_sortn` for 1 ≤ n ≤ 30 (and negative n): a bubble sort of the first n
    /// elements, then an insertion pass that pulls later elements into that top region.
    fn sort_top(&mut self, n: i32, column: u32, direction: i64, stat_op: i64) {
        if self.head == HEAD {
            return;
        }
        let cmp = |m: &Self, a, b| m.out_of_order(a, b, column, direction, stat_op);
        let mut swaps = true;
        let mut a = HEAD;
        while swaps {
            let mut num = n;
            swaps = false;
            a = self.next(HEAD);
            let mut c = self.next(self.next(a));
            loop {
                if self.next(a) == HEAD {
                    break;
                }
                num -= 1;
                if num <= 0 {
                    break;
                }
                let na = self.next(a);
                if cmp(self, a, na) {
                    swaps = true;
                    // _stp_swap(a, next(a)): move a after its successor.
                    self.unlink(a);
                    self.link_after(a, na);
                }
                a = self.prev(c);
                c = self.next(c);
            }
        }
        let mut last = a;
        let mut a = self.next(a);
        while a != HEAD {
            let tmp = self.next(a);
            let mut c = last;
            while c != HEAD && cmp(self, c, a) {
                c = self.prev(c);
            }
            if c != last {
                self.unlink(a);
                self.link_after(a, c);
                last = self.prev(last);
            }
            a = tmp;
        }
    }
}

#[cfg(test)]
mod tests;
