//! Peer training throughputs from `shared/ANCHORS.md`, drawn beside ours for reference. They
//! were measured at another time (on a 2-core Intel Xeon), not beside the benchmarks in the
//! report, so they are labelled as such and never used for pass/fail verdicts.

/// Where the peer figures come from, as every plot and table labels them.
pub const PEER_LABEL: &str = "from ANCHORS.md (2-core Intel Xeon, measured at another time)";

/// One peer's samples/s on one workload and thread count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerFigure {
    /// Workload name as the train bench ids it (`W1`, `W2`, `W3`).
    pub workload: &'static str,
    /// Threads.
    pub threads: usize,
    /// Framework.
    pub peer: &'static str,
    /// Training samples per second.
    pub samples_per_s: f64,
}

/// The frameworks in ANCHORS.md's training table, in its column order.
pub const PEERS: [&str; 5] = [
    "PyTorch",
    "JAX jit/step",
    "JAX scan/epoch",
    "scikit-learn",
    "candle",
];

/// ANCHORS.md's training table: rows (workload, threads), columns [`PEERS`], samples/s.
const TABLE: [(&str, usize, [f64; 5]); 6] = [
    ("W1", 1, [93e3, 417e3, 1015e3, 160e3, 200e3]),
    ("W1", 2, [76e3, 408e3, 963e3, 117e3, 141e3]),
    ("W2", 1, [67e3, 172e3, 138e3, 73e3, 42e3]),
    ("W2", 2, [91e3, 123e3, 135e3, 60e3, 37e3]),
    ("W3", 1, [30e3, 30e3, 33e3, 14e3, 7.4e3]),
    ("W3", 2, [42e3, 44e3, 45e3, 20e3, 7.1e3]),
];

/// The peer figures for `workload` at `threads` (empty for unknown workloads).
pub fn peers(workload: &str, threads: usize) -> Vec<PeerFigure> {
    TABLE
        .iter()
        .filter(|(w, t, _)| *w == workload && *t == threads)
        .flat_map(|(w, t, rates)| {
            PEERS
                .iter()
                .zip(rates)
                .map(move |(peer, &samples_per_s)| PeerFigure {
                    workload: w,
                    threads: *t,
                    peer,
                    samples_per_s,
                })
        })
        .collect()
}
