//! Order-preserving byte encoding of composite keys, so that one redb table of byte keys
//! serves every (partition, sort key) range the port can ask for.
//!
//! Each string component is written with `0x00` escaped as `0x00 0xFF` and ends with the
//! terminator `0x00 0x01`. Byte order of encodings is then tuple order of the strings
//! (component by component, each by UTF-8 bytes, as DynamoDB compares), no encoding of a
//! component is a prefix of another's, and "sort key starts with p" is a byte-prefix test
//! on the escaped `p` without terminator.

use std::ops::Bound;

use item_store::{Index, Key, SortKey};

fn push_escaped(buf: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        if b == 0 {
            buf.extend_from_slice(&[0, 0xFF]);
        } else {
            buf.push(b);
        }
    }
}

fn push_component(buf: &mut Vec<u8>, s: &str) {
    push_escaped(buf, s);
    buf.extend_from_slice(&[0, 1]);
}

/// The key of an item in the items table.
pub fn item_key(key: &Key) -> Vec<u8> {
    let mut buf = Vec::with_capacity(key.pk.len() + key.sk.len() + 4);
    push_component(&mut buf, &key.pk);
    push_component(&mut buf, &key.sk);
    buf
}

/// The key of an item's entry in an index table: the index partition and sort keys, then
/// the item key so that entries with equal index keys stay distinct (and ordered).
pub fn index_entry_key(index: &Index, ipk: &str, isk: &str, key: &Key) -> Vec<u8> {
    let mut buf = partition_prefix(Some(index), ipk);
    push_component(&mut buf, isk);
    push_component(&mut buf, &key.pk);
    push_component(&mut buf, &key.sk);
    buf
}

/// The prefix shared by every key of one partition of the table or of an index.
pub fn partition_prefix(index: Option<&Index>, pk: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(index) = index {
        push_component(&mut buf, index.name);
    }
    push_component(&mut buf, pk);
    buf
}

/// The smallest byte string greater than every string starting with `prefix`
/// (`None`: there is none).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn with_component(prefix: &[u8], s: &str) -> Vec<u8> {
    let mut buf = prefix.to_vec();
    push_component(&mut buf, s);
    buf
}

fn after_all_starting_with(prefix: &[u8]) -> Bound<Vec<u8>> {
    prefix_end(prefix).map_or(Bound::Unbounded, Bound::Excluded)
}

/// The key range of the partition with prefix `partition` under a sort-key condition.
pub fn sort_key_range(partition: &[u8], sort: &SortKey) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let start = || Bound::Included(partition.to_vec());
    let end = || after_all_starting_with(partition);
    match sort {
        SortKey::All => (start(), end()),
        SortKey::Equals(s) => {
            let at = with_component(partition, s);
            let upper = after_all_starting_with(&at);
            (Bound::Included(at), upper)
        }
        SortKey::Prefix(p) => {
            let mut at = partition.to_vec();
            push_escaped(&mut at, p);
            let upper = after_all_starting_with(&at);
            (Bound::Included(at), upper)
        }
        SortKey::Between(a, b) => (
            Bound::Included(with_component(partition, a)),
            after_all_starting_with(&with_component(partition, b)),
        ),
        SortKey::Less(s) => (start(), Bound::Excluded(with_component(partition, s))),
        SortKey::LessOrEqual(s) => (
            start(),
            after_all_starting_with(&with_component(partition, s)),
        ),
        SortKey::Greater(s) => {
            let lower = match prefix_end(&with_component(partition, s)) {
                Some(after) => Bound::Included(after),
                None => return (Bound::Excluded(Vec::new()), Bound::Excluded(Vec::new())),
            };
            (lower, end())
        }
        SortKey::GreaterOrEqual(s) => (Bound::Included(with_component(partition, s)), end()),
    }
}

/// Whether a range contains no key at all (redb, like `BTreeMap`, must not be asked for
/// an inverted range).
pub fn is_empty_range(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    use Bound::{Excluded, Included};
    match (lower, upper) {
        (Included(l), Included(u)) => l > u,
        (Included(l) | Excluded(l), Included(u) | Excluded(u)) => l >= u,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_preserves_tuple_order_with_nul_and_prefixes() {
        let strings = [
            "",
            "\0",
            "\0\0",
            "\u{1}",
            "a",
            "a\0",
            "a\0b",
            "a\u{1}",
            "ab",
            "b",
            "é",
            "\u{10FFFF}",
        ];
        let mut pairs = Vec::new();
        for a in strings {
            for b in strings {
                pairs.push((a, b));
            }
        }
        for (x1, y1) in &pairs {
            for (x2, y2) in &pairs {
                let k1 = item_key(&Key::new(*x1, *y1));
                let k2 = item_key(&Key::new(*x2, *y2));
                assert_eq!(
                    k1.cmp(&k2),
                    (x1, y1).cmp(&(x2, y2)),
                    "{x1:?},{y1:?} vs {x2:?},{y2:?}"
                );
            }
        }
    }

    #[test]
    fn prefix_range_holds_exactly_the_prefixed_sort_keys() {
        let partition = partition_prefix(None, "p");
        for prefix in ["", "a", "a\0", "\u{10FFFF}"] {
            let (lower, upper) = sort_key_range(&partition, &SortKey::Prefix(prefix.into()));
            for sk in [
                "",
                "a",
                "a\0",
                "a\0z",
                "ab",
                "b",
                "\u{10FFFF}",
                "\u{10FFFF}x",
            ] {
                let k = item_key(&Key::new("p", sk));
                let inside = (lower.as_ref(), upper.as_ref());
                assert_eq!(
                    std::ops::RangeBounds::<Vec<u8>>::contains(&inside, &k),
                    sk.starts_with(prefix),
                    "prefix {prefix:?} sk {sk:?}"
                );
            }
        }
    }
}
