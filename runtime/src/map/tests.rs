//! Arrays against a simple model: a `Vec` of (keys, value) in list order, sorted with the
//! standard library's stable sort.

use super::*;
use proptest::prelude::*;
use rtap_abi::codes::SORT_DESCENDING;

#[derive(Debug, Clone)]
enum Op {
    Set(i64, String, i64),
    Add(i64, String, i64),
    Delete(i64, String),
    DeleteSlice(i64),
    Clear,
    Sort(u32, bool, i32),
}

fn op() -> impl Strategy<Value = Op> {
    let k1 = 0i64..6;
    let k2 = prop::sample::select(vec!["a", "b", "c"]).prop_map(String::from);
    prop_oneof![
        6 => (k1.clone(), k2.clone(), -3i64..4).prop_map(|(a, b, v)| Op::Set(a, b, v)),
        3 => (k1.clone(), k2.clone(), -3i64..4).prop_map(|(a, b, v)| Op::Add(a, b, v)),
        2 => (k1.clone(), k2).prop_map(|(a, b)| Op::Delete(a, b)),
        1 => k1.prop_map(Op::DeleteSlice),
        1 => Just(Op::Clear),
        2 => (0u32..3, any::<bool>(), prop_oneof![Just(0), 1i32..8, Just(40)]).prop_map(|(c, d, n)| Op::Sort(c, d, n)),
    ]
}

type Row = (i64, String, i64);

fn listed(map: &Map) -> Vec<Row> {
    map.ids()
        .into_iter()
        .map(|id| {
            let (KeyVal::Long(a), KeyVal::Str(b)) = (&map.keys(id)[0], &map.keys(id)[1]) else {
                panic!()
            };
            let Value::Long(v) = map.value(id) else {
                panic!()
            };
            (*a, String::from_utf8(b.clone()).unwrap(), *v)
        })
        .collect()
}

fn sort_key(row: &Row, column: u32) -> (i64, String) {
    match column {
        0 => (row.2, String::new()),
        1 => (row.0, String::new()),
        _ => (0, row.1.clone()),
    }
}

proptest! {
    #[test]
    fn long_array_matches_the_model(ops in prop::collection::vec(op(), 1..60), cap in 1usize..8, wrap in any::<bool>()) {
        let mut map = Map::new(vec![KeyType::Long, KeyType::Str], ValueType::Long, cap, wrap);
        let mut model: Vec<Row> = Vec::new();
        for op in ops {
            let add = matches!(op, Op::Add(..));
            match op {
                Op::Set(a, b, v) | Op::Add(a, b, v) => {
                    let keys = [KeyRef::Long(a), KeyRef::Str(b.as_bytes())];
                    let got = if add { map.add_long(&keys, v).map(|_| ()) } else { map.set_long(&keys, v) };
                    match model.iter().position(|r| r.0 == a && r.1 == b) {
                        Some(i) => { if add { model[i].2 += v } else { model[i].2 = v } prop_assert!(got.is_ok()); }
                        None if model.len() < cap => { model.push((a, b, v)); prop_assert!(got.is_ok()); }
                        None if wrap => { model.remove(0); model.push((a, b, v)); prop_assert!(got.is_ok()); }
                        None => prop_assert_eq!(got, Err(Overflow)),
                    }
                }
                Op::Delete(a, b) => {
                    map.delete(&[KeyRef::Long(a), KeyRef::Str(b.as_bytes())], 0);
                    model.retain(|r| !(r.0 == a && r.1 == b));
                }
                Op::DeleteSlice(a) => {
                    prop_assert_eq!(map.exists(&[KeyRef::Long(a), KeyRef::Str(b"")], 0b10), model.iter().any(|r| r.0 == a));
                    map.delete(&[KeyRef::Long(a), KeyRef::Str(b"")], 0b10);
                    model.retain(|r| r.0 != a);
                }
                Op::Clear => { map.clear(); model.clear(); }
                Op::Sort(column, desc, limit) => {
                    let dir = if desc { SORT_DESCENDING } else { SORT_ASCENDING };
                    map.sort(column, dir, STAT_COUNT, limit);
                    let mut sorted = model.clone();
                    sorted.sort_by(|x, y| {
                        let o = sort_key(x, column).cmp(&sort_key(y, column));
                        if desc { o.reverse() } else { o }
                    });
                    let got = listed(&map);
                    if limit == 0 || limit > 30 {
                        model = sorted;
                    } else {
                        // Only the top `limit` are in order; the list stays a permutation.
                        let n = (limit as usize).min(model.len());
                        prop_assert_eq!(&got[..n], &sorted[..n]);
                        let mut a = got.clone(); a.sort();
                        let mut b = model.clone(); b.sort();
                        prop_assert_eq!(a, b);
                        model = got;
                    }
                }
            }
            prop_assert_eq!(listed(&map), model.clone());
            prop_assert_eq!(map.len(), model.len());
            for r in &model {
                prop_assert_eq!(map.get_long(&[KeyRef::Long(r.0), KeyRef::Str(r.1.as_bytes())]), r.2);
            }
        }
    }
}

#[test]
fn missing_elements_read_as_zero_without_inserting() {
    let mut m = Map::new(vec![KeyType::Str], ValueType::Str, 4, false);
    assert_eq!(m.get_str(&[KeyRef::Str(b"x")]), b"");
    assert!(m.is_empty());
    m.set_str(&[KeyRef::Str(b"x")], b"").unwrap();
    assert!(m.exists(&[KeyRef::Str(b"x")], 0), "storing \"\" inserts");
}

#[test]
fn updates_keep_insertion_order_and_wrap_evicts_the_oldest() {
    let mut m = Map::new(vec![KeyType::Long], ValueType::Long, 3, true);
    for k in [5, 1, 9] {
        m.set_long(&[KeyRef::Long(k)], k).unwrap();
    }
    m.set_long(&[KeyRef::Long(5)], 50).unwrap();
    m.set_long(&[KeyRef::Long(7)], 7).unwrap();
    let keys: Vec<_> = m
        .ids()
        .into_iter()
        .map(|id| m.keys(id)[0].clone())
        .collect();
    assert_eq!(
        keys,
        vec![KeyVal::Long(1), KeyVal::Long(9), KeyVal::Long(7)]
    );
}

#[test]
fn statistics_arrays_sort_by_the_chosen_aggregate() {
    let spec = StatSpec::default();
    let mut m = Map::new(vec![KeyType::Long], ValueType::Stats(spec), 10, false);
    for (k, samples) in [(1, &[10, 10][..]), (2, &[1, 1, 1]), (3, &[100])] {
        for &s in samples {
            m.stat_add(&[KeyRef::Long(k)], s).unwrap();
        }
    }
    let order = |m: &Map| {
        m.ids()
            .into_iter()
            .map(|id| m.keys(id)[0].clone())
            .collect::<Vec<_>>()
    };
    m.sort(0, SORT_DESCENDING, STAT_COUNT, 0);
    assert_eq!(order(&m), [2, 1, 3].map(KeyVal::Long));
    m.sort(0, SORT_DESCENDING, rtap_abi::codes::STAT_SUM, 0);
    assert_eq!(order(&m), [3, 1, 2].map(KeyVal::Long));
    // @variance is not a sort key in 4.8: it sorts by count, ties in list order.
    m.sort(0, SORT_ASCENDING, rtap_abi::codes::STAT_VARIANCE, 0);
    assert_eq!(order(&m), [3, 1, 2].map(KeyVal::Long));
}
