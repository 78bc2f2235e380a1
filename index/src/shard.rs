//! Sharding (`I/N`): split one big backfill over N machines by document id.
//!
//! A document belongs to shard `blake3(doc_id) mod N` (first 8 bytes, little endian):
//! a uniform spread that depends on nothing but the id, so every machine computes the
//! same split without talking to the others, and every document lands in exactly one
//! shard. Shards count from 0, like Kubernetes' indexed jobs
//! (`--shard $JOB_COMPLETION_INDEX/N`).

use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The shard a document id belongs to, out of `count`.
    pub fn of(doc_id: &str, count: u64) -> u64 {
        let hash = blake3::hash(doc_id.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash.as_bytes()[..8]);
        u64::from_le_bytes(first) % count.max(1)
    }

    pub fn contains(&self, doc_id: &str) -> bool {
        Shard::of(doc_id, self.count) == self.index
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("shard {s:?}: expected I/N with 0 <= I < N (e.g. 0/4)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u64 = i.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use docket_ingest::document::document_id;

    #[test]
    fn every_document_is_in_exactly_one_shard_and_shards_are_even() {
        let ids: Vec<String> = (0..20_000)
            .map(|i| document_id(&format!("inbox/{i}.eml")))
            .collect();
        for count in [1u64, 2, 3, 7, 16] {
            let shards: Vec<Shard> = (0..count).map(|index| Shard { index, count }).collect();
            let mut sizes = vec![0usize; count as usize];
            for id in &ids {
                let owners: Vec<&Shard> = shards.iter().filter(|s| s.contains(id)).collect();
                assert_eq!(owners.len(), 1, "{id} in {count} shards");
                sizes[owners[0].index as usize] += 1;
            }
            let expected = ids.len() as f64 / count as f64;
            for size in sizes {
                assert!(
                    (size as f64 - expected).abs() < expected * 0.1,
                    "uneven split for {count}: {size} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn the_split_depends_only_on_the_id() {
        // Fixed values: machines running different builds must agree.
        let got: Vec<u64> = ["policies/travel.md", "a", "inbox/17.eml"]
            .iter()
            .map(|id| Shard::of(id, 7))
            .collect();
        assert_eq!(got, [0, 4, 4]);
    }

    #[test]
    fn shards_parse_and_reject_nonsense() {
        assert_eq!(
            "2/4".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 4 }
        );
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(Shard { index: 1, count: 3 }.to_string(), "1/3");
    }
}
