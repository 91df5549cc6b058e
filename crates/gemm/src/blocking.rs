//! The cache blocks (KC, MC, NC) of the loop nest, sized from this machine's caches.

use std::sync::OnceLock;

/// Cache sizes in bytes (L1 data, L2, L3), read once from the OS.
fn cache_sizes() -> (usize, usize, usize) {
    static SIZES: OnceLock<(usize, usize, usize)> = OnceLock::new();
    *SIZES.get_or_init(|| {
        // Fallbacks are a common modern core (32 KiB L1d, 1 MiB L2, 8 MiB L3 share).
        let mut sizes = (32 << 10, 1 << 20, 8 << 20);
        for index in 0..8 {
            let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
            let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).ok();
            let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
            else {
                continue;
            };
            let size = size.trim();
            let bytes = match size.strip_suffix('K') {
                Some(kib) => kib.parse::<usize>().ok().map(|v| v << 10),
                None => size
                    .strip_suffix('M')
                    .and_then(|m| m.parse::<usize>().ok())
                    .map(|v| v << 20),
            };
            let Some(bytes) = bytes else { continue };
            match (level.trim(), kind.trim()) {
                ("1", "Data") => sizes.0 = bytes,
                ("2", _) => sizes.1 = bytes,
                ("3", _) => sizes.2 = bytes,
                _ => {}
            }
        }
        sizes
    })
}

/// Block sizes for one kernel shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Blocking {
    pub kc: usize,
    pub mc: usize,
    pub nc: usize,
}

/// Derives KC, MC, NC from the caches: a kc × NR sliver of B fills half of L1 (it is reused by
/// every A micro-panel of the block), an mc × kc block of A half of L2, and a kc × nc block of B
/// a quarter of L3 (shared with the other cores).
pub(crate) fn blocking(mr: usize, nr: usize, elem: usize) -> Blocking {
    let (l1, l2, l3) = cache_sizes();
    let kc = ((l1 / 2) / (nr * elem)).clamp(64, 1024) / 8 * 8;
    let mc = ((l2 / 2) / (kc * elem)).clamp(mr, 4096) / mr * mr;
    let nc = ((l3 / 4) / (kc * elem)).clamp(nr, 1 << 16) / nr * nr;
    Blocking { kc, mc, nc }
}

impl Blocking {
    /// The same number of k and n blocks as these sizes give, but of equal depth and width (n
    /// to whole NR panels), so no thin last block is left to run on its own. With NC = 2046,
    /// n = 2048 split as 2046 + 2 packs all of A again for two columns and runs them through
    /// edge tiles; as 1026 + 1022 it does not (1 thread, interleaved in one process on the
    /// Zen 5 host of session 15: 2048³ 1.03–1.05×, 2100³ 1.09×; 1024³ and 1100³, where the
    /// split does not change or only k's does, 0.99×).
    pub(crate) fn evened(self, k: usize, n: usize, nr: usize) -> Blocking {
        let even = |len: usize, block: usize| len.div_ceil(len.div_ceil(block).max(1));
        Blocking {
            kc: even(k, self.kc).max(1),
            mc: self.mc,
            nc: even(n, self.nc).next_multiple_of(nr).max(nr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Blocking;

    #[test]
    fn evened_blocks_keep_their_count_and_leave_no_thin_tail() {
        let nr = 6;
        let sizes = Blocking {
            kc: 1024,
            mc: 128,
            nc: 2046,
        };
        for len in 0..5000 {
            let b = sizes.evened(len, len, nr);
            // As many blocks as before, none larger than before.
            assert_eq!(len.div_ceil(b.kc), len.div_ceil(sizes.kc), "k = {len}");
            assert_eq!(len.div_ceil(b.nc), len.div_ceil(sizes.nc), "n = {len}");
            assert!(
                b.kc <= sizes.kc && b.nc <= sizes.nc && b.nc.is_multiple_of(nr),
                "{len}: {b:?}"
            );
            // The last block falls short of the others by less than one step (k) or one NR panel
            // (n) per block.
            if len > 0 {
                assert!(len - (len.div_ceil(b.kc) - 1) * b.kc + len.div_ceil(b.kc) > b.kc);
                let last_n = len - (len.div_ceil(b.nc) - 1) * b.nc;
                assert!(last_n + nr * len.div_ceil(b.nc) > b.nc, "n = {len}: {b:?}");
            }
        }
        let b = sizes.evened(2048, 2048, nr);
        assert_eq!((b.kc, b.mc, b.nc), (1024, 128, 1026));
    }
}
