//! The Goto/BLIS loop nest, written once for every ISA and element type.
//!
//! ```text
//! loop 5: split n into nc-wide blocks                    (B block: L3)
//!   loop 4: split k into kc-deep blocks; pack B          (k is never split across threads)
//!     loop 3: split m into mc-tall blocks; pack A        (A block: L2)   <- threads split here
//!       loop 2: split the block's n into NR-wide panels  (B micro-panel)  <- and here if m is small
//!         loop 1: split the block's m into MR-tall panels
//!           microkernel: one MR × NR tile of C, in registers
//! ```
//!
//! Every element of C is accumulated over k in the same order (kc blocks in sequence, p in
//! sequence inside the tile) whatever the thread count and whatever was packed, so results are
//! bit-identical for any number of threads.

use std::sync::OnceLock;

use crate::epilogue::{RawEpilogue, finish_block};
use crate::kernel::{DotKernel, Isa, MicroKernel, Tile};
use crate::pack::{with_a_scratch, with_b_scratch};
use crate::{Element, Parallelism};

/// One product `C ← α·A·B + β·C` as raw pointers and strides (the `matrixmultiply` form).
#[doc(hidden)]
pub struct Problem<T> {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub alpha: T,
    pub a: *const T,
    pub rsa: isize,
    pub csa: isize,
    pub b: *const T,
    pub rsb: isize,
    pub csb: isize,
    pub beta: T,
    pub c: *mut T,
    pub rsc: isize,
    pub csc: isize,
    /// Element-wise steps on C after the product (see [`crate::Epilogue`]).
    pub epi: Option<RawEpilogue<T>>,
}

/// A is read in place (not packed) only when it feeds at most this many NR-wide panels: past
/// it, contiguous packed panels pay back their copy (1 thread, 128³, 22 panels: 101 GFLOP/s
/// in place, 112 packed; 64×64×256, 11 panels: 120 in place, 104 packed).
const A_IN_PLACE_MAX_PANELS: usize = 16;

/// Bytes an in-place A block (kc steps of its k stride) may span: a quarter of a 2 MiB L2, so
/// its pages and lines stay cached between the panels that reuse it. (With no limit on span or
/// panels, 1024³ read A in place over 4 MiB at a 4 KiB stride and ran at a third of its packed
/// speed.)
const A_IN_PLACE_MAX_SPAN: usize = 512 << 10;

/// A packed A panel feeds at most this many B panels (n up to 6·NR) before the next A panel
/// is packed: the block is then packed and used one A panel at a time instead of MC rows at
/// once. Each packed panel serves only these few tiles, so the copy is the larger part of the
/// work, and a whole MC block (64–256 KiB at k 64–128, say) would have left L1, or with a deep
/// k L2, before its tiles read it back. 1 thread, interleaved in one process, with A packed
/// (transposed unless noted): a feature-major batch's output-layer update `W₃ += δ₃ᵀ·a₂`
/// (10×256×64, W2's `U3`) 0.57–0.74× the time, at batch 128 (10×512×128) 0.86–0.90×;
/// 512×12×64 0.86–0.88×, 768×24×64 0.85–0.86×, 768×36×64 0.92–0.93×, 1024×30×128
/// 0.96–0.97×, 512×10×1024 0.83–0.86×, 1024×10×1024 with A column-major 0.81×; 1024×10×256
/// 0.99–1.02× and 1024×42×256 1.00×. At 8 and 16 B panels (1024×48×256, 1024×96×256) it
/// gained nothing.
const FEW_B_PANELS: usize = 6;

/// B with rows contiguous is read in place (not packed) only when it feeds at most this many
/// MR-tall panels.
const B_IN_PLACE_MAX_PANELS: usize = 4;

/// Bytes an in-place B sliver with rows contiguous (kc lines of NR elements) may stride over:
/// within a third of a 48 KiB L1d its lines cannot pile into a few cache sets.
const B_IN_PLACE_MAX_SPAN: usize = 16 << 10;

/// Row stride below which a B with rows contiguous that feeds at most
/// [`B_IN_PLACE_MAX_PANELS`] panels is read in place even past [`B_IN_PLACE_MAX_SPAN`], its
/// lines prefetched from L2 ([`B_PREFETCH_STEPS`]): gathering NR values of every row into
/// panels costs more than the few panels reuse (interleaved with the `gemm` crate, `Wᵀ·δ` of a
/// feature-major batch of 128, 512×512×128 with A transposed: 0.83× → 1.06–1.12× on 1 thread,
/// 0.84× → 0.96–0.97× on 2). At a page or more per row every step of k lands on another page
/// and the same few cache sets (1024×1024×256: 0.71× → 0.59×), so such a B is still packed.
const B_IN_PLACE_MAX_ROW_STRIDE: usize = 4 << 10;

/// Steps of k ahead that the microkernel prefetches a B read in place with its rows
/// contiguous and too far apart for L1 (the B of one to four A panels, `Wᵀ·δ` of a
/// feature-major batch): each step's line comes from L2, and the hardware does not run far
/// enough ahead at a 1 KiB stride (1 thread, interleaved: 256×256×64 with A transposed
/// 0.89× → 0.96× the `gemm` crate; nothing else moved beyond ±2%).
const B_PREFETCH_STEPS: isize = 8;

/// Under [`Parallelism::Auto`], products with fewer multiply-adds than this (about 203³) stay
/// on the calling thread: below it, handing half to a second thread costs more than the half
/// takes.
///
/// A hand-off is a wake-up and a join, tens of µs on a virtual machine whose idle vCPUs halt.
/// Measured on the 2-core Intel KVM guest (2026-12-02, 1 thread vs 2 inside a 2-thread pool,
/// medians of 15 interleaved rounds): 128³ 0.80×, 160³ 0.63×, 192³ 0.95×, 224³ 1.04×, 256³
/// 1.21–1.32×; W2's feature-major 256×256×64 0.71×, 512×512×128 1.67×. Splitting a product
/// too small loses up to 2.5× (128³ called from outside the pool: 0.40×), while keeping one
/// just above this on one thread forgoes a few percent, so the bar sits where splitting
/// starts to pay, not below. An earlier, 96³ bar made W2's training step on 2 threads 0.65×
/// its 1-thread rate.
pub const MIN_PARALLEL_MACS: usize = 1 << 23;

thread_local! {
    /// A policy that overrides `Parallelism::Auto` on this thread (see [`with_parallelism`]).
    static AUTO_OVERRIDE: std::cell::Cell<Option<Parallelism>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with every `Parallelism::Auto` product on this thread treated as `par`.
///
/// A sweep that trains many models at once on rayon's pool wraps each model in
/// `with_parallelism(Parallelism::Sequential, ..)`: the runs are the parallel loop, and their
/// products should not fan out again. Nests, and restores the previous policy on exit (also
/// on panic).
pub fn with_parallelism<R>(par: Parallelism, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Parallelism>);
    impl Drop for Restore {
        fn drop(&mut self) {
            AUTO_OVERRIDE.with(|o| o.set(self.0));
        }
    }
    let _restore = Restore(AUTO_OVERRIDE.with(|o| o.replace(Some(par))));
    f()
}

/// How many threads a product of this size may use under `par`.
fn thread_count(par: Parallelism, macs: usize) -> usize {
    let par = match par {
        Parallelism::Auto => AUTO_OVERRIDE.with(|o| o.get()).unwrap_or(Parallelism::Auto),
        explicit => explicit,
    };
    match par {
        Parallelism::Sequential => 1,
        Parallelism::Auto if macs < MIN_PARALLEL_MACS => 1,
        // rayon's current pool: the global one, or the one a caller `install`ed.
        Parallelism::Auto => rayon::current_num_threads().max(1),
    }
}

/// Runs the product on the active ISA.
///
/// # Safety
/// The pointers and strides must describe valid matrices as in the `sgemm` contract: every
/// implied element of A and B readable, of C readable and writable, C not aliasing itself or
/// A or B.
///
/// # Panics
/// When `DEPTHLAB_GEMM_ISA` names an ISA this CPU cannot run (the safe API checks first).
pub(crate) unsafe fn run<T: Element>(p: &Problem<T>, par: Parallelism) {
    let isa = match crate::kernel::active_isa() {
        Ok(isa) => isa,
        Err(e) => panic!("depthlab-gemm: {e}"),
    };
    // SAFETY: forwarded contract; `isa` is supported (active_isa checked it).
    unsafe { run_isa(isa, p, par) }
}

/// Runs the product on a given, supported ISA.
///
/// # Safety
/// As [`run`], and `isa.is_supported()`.
pub(crate) unsafe fn run_isa<T: Element>(isa: Isa, p: &Problem<T>, par: Parallelism) {
    if p.m == 0 || p.n == 0 {
        return;
    }
    if p.k == 0 {
        // SAFETY: forwarded contract; the epilogue's operands fit C (checked by its builder).
        unsafe {
            scale_c(p);
            if let Some(e) = &p.epi {
                finish_block(p.c, p.rsc, p.csc, p.m, p.n, e);
            }
        }
        return;
    }
    let threads = thread_count(par, p.m.saturating_mul(p.n).saturating_mul(p.k));
    LAST_ISA.with(|last| last.set(Some(isa)));
    // SAFETY: forwarded contract.
    unsafe { T::run_on(isa, p, threads) }
}

thread_local! {
    /// The ISA of the last product this thread ran through the kernels.
    static LAST_ISA: std::cell::Cell<Option<Isa>> = const { std::cell::Cell::new(None) };
}

/// The ISA whose microkernel ran the last non-empty product on this thread, so tests can prove a
/// forced path really ran.
pub fn last_isa_used() -> Option<Isa> {
    LAST_ISA.with(|last| last.get())
}

/// `C ← β·C` (the whole product when k = 0); C is not read when β = 0.
unsafe fn scale_c<T: Element>(p: &Problem<T>) {
    for i in 0..p.m {
        for j in 0..p.n {
            // SAFETY: (i, j) is inside C by the caller's contract.
            unsafe {
                let c = p.c.offset(i as isize * p.rsc + j as isize * p.csc);
                *c = if p.beta == T::ZERO {
                    T::ZERO
                } else {
                    p.beta * *c
                };
            }
        }
    }
}

/// The microkernel vectorises down C's columns; when C is row-major, multiply the transposes
/// instead (Cᵀ = Bᵀ·Aᵀ) so its stores stay contiguous. A stride swap, no copy.
///
/// Except when C has fewer columns than the narrowest tile has rows (`min_rows`) and at least
/// `tall_rows` rows: transposed, most of every vector would be padding (a batch's 10 logits
/// fill 10 of 16 lanes), while kept as it is the tiles run full height and only their stores
/// are strided. That pays when A already runs down m (nothing to transpose into the panels),
/// or when C is so thin (at most a quarter of `min_rows` columns) that three quarters of the
/// transposed tile would be padding. With A along k and 5 to 15 columns, the transposing copy
/// of A costs about what the padding did (interleaved, 1 thread: the feature-major logits
/// 64×256×10 2.4× faster; row-major A 512×64×12 0.84×, 256×256×15 0.92×).
fn orient<T: Copy>(p: &Problem<T>, min_rows: usize, tall_rows: usize) -> Problem<T> {
    let row_major = p.csc == 1 && p.rsc != 1;
    let few_columns = p.n < min_rows && p.m >= tall_rows && (p.rsa == 1 || 4 * p.n <= min_rows);
    if row_major && !few_columns {
        p.transposed()
    } else {
        *p
    }
}

impl<T: Copy> Problem<T> {
    /// The same product written for Cᵀ = Bᵀ·Aᵀ: a stride swap, no copy.
    pub(crate) fn transposed(&self) -> Problem<T> {
        let p = self;
        Problem {
            m: p.n,
            k: p.k,
            n: p.m,
            alpha: p.alpha,
            a: p.b,
            rsa: p.csb,
            csa: p.rsb,
            b: p.a,
            rsb: p.csa,
            csb: p.rsa,
            beta: p.beta,
            c: p.c,
            rsc: p.csc,
            csc: p.rsc,
            epi: p.epi.map(RawEpilogue::transposed),
        }
    }
}

// SAFETY: a Problem is only shared with the rayon tasks of the call that owns it; they read A
// and B and write disjoint tiles of C.
unsafe impl<T: Sync> Sync for Problem<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Problem<T> {}

impl<T: Copy> Clone for Problem<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Copy> Copy for Problem<T> {}

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

/// Runs the five loops with microkernel `K` on `threads` threads.
///
/// # Safety
/// As [`run`], C oriented so that `rsc` is the preferred unit stride, and `K::ISA` supported.
pub(crate) unsafe fn gemm_loops<T: Element, K: MicroKernel<T>>(p: &Problem<T>, threads: usize) {
    debug_assert!(K::ISA.is_supported());
    let (mr, nr) = (K::MR, K::NR);
    let blk = blocking(mr, nr, std::mem::size_of::<T>());
    // Reading an operand in place saves the copy, but only pays when the sliver is reused by
    // few panels (the copy is not amortised). A is streamed from L2 whether packed or not (each
    // micro-panel meets one B sliver at a time), so its stride matters only as far as its block
    // must stay in L2. A B sliver is reused from L1 by every A panel: with its rows contiguous
    // (kc short lines, a large stride apart: a power of two, typically) the lines can map into
    // a handful of sets and be evicted between uses, which costs far more than packing; with
    // its columns contiguous (NR runs of kc elements) they spread over every set, and a copy
    // would only transpose what the kernel can broadcast from where it lies, so such a B is
    // never packed (interleaved with the `gemm` crate, which does the same: 512³-2048³ and
    // 128×784×512 as fast or up to 1.16× faster on 2 threads than with the transposing copy).
    // With a single A panel each sliver is used once, and any stride will do.
    // A stride along a dimension of length 1 never reaches memory and may be anything (even
    // isize::MIN), so the layout tests below saturate rather than overflow.
    let elem = std::mem::size_of::<T>();
    let kc_max = blk.kc.min(p.k);
    // An A whose steps of k lie exactly MR apart down unit-stride columns (a feature-major
    // batch of MR rows) already has the packed layout, if it starts on a cache line as packed
    // panels do: the copy is skipped whatever n is (1 thread, 41 interleaved rounds, operands
    // 64-byte aligned: 64×256×256 with A feature-major 1.03–1.04× the packed product,
    // 256×64×64 1.02–1.04×). Unaligned, the split loads made it 3–5% slower than the copy.
    let a_is_panel = p.rsa == 1 && p.csa == mr as isize && (p.a as usize).is_multiple_of(64);
    let a_in_place = a_is_panel
        || p.rsa == 1
            && p.n <= A_IN_PLACE_MAX_PANELS * nr
            && kc_max
                .saturating_mul(p.csa.unsigned_abs())
                .saturating_mul(elem)
                <= A_IN_PLACE_MAX_SPAN;
    let b_row_bytes = p.rsb.unsigned_abs().saturating_mul(elem);
    let b_in_place = p.rsb.unsigned_abs() == 1
        || p.csb.unsigned_abs() == 1
            && (p.m <= mr
                || p.m <= B_IN_PLACE_MAX_PANELS * mr
                    && (kc_max.saturating_mul(b_row_bytes) <= B_IN_PLACE_MAX_SPAN
                        || b_row_bytes < B_IN_PLACE_MAX_ROW_STRIDE));

    // B read where it lies: the block at (pc, jc), prefetched ahead when its rows are
    // contiguous but too far apart for L1.
    let in_place_b = |pc: usize, jc: usize, kc: usize| {
        let far_rows =
            p.csb.unsigned_abs() == 1 && kc.saturating_mul(b_row_bytes) > B_IN_PLACE_MAX_SPAN;
        BSource {
            ptr: p
                .b
                .wrapping_offset(pc as isize * p.rsb + jc as isize * p.csb),
            packed: false,
            ks: p.rsb,
            js: p.csb,
            ahead: if far_rows {
                B_PREFETCH_STEPS.wrapping_mul(p.rsb)
            } else {
                0
            },
        }
    };
    let job_for = |pc: usize, kc: usize, jc: usize, b: BSource<T>| BlockJob {
        p: *p,
        pc,
        kc,
        jc,
        // C's old value counts once, in the first k block.
        beta: if pc == 0 { p.beta } else { T::ONE },
        b,
        a_capacity: blk.mc.div_ceil(mr) * mr * blk.kc,
        // Once C holds the whole sum: on the tiles of the last k block.
        epi: if pc + kc == p.k { p.epi } else { None },
        prefetch_c: prefetches_c(kc, p.m.saturating_mul(p.n).saturating_mul(elem)),
    };
    // The row blocks (loop 3): MC rows, or one panel at a time when a packed A feeds few B
    // panels (see FEW_B_PANELS).
    let mc_for = |panels: usize| {
        if !a_in_place && panels <= FEW_B_PANELS {
            mr
        } else {
            blk.mc
        }
    };
    if threads == 1 && b_in_place && p.k <= blk.kc && p.n <= blk.nc {
        // One block of B, read where it lies, on one thread (a tiny square, an MLP layer's
        // forward product): straight to the row blocks, without the loops' bookkeeping
        // around them (the B scratch buffer, the task split). 1 thread, interleaved in one
        // process: 16³ 1.19–1.23× faster, 32³ 1.05–1.08×, fwd 32×2×64 1.13–1.14×, 64³ and
        // fwd 32×64×64 0.99–1.03×. The same blocks and tiles as below, so the same bits.
        let job = job_for(0, p.k, 0, in_place_b(0, 0, p.k));
        let mc = mc_for(p.n.div_ceil(nr));
        // SAFETY: the whole problem is this one block, on this thread alone.
        unsafe { job.rows::<K>(0, p.m, mc, 0, p.n, a_in_place) };
        return;
    }
    with_b_scratch(|b_scratch| {
        for jc in (0..p.n).step_by(blk.nc) {
            // loop 5
            let nc = blk.nc.min(p.n - jc);
            for pc in (0..p.k).step_by(blk.kc) {
                // loop 4
                let kc = blk.kc.min(p.k - pc);
                let b_src = if b_in_place {
                    in_place_b(pc, jc, kc)
                } else {
                    let b_block =
                        p.b.wrapping_offset(pc as isize * p.rsb + jc as isize * p.csb);
                    let b_pack: *mut T = b_scratch.get(nc.div_ceil(nr) * nr * kc);
                    pack_b_block::<T, K>(p, b_block, nc, kc, b_pack, threads);
                    BSource {
                        ptr: b_pack.cast_const(),
                        packed: true,
                        ks: nr as isize,
                        js: 1,
                        ahead: 0,
                    }
                };
                let job = job_for(pc, kc, jc, b_src);
                // Each thread takes a contiguous, equal share of the MR-tall panels of m (walked
                // in blocks of at most MC rows), so none idles through a short last block.
                let m_panels = p.m.div_ceil(mr);
                let panels = nc.div_ceil(nr);
                // With a few A panels and at least as many columns as rows, split n instead:
                // split by m, every thread would stream all of B for its one or two panels;
                // split by n, each streams its share, and the few A panels each thread packs
                // for itself cost little (2 threads, interleaved with the `gemm` crate:
                // 512×512×128 0.78–0.90× → 0.96–1.02×, 784×512×128 with A transposed
                // 0.81–0.86× → 0.96–1.02×, 128³ and 256³ 0.87–0.94× → 0.94–1.04×). With more
                // rows than columns every thread would transpose all of A for itself
                // (64×256×256 with W row-major: 0.93× when tried), so those still split m.
                let m_parts =
                    if m_panels <= B_IN_PLACE_MAX_PANELS && p.n >= p.m && panels >= 2 * threads {
                        1
                    } else {
                        threads.min(m_panels).max(1)
                    };
                // Split the n panels too when m alone cannot feed every thread.
                let n_splits = if threads > m_parts {
                    threads.div_ceil(m_parts).min(panels)
                } else {
                    1
                };
                let tasks = m_parts * n_splits;
                let mc = mc_for(panels);
                let run_task = |t: usize| {
                    let (mp, ns) = (t / n_splits, t % n_splits);
                    let (q0, q1) = (m_panels * mp / m_parts, m_panels * (mp + 1) / m_parts);
                    let (r0, r1) = (q0 * mr, (q1 * mr).min(p.m));
                    let (j0, j1) = (panels * ns / n_splits, panels * (ns + 1) / n_splits);
                    // SAFETY: tasks cover disjoint (ic, jr) ranges of C; see `BlockJob::run`.
                    unsafe { job.rows::<K>(r0, r1, mc, j0 * nr, (j1 * nr).min(nc), a_in_place) };
                };
                if threads > 1 && tasks > 1 {
                    for_each_task(tasks, run_task);
                } else {
                    (0..tasks).for_each(run_task);
                }
            }
        }
    });
}

/// Packs a kc × nc block of B into NR-wide panels, splitting the panels over `threads`.
fn pack_b_block<T: Element, K: MicroKernel<T>>(
    p: &Problem<T>,
    b_block: *const T,
    nc: usize,
    kc: usize,
    b_pack: *mut T,
    threads: usize,
) {
    let nr = K::NR;
    let panels = nc.div_ceil(nr);
    // Split only on a pool worker. From outside the pool the split would be one more
    // hand-off before the products, waiting on a worker's wake-up for a copy of a few tens of
    // µs; the caller packs faster alone (wgrad_128×784×512 on 2 threads, four alternations of
    // 41 rounds: 0.92–0.99× → 0.99–1.28× the `gemm` crate's rate, 1.35–1.49× → 1.47–1.52× our
    // 1-thread rate).
    let parts = if threads > 1 && panels >= 2 * threads && rayon::current_thread_index().is_some() {
        threads
    } else {
        1
    };
    let (src, dst) = (Shared(b_block), Shared(b_pack));
    let pack_part = |part: usize| {
        let (src, dst) = (src.get(), dst.get());
        let (q0, q1) = (panels * part / parts, panels * (part + 1) / parts);
        let cols = (q1 * nr).min(nc) - q0 * nr;
        // SAFETY: panels q0..q1 of the block are inside B, and their slots in b_pack (which
        // holds all `panels`) are written by this part alone; K's ISA was checked.
        unsafe {
            K::pack(
                cols,
                kc,
                nr,
                src.wrapping_offset((q0 * nr) as isize * p.csb),
                p.csb,
                p.rsb,
                dst.add(q0 * nr * kc),
            )
        };
    };
    if parts > 1 {
        for_each_task(parts, pack_part);
    } else {
        pack_part(0);
    }
}

/// Runs `task(0)`, …, `task(n - 1)` on rayon's current pool, each once.
///
/// On a pool worker this is a parallel iterator. A thread outside the pool (a library user's
/// main thread) takes task 0 itself and hands the rest to the pool (`in_place_scope`): a
/// parallel iterator would inject the whole loop and put the caller to sleep, so the work
/// would wait for two wake-ups (a worker, then the worker's helper) while the caller's core
/// idled. Interleaved on 2 threads, called from the main thread (2026-12-02, two alternations
/// of 21 rounds): fwd_128×784×512 1.13–1.26× → 1.61–1.68× the 1-thread rate, fwd_128×512×512
/// 1.00× → 1.66–1.69×, 512³ 1.43–1.70× → 1.78–1.79×, 2048³ 1.90–1.93× → 1.97–1.98×; 256³ and
/// `wgrad` within the noise. In a steady loop of identical calls (criterion) both read the
/// same: the gain is in calls that find the pool idle. Each share handed over from outside
/// is one small heap allocation (rayon boxes spawned jobs); from a worker nothing is
/// allocated. An earlier host (session 7) measured the caller's share 8–15% slower on warm
/// 256³–1024³; on the present host it gains.
pub(crate) fn for_each_task(n: usize, task: impl Fn(usize) + Sync + Send) {
    if rayon::current_thread_index().is_some() {
        use rayon::prelude::*;
        (0..n).into_par_iter().for_each(task);
    } else {
        let task = &task;
        rayon::in_place_scope(|s| {
            for t in 1..n {
                s.spawn(move |_| task(t));
            }
            if n > 0 {
                task(0);
            }
        });
    }
}

/// A pointer handed to the tasks of one parallel loop: B to read, the packed buffer to write.
#[derive(Clone, Copy)]
struct Shared<P>(P);
// SAFETY: the tasks only read through the source pointer and write disjoint panel ranges
// through the destination; both outlive the parallel loop.
unsafe impl<P> Sync for Shared<P> {}
// SAFETY: as above.
unsafe impl<P> Send for Shared<P> {}

impl<P: Copy> Shared<P> {
    /// The pointer (a method, so closures capture the wrapper and not the bare field).
    fn get(self) -> P {
        self.0
    }
}

/// Everything one (jc, pc) iteration shares among its tasks.
struct BlockJob<T> {
    p: Problem<T>,
    pc: usize,
    kc: usize,
    jc: usize,
    beta: T,
    b: BSource<T>,
    /// Elements of the largest A block this kernel ever packs (MC × KC).
    a_capacity: usize,
    /// The tiles' `prefetch_c`.
    prefetch_c: bool,
    /// The epilogue, in the last k block only.
    epi: Option<RawEpilogue<T>>,
}

// SAFETY: a job is shared only with the rayon tasks of the call that built it; they read A, B
// and the packed B block (alive until the call returns) and write disjoint tiles of C.
unsafe impl<T: Sync> Sync for BlockJob<T> {}

/// Where a (pc, jc) block of B is read from: packed NR-wide panels, or B itself.
#[derive(Clone, Copy)]
struct BSource<T> {
    ptr: *const T,
    packed: bool,
    /// Distance between steps of k (NR when packed).
    ks: isize,
    /// Distance between columns (1 when packed).
    js: isize,
    /// The tiles' `b_ahead`: 0 unless B is read in place from rows too far apart for L1.
    ahead: isize,
}

impl<T> BSource<T> {
    /// The sliver feeding the panel that starts at column `jr` of the block.
    fn panel(&self, jr: usize, kc: usize) -> *const T {
        if self.packed {
            self.ptr.wrapping_add(jr * kc)
        } else {
            self.ptr.wrapping_offset(jr as isize * self.js)
        }
    }
}

impl<T: Element> BlockJob<T> {
    /// Loop 3 over rows `r0..r1` in blocks of `mc`, each through [`BlockJob::run`].
    ///
    /// # Safety
    /// As [`BlockJob::run`], for the rows `r0..r1` and columns `jr0..jr1`.
    unsafe fn rows<K: MicroKernel<T>>(
        &self,
        r0: usize,
        r1: usize,
        mc: usize,
        jr0: usize,
        jr1: usize,
        a_in_place: bool,
    ) {
        for ic in (r0..r1).step_by(mc) {
            // SAFETY: each block lies inside rows r0..r1, which the caller vouches for.
            unsafe { self.run::<K>(ic, mc.min(r1 - ic), jr0, jr1, a_in_place) };
        }
    }

    /// Loops 3 (one block) to 1: pack this A block, then every tile of columns `jr0..jr1`.
    ///
    /// # Safety
    /// `ic..ic+mcb` and `jr0..jr1` are inside the problem, and no other task writes that part of C.
    unsafe fn run<K: MicroKernel<T>>(
        &self,
        ic: usize,
        mcb: usize,
        jr0: usize,
        jr1: usize,
        a_in_place: bool,
    ) {
        let (mr, nr) = (K::MR, K::NR);
        let p = &self.p;
        let kc = self.kc;
        let a_block =
            p.a.wrapping_offset(ic as isize * p.rsa + self.pc as isize * p.csa);
        // SAFETY: (both calls) forwarded contract; `a_pack` holds what `tiles` reads of it.
        let tiles = |a_pack: *mut T, full_panels: usize, copy_in_first_column: bool| unsafe {
            self.tiles::<K>(
                ic,
                mcb,
                jr0,
                jr1,
                a_block,
                a_pack,
                full_panels,
                copy_in_first_column,
            )
        };
        if a_in_place && mcb.is_multiple_of(mr) {
            // Every panel is read where it lies: no copy, so no scratch buffer either.
            return tiles(std::ptr::null_mut(), mcb / mr, false);
        }
        with_a_scratch(|a_scratch| {
            // Reserve the largest block at once: a worker's buffer then reaches its final size
            // on first use, whichever blocks it is handed later (steady state allocates nothing).
            let a_pack: *mut T = a_scratch.get((mcb.div_ceil(mr) * mr * kc).max(self.a_capacity));
            // A whose M direction is unit-stride can feed full panels straight to the kernel;
            // only the ragged last panel needs a padded copy. When such an A is still packed
            // (too many panels, or too wide a span, to be read in place by every column), the
            // first column of tiles reads its full panels where they lie and stores each step
            // into the panel as it goes, instead of a separate pass loading them all first
            // (not while B is prefetched, whose hint that loop variant leaves out).
            let copy_in_first_column =
                !a_in_place && p.rsa == 1 && self.b.ahead == 0 && jr1 - jr0 >= nr;
            let full_panels = if a_in_place || copy_in_first_column {
                mcb / mr
            } else {
                0
            };
            // SAFETY: the A block is inside A; a_pack holds ceil(mcb/mr) panels; K's ISA was
            // checked by the dispatcher.
            unsafe {
                K::pack(
                    mcb - full_panels * mr,
                    kc,
                    mr,
                    a_block.wrapping_offset((full_panels * mr) as isize * p.rsa),
                    p.rsa,
                    p.csa,
                    a_pack.add(full_panels * mr * kc),
                );
            }
            tiles(a_pack, full_panels, copy_in_first_column);
        });
    }

    /// Loops 2 and 1 over one A block: the first `full_panels` panels read from `a_block` where
    /// they lie (in the first column only, copied into `a_pack` as they go, when
    /// `copy_in_first_column`), the rest from `a_pack`.
    ///
    /// # Safety
    /// As [`BlockJob::run`]; `a_pack` holds the block's packed panels from `full_panels` on
    /// (and room for all of them when `copy_in_first_column`).
    #[allow(clippy::too_many_arguments)]
    unsafe fn tiles<K: MicroKernel<T>>(
        &self,
        ic: usize,
        mcb: usize,
        jr0: usize,
        jr1: usize,
        a_block: *const T,
        a_pack: *mut T,
        full_panels: usize,
        copy_in_first_column: bool,
    ) {
        let (mr, nr) = (K::MR, K::NR);
        let p = &self.p;
        let kc = self.kc;
        for jr in (jr0..jr1).step_by(nr) {
            // loop 2
            let n_eff = nr.min(jr1 - jr);
            let b = self.b.panel(jr, kc);
            let copying = copy_in_first_column && jr == jr0;
            for (q, ir) in (0..mcb).step_by(mr).enumerate() {
                // loop 1
                let panel = a_pack.wrapping_add(q * mr * kc);
                let whole = q < full_panels;
                // Whole panels are read where they lie, in every column unless they are being
                // copied, and then only while they are (the first column).
                let from_a = whole && (copying || !copy_in_first_column);
                let (a, a_ks) = if from_a {
                    (a_block.wrapping_add(ir), p.csa)
                } else {
                    (panel.cast_const(), mr as isize)
                };
                let tile = Tile {
                    kc,
                    alpha: p.alpha,
                    a,
                    a_ks,
                    b,
                    b_ks: self.b.ks,
                    b_js: self.b.js,
                    b_ahead: self.b.ahead,
                    // Full panels only (a full-width first tile is guaranteed by the caller).
                    a_pack: if whole && copying {
                        panel
                    } else {
                        std::ptr::null_mut()
                    },
                    prefetch_c: self.prefetch_c,
                    beta: self.beta,
                    c: p.c.wrapping_offset(
                        (ic + ir) as isize * p.rsc + (self.jc + jr) as isize * p.csc,
                    ),
                    rsc: p.rsc,
                    csc: p.csc,
                    m_eff: mr.min(mcb - ir),
                    n_eff,
                    epi: self.epi.map(|e| e.at(ic + ir, self.jc + jr)),
                };
                // SAFETY: the tile is inside C and owned by this task; A and B slivers are
                // valid for kc steps; K's ISA was checked by the dispatcher.
                unsafe {
                    if n_eff < nr {
                        K::tile_edge(&tile, self.b.packed)
                    } else if self.b.packed {
                        K::tile::<true>(&tile)
                    } else {
                        K::tile::<false>(&tile)
                    }
                };
            }
        }
    }
}

/// Whether the tiles of a k block `kc` deep ask for their lines of a C of `c_bytes` before
/// their k loop. From 64 steps on, a tile's C may have left the caches while its k loop ran
/// (the rule so far). Below that, only when C's stores would otherwise wait on lines from
/// farther than the few the tile's short k loop can cover: any C beyond L1 for 8 steps or
/// fewer, a C beyond L2 for up to 16. Against no C prefetch below 64 steps (1 thread,
/// interleaved in one process): 1000×1000×k 1.24–1.48× at k = 8, 1.28–1.38× at 4, 1.08–1.17×
/// at 12–16; 2000×2000×4 1.33–1.48×; 256×256×8 1.06–1.18×; 128×512×2 1.17–1.19×. Where C
/// stays cached the hints only cost: 300×300×12–24 (360 KiB) 0.93–0.98×, 1000×1000×24
/// 0.98–0.99×, and W1's training step (C of 8–16 KiB) 0.96×.
fn prefetches_c(kc: usize, c_bytes: usize) -> bool {
    kc >= 64 || (kc <= 8 && c_bytes > 64 << 10) || (kc <= 16 && c_bytes > 1 << 20)
}

/// Picks one ISA's path for a product: dot products when both operands run along k and one
/// side is thin (see [`crate::dot`]), else the blocked loops with the shortest tile whose
/// height holds the oriented m (narrow, mid, three registers), else the wide one (ISAs with
/// fewer tiles pass one several times). The choice depends on the shape and strides alone, so
/// it never changes results across thread counts.
///
/// # Safety
/// As [`run`], C in any orientation, and the ISA of every kernel supported.
unsafe fn pick<
    T: Element,
    Wide: MicroKernel<T>,
    Three: MicroKernel<T>,
    Mid: MicroKernel<T>,
    Narrow: MicroKernel<T>,
    Dot: DotKernel<T>,
>(
    p: &Problem<T>,
    threads: usize,
) {
    // SAFETY: forwarded contract.
    unsafe {
        if crate::dot::suits(p, Dot::LANES) {
            crate::dot::dot_loops::<T, Dot>(p, threads);
            // Thin products only come here; one pass over C after the dot products.
            if let Some(e) = &p.epi {
                Wide::finish(p.c, p.rsc, p.csc, p.m, p.n, e);
            }
            return;
        }
        let p = &orient(p, Narrow::MR, Wide::MR);
        if p.m <= Narrow::MR {
            gemm_loops::<T, Narrow>(p, threads)
        } else if p.m <= Mid::MR {
            gemm_loops::<T, Mid>(p, threads)
        } else if p.m <= Three::MR {
            gemm_loops::<T, Three>(p, threads)
        } else if p.m < LEAST_PADDING_MAX_ROWS {
            // Ties go to the taller tile, which loads less per FMA.
            let pad = |mr: usize| padding(p.m, mr);
            let (wide, three, mid) = (pad(Wide::MR), pad(Three::MR), pad(Mid::MR));
            if wide <= three.min(mid) {
                gemm_loops::<T, Wide>(p, threads)
            } else if three <= mid {
                gemm_loops::<T, Three>(p, threads)
            } else {
                gemm_loops::<T, Mid>(p, threads)
            }
        } else if mid_pays::<Mid, Wide, T>(p) {
            gemm_loops::<T, Mid>(p, threads)
        } else {
            gemm_loops::<T, Wide>(p, threads)
        }
    }
}

/// Below this many oriented rows the driver takes whichever of the wide, three-register and
/// mid tiles leaves the shortest ragged last panel: with only a few panels that panel is a
/// large share of the work, and its short body loads more per FMA than a full one. Against
/// the rule before it (the mid tile when the wide one was clearly ragged, else the wide one),
/// 1 thread, interleaved in one process: f32 squares 80, 96 and 136 1.03–1.23×, f64 136–240
/// 1.05–1.14×, the rest 0.97–1.03×.
const LEAST_PADDING_MAX_ROWS: usize = 256;

/// Whether the mid tile beats the wide one on an m of at least [`LEAST_PADDING_MAX_ROWS`]
/// whose last wide panel is clearly ragged (the wide tile would pad more than about 3% of m:
/// 784 rows, 6.1% against 2.0%).
///
/// The wide tile runs its ragged last panel with a body only as tall as the rows need, so it
/// multiplies no padding; what it loses there is the short body's higher ratio of loads to
/// FMAs. The mid tile (half as tall, twice as wide) still pays when B is packed: its twelve
/// broadcasts come from one contiguous sliver (`wgrad`, 512×784×128, ran 0.97–0.98× on the
/// wide tile). When B is read in place with its columns contiguous (the oriented `Aᵀ` of any
/// row-major product) they come from twelve column streams instead of six, and the wide tile
/// was faster (1 thread, interleaved in one process: f32 squares 544, 800, 912 and 928
/// 1.02–1.19×, f64 272–464 1.03–1.06×).
fn mid_pays<Mid: MicroKernel<T>, Wide: MicroKernel<T>, T>(p: &Problem<T>) -> bool {
    // Compare padding rows in units of m/32 (about 3%), in integers.
    let ragged = (padding(p.m, Wide::MR) - padding(p.m, Mid::MR)) * 32 > p.m;
    ragged && p.rsb.unsigned_abs() != 1
}

/// Rows a tile `mr` tall would add to `m` to fill its last panel.
fn padding(m: usize, mr: usize) -> usize {
    m.div_ceil(mr) * mr - m
}

macro_rules! dispatch {
    ($t:ty, $wide:ident, $half:ident, $one:ident) => {
        impl crate::kernel::Sealed for $t {
            fn row_sums_on(isa: Isa, x: crate::MatRef<'_, $t>, sums: &mut [$t]) {
                #[cfg(not(target_arch = "x86_64"))]
                use crate::arch::scalar::{$one as $wide, $one as $half};
                #[cfg(target_arch = "x86_64")]
                use crate::arch::x86_64::{avx2::$half, avx512::$wide};
                crate::reduce::row_sums_with::<$t, $wide, $half, crate::arch::scalar::$one>(
                    isa, x, sums,
                );
            }

            unsafe fn run_on(isa: Isa, p: &Problem<$t>, threads: usize) {
                use crate::arch::scalar::{ScalarDot, ScalarKernel};
                match isa {
                    Isa::Scalar => {
                        // SAFETY: forwarded contract; the scalar path runs everywhere.
                        unsafe {
                            pick::<
                                $t,
                                ScalarKernel<$t>,
                                ScalarKernel<$t>,
                                ScalarKernel<$t>,
                                ScalarKernel<$t>,
                                ScalarDot<$t>,
                            >(p, threads)
                        }
                    }
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2 => {
                        // SAFETY: forwarded contract; the caller checked AVX2+FMA is supported.
                        unsafe {
                            use crate::arch::x86_64::avx2::{Avx2Dot, Avx2Kernel, Avx2Narrow};
                            pick::<
                                $t,
                                Avx2Kernel<$t>,
                                Avx2Kernel<$t>,
                                Avx2Kernel<$t>,
                                Avx2Narrow<$t>,
                                Avx2Dot<$t>,
                            >(p, threads)
                        }
                    }
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512 => {
                        // SAFETY: forwarded contract; the caller checked AVX-512F is supported.
                        unsafe {
                            use crate::arch::x86_64::avx512::{
                                Avx512Dot, Avx512Kernel, Avx512Mid, Avx512Narrow, Avx512Three,
                            };
                            pick::<
                                $t,
                                Avx512Kernel<$t>,
                                Avx512Three<$t>,
                                Avx512Mid<$t>,
                                Avx512Narrow<$t>,
                                Avx512Dot<$t>,
                            >(p, threads)
                        }
                    }
                    #[cfg(not(target_arch = "x86_64"))]
                    _ => unreachable!("non-x86 ISAs are never reported as supported"),
                }
            }
        }
    };
}
dispatch!(f32, F32x16, F32x8, F32x1);
dispatch!(f64, F64x8, F64x4, F64x1);

#[cfg(test)]
mod tests {
    use crate::{Isa, MatMut, MatRef, Parallelism, available_isas, gemm_on};

    /// Quick in-crate check of the loop nest on every ISA; the full suite lives in tests/.
    #[test]
    fn blocked_loops_match_naive_across_block_edges() {
        let shapes = [
            (1, 1, 1),
            (5, 7, 3),
            (33, 13, 17),
            (70, 300, 50),
            (129, 1100, 31),
            (400, 40, 400),
            // Few B panels: A packed and used one panel at a time, across MC and KC.
            (300, 70, 10),
            (300, 1100, 36),
        ];
        for isa in available_isas() {
            for &(m, k, n) in &shapes {
                for row_major_c in [true, false] {
                    let a: Vec<f64> = (0..m * k).map(|i| ((i * 7) % 13) as f64 - 6.0).collect();
                    let b: Vec<f64> = (0..k * n).map(|i| ((i * 5) % 11) as f64 - 5.0).collect();
                    let mut c = vec![f64::NAN; m * n];
                    let cv = if row_major_c {
                        MatMut::row_major(&mut c, m, n).unwrap()
                    } else {
                        MatMut::col_major(&mut c, m, n).unwrap()
                    };
                    let av = MatRef::row_major(&a, m, k).unwrap();
                    let bv = MatRef::col_major(&b, k, n).unwrap();
                    gemm_on(isa, Parallelism::Auto, 1.5, av, bv, 0.0, cv).unwrap();
                    for i in 0..m {
                        for j in 0..n {
                            let want: f64 =
                                (0..k).map(|p| a[i * k + p] * b[j * k + p]).sum::<f64>() * 1.5;
                            let got = if row_major_c {
                                c[i * n + j]
                            } else {
                                c[j * m + i]
                            };
                            assert_eq!(got, want, "{isa:?} {m}x{k}x{n} at ({i},{j})");
                        }
                    }
                }
            }
        }
        assert!(available_isas().contains(&Isa::Scalar));
    }
}
