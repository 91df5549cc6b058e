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
