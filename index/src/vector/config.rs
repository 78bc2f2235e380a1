//! Settings of the vector store, as read from the index config file or the command line.

use serde::{Deserialize, Serialize};

use super::sparse::SparseConfig;
use crate::error::{Error, Result};

/// How a write is ordered across a shard's replicas (Qdrant's write ordering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteOrdering {
    /// Any replica applies the write first: fastest; concurrent writes to one point may
    /// land in different orders on different replicas.
    Weak,
    /// Routed through a dynamically elected leader; may be inconsistent while the leader
    /// changes.
    Medium,
    /// Routed through the shard's permanent leader: one order on every replica, and a
    /// write fails while that leader is down.
    Strong,
}

/// Which vector store to use and, for a server, how to reach it and lay out the collection.
/// Without `qdrant_url` the embedded store is used and the server settings are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorStoreConfig {
    /// gRPC URL of a Qdrant server or cluster (e.g. `http://127.0.0.1:6334`).
    #[serde(default)]
    pub qdrant_url: Option<String>,
    /// Collection holding the chunks on the server.
    #[serde(default = "VectorStoreConfig::default_collection")]
    pub collection: String,
    /// Environment variable holding the API key; unset or empty means no key. The key itself
    /// is never stored in a config file.
    #[serde(default = "VectorStoreConfig::default_api_key_env")]
    pub api_key_env: String,
    /// Shards of a new collection (spread over the cluster's nodes). Ignored once it exists.
    #[serde(default = "VectorStoreConfig::default_shard_number")]
    pub shard_number: u32,
    /// Copies of each shard in a new collection. Ignored once it exists.
    #[serde(default = "VectorStoreConfig::default_replication_factor")]
    pub replication_factor: u32,
    /// Replicas that must apply a write before it succeeds, in a new collection (at most
    /// `replication_factor`). Ignored once it exists.
    #[serde(default = "VectorStoreConfig::default_write_consistency_factor")]
    pub write_consistency_factor: u32,
    /// Order of writes across replicas. docket writes each point from one worker only (a
    /// document belongs to one shard of a run), and never writes a point concurrently,
    /// so the default is `medium`: ordered through a leader, yet writable while a node
    /// is down and another replica takes over.
    #[serde(default = "VectorStoreConfig::default_write_ordering")]
    pub write_ordering: WriteOrdering,
    /// The lexical leg in the collection (see [`SparseConfig`]).
    #[serde(default)]
    pub sparse: SparseConfig,
    /// Deadline of one request to the server, in seconds.
    #[serde(default = "VectorStoreConfig::default_timeout_secs")]
    pub timeout_secs: u64,
    /// How many times a request failing with a transient error is retried.
    #[serde(default = "VectorStoreConfig::default_max_retries")]
    pub max_retries: u32,
    /// First wait before a retry, in milliseconds; doubled at each further retry.
    #[serde(default = "VectorStoreConfig::default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
}

impl VectorStoreConfig {
    pub fn default_collection() -> String {
        "docket_chunks".to_owned()
    }
    pub fn default_api_key_env() -> String {
        "QDRANT_API_KEY".to_owned()
    }
    pub fn default_shard_number() -> u32 {
        1
    }
    pub fn default_replication_factor() -> u32 {
        1
    }
    pub fn default_write_consistency_factor() -> u32 {
        1
    }
    pub fn default_write_ordering() -> WriteOrdering {
        WriteOrdering::Medium
    }
    pub fn default_timeout_secs() -> u64 {
        30
    }
    pub fn default_max_retries() -> u32 {
        5
    }
    pub fn default_initial_backoff_ms() -> u64 {
        200
    }

    /// Settings for the server at `url`, everything else default.
    pub fn server(url: impl Into<String>) -> Self {
        VectorStoreConfig {
            qdrant_url: Some(url.into()),
            ..Self::default()
        }
    }

    /// Reject settings the server would refuse, before connecting.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, reason: &str| {
            Err(Error::Setting {
                name,
                reason: reason.to_owned(),
            })
        };
        if let Some(url) = &self.qdrant_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return bad("qdrant_url", "must start with http:// or https://");
        }
        if self.collection.is_empty()
            || !self
                .collection
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return bad(
                "collection",
                "must be non-empty ASCII letters, digits, _ or -",
            );
        }
        if self.shard_number == 0 {
            return bad("shard_number", "must be at least 1");
        }
        if self.replication_factor == 0 {
            return bad("replication_factor", "must be at least 1");
        }
        if self.write_consistency_factor == 0
            || self.write_consistency_factor > self.replication_factor
        {
            return bad(
                "write_consistency_factor",
                "must be between 1 and replication_factor",
            );
        }
        self.sparse.validate()?;
        if self.timeout_secs == 0 {
            return bad("timeout_secs", "must be at least 1");
        }
        Ok(())
    }
}

impl Default for VectorStoreConfig {
    fn default() -> Self {
        VectorStoreConfig {
            qdrant_url: None,
            collection: Self::default_collection(),
            api_key_env: Self::default_api_key_env(),
            shard_number: Self::default_shard_number(),
            replication_factor: Self::default_replication_factor(),
            write_consistency_factor: Self::default_write_consistency_factor(),
            write_ordering: Self::default_write_ordering(),
            sparse: SparseConfig::default(),
            timeout_secs: Self::default_timeout_secs(),
            max_retries: Self::default_max_retries(),
            initial_backoff_ms: Self::default_initial_backoff_ms(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_missing_fields_and_unknown_ones_are_refused() {
        let c: VectorStoreConfig =
            serde_json::from_str(r#"{"qdrant_url":"http://127.0.0.1:6334","shard_number":3}"#)
                .expect("valid config");
        assert_eq!(c.shard_number, 3);
        assert_eq!(c.replication_factor, 1);
        assert_eq!(c.api_key_env, "QDRANT_API_KEY");
        c.validate().expect("valid");
        assert!(serde_json::from_str::<VectorStoreConfig>(r#"{"shards":3}"#).is_err());
        let empty: VectorStoreConfig = serde_json::from_str("{}").expect("empty is default");
        assert_eq!(empty, VectorStoreConfig::default());
    }

    #[test]
    fn validate_names_the_bad_setting() {
        let mut c = VectorStoreConfig::server("127.0.0.1:6334");
        assert!(matches!(
            c.validate(),
            Err(Error::Setting {
                name: "qdrant_url",
                ..
            })
        ));
        c.qdrant_url = Some("http://127.0.0.1:6334".into());
        c.replication_factor = 0;
        assert!(matches!(
            c.validate(),
            Err(Error::Setting {
                name: "replication_factor",
                ..
            })
        ));
    }
}
