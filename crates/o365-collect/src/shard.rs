//! Sharding: N instances with the same configuration each collect a disjoint share of the
//! tenants, chosen by a stable hash of the tenant's name.

/// This instance's share: `K/N` (1-based `K`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which share, 1..=N.
    pub k: u32,
    /// How many shares.
    pub n: u32,
}

impl Shard {
    /// Everything (one instance).
    pub const ALL: Shard = Shard { k: 1, n: 1 };

    /// Parse `K/N` with 1 ≤ K ≤ N ≤ 1024.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || {
            format!("--shard {s:?}: expected K/N with 1 <= K <= N <= 1024, e.g. 1/3 (the first of three instances)")
        };
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        if k == 0 || n == 0 || k > n || n > 1024 {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }

    /// Whether the tenant of this name is this instance's.
    pub fn owns(&self, tenant_name: &str) -> bool {
        stable_hash(tenant_name) % self.n as u64 == (self.k - 1) as u64
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// FNV-1a (64 bits): the same on every machine, build and run.
pub fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_and_refuse() {
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { k: 2, n: 3 });
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "1/2000"] {
            assert!(Shard::parse(bad).unwrap_err().contains("K/N"), "{bad}");
        }
        // Fixed values: the hash must never change between releases (it decides ownership).
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("contoso"), stable_hash("contoso"));
    }

    proptest! {
        /// Every tenant belongs to exactly one share of N.
        #[test]
        fn exactly_one_owner(name in "[a-z0-9_-]{1,20}", n in 1u32..16) {
            let owners = (1..=n).filter(|k| Shard { k: *k, n }.owns(&name)).count();
            prop_assert_eq!(owners, 1);
        }
    }
}
