//! Splitting a study over machines: shard `i` of `n` runs the grid points whose index is
//! congruent to `i` modulo `n`, so every point belongs to exactly one shard and neighbouring
//! (similar-cost) points land on different machines.

use std::fmt;

/// The environment variable Slurm sets to a job-array task's index.
pub const SLURM_TASK_ID: &str = "SLURM_ARRAY_TASK_ID";
/// The environment variable Slurm sets to the first index of the job array.
pub const SLURM_TASK_MIN: &str = "SLURM_ARRAY_TASK_MIN";
/// The environment variable Slurm sets to the number of tasks in the job array.
pub const SLURM_TASK_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";

/// A `--shard` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--shard `{value}`: {reason}")]
pub struct ShardError {
    /// The value as given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard's residue, `0..count`.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// The whole study as one shard.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `i/n`, `/n` (i from `SLURM_ARRAY_TASK_ID`) or `slurm` (i and n from the job
    /// array). Slurm indices are taken relative to `SLURM_ARRAY_TASK_MIN`, so `--array=1-8`
    /// works as well as `--array=0-7`. `env` looks up environment variables (injected so tests
    /// need not touch the process environment).
    ///
    /// # Errors
    /// [`ShardError`] naming the value when it is malformed, `i >= n`, `n = 0`, or the Slurm
    /// variables it needs are missing.
    pub fn parse(value: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard, ShardError> {
        let fail = |reason: String| ShardError {
            value: value.to_string(),
            reason,
        };
        let number = |s: &str, what: &str| -> Result<usize, ShardError> {
            s.trim()
                .parse::<usize>()
                .map_err(|_| fail(format!("{what} `{s}` is not a non-negative integer")))
        };
        let slurm_index = || -> Result<usize, ShardError> {
            let id = env(SLURM_TASK_ID).ok_or_else(|| {
                fail(format!(
                    "the shard index is missing and {SLURM_TASK_ID} is not set (use i/n)"
                ))
            })?;
            let id = number(&id, SLURM_TASK_ID)?;
            let min = match env(SLURM_TASK_MIN) {
                Some(m) => number(&m, SLURM_TASK_MIN)?,
                None => 0,
            };
            id.checked_sub(min).ok_or_else(|| {
                fail(format!(
                    "{SLURM_TASK_ID}={id} is below {SLURM_TASK_MIN}={min}"
                ))
            })
        };
        let (index, count) = if value.trim().eq_ignore_ascii_case("slurm") {
            let n = env(SLURM_TASK_COUNT).ok_or_else(|| {
                fail(format!(
                    "{SLURM_TASK_COUNT} is not set (not inside a Slurm job array?)"
                ))
            })?;
            (slurm_index()?, number(&n, SLURM_TASK_COUNT)?)
        } else {
            let (i, n) = value
                .split_once('/')
                .ok_or_else(|| fail("expected i/n, /n or slurm".to_string()))?;
            let n = number(n, "shard count")?;
            let i = if i.trim().is_empty() {
                slurm_index()?
            } else {
                number(i, "shard index")?
            };
            (i, n)
        };
        if count == 0 {
            return Err(fail("the shard count must be at least 1".to_string()));
        }
        if index >= count {
            return Err(fail(format!(
                "shard index {index} must be below the shard count {count}"
            )));
        }
        Ok(Shard { index, count })
    }

    /// Whether the grid point at `grid_index` belongs to this shard.
    pub fn contains(self, grid_index: usize) -> bool {
        grid_index % self.count == self.index
    }

    /// Whether this is the whole study.
    pub fn is_all(self) -> bool {
        self.count == 1
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

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn parses_explicit_and_rejects_bad_values() {
        assert_eq!(
            Shard::parse("2/5", &no_env).unwrap(),
            Shard { index: 2, count: 5 }
        );
        for bad in ["5/5", "1/0", "x/3", "3", "-1/4", "/4"] {
            let e = Shard::parse(bad, &no_env).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn takes_index_from_slurm_relative_to_min() {
        let env = |k: &str| match k {
            SLURM_TASK_ID => Some("3".to_string()),
            SLURM_TASK_MIN => Some("1".to_string()),
            SLURM_TASK_COUNT => Some("4".to_string()),
            _ => None,
        };
        assert_eq!(
            Shard::parse("/4", &env).unwrap(),
            Shard { index: 2, count: 4 }
        );
        assert_eq!(
            Shard::parse("slurm", &env).unwrap(),
            Shard { index: 2, count: 4 }
        );
        assert!(
            Shard::parse("/2", &env).is_err(),
            "index 2 of 2 must be rejected"
        );
    }

    #[test]
    fn every_index_in_exactly_one_shard() {
        for n in 1..6 {
            for g in 0..50 {
                let owners = (0..n)
                    .filter(|&i| Shard { index: i, count: n }.contains(g))
                    .count();
                assert_eq!(owners, 1);
            }
        }
    }
}
