//! Tables that grow with the target's history, kept bounded.
use std::collections::BTreeMap;

/// Rows kept one by one in a table that grows with the target's history (sockets, epoll
/// fds of processes that came and went, wake edges of exited threads): past this the
/// quietest are folded into exact totals, so a trace of days keeps bounded memory.
pub const MAX_ROWS: usize = 4096;

/// Keeps the `MAX_ROWS` rows of `table` with the largest `weight` (ties: the first in key
/// order) and returns the others, taken out.
pub fn fold_quietest<K: Ord + Clone, V>(table: &mut BTreeMap<K, V>, weight: impl Fn(&V) -> u64) -> Vec<(K, V)> {
    if table.len() <= MAX_ROWS {
        return Vec::new();
    }
    let mut ranked: Vec<(u64, K)> = table.iter().map(|(k, v)| (weight(v), k.clone())).collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    ranked.drain(MAX_ROWS..).filter_map(|(_, k)| table.remove(&k).map(|v| (k, v))).collect()
}
