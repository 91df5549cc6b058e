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

use crate::blocking::blocking;
use crate::epilogue::{RawEpilogue, finish_block};
use crate::kernel::{Isa, LINE_BYTES, MicroKernel, Tile};
use crate::pack::{with_a_scratch, with_b_scratch};
use crate::parallel::{Shared, for_each_task, product_ended, thread_count};
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
    let macs = p.m.saturating_mul(p.n).saturating_mul(p.k);
    let threads = thread_count(par, macs);
    LAST_ISA.with(|last| last.set(Some(isa)));
    // SAFETY: forwarded contract.
    unsafe { T::run_on(isa, p, threads) };
    product_ended(par, macs, threads);
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

///
/// # Safety
/// As [`run`], C oriented so that `rsc` is the preferred unit stride, and `K::ISA` supported.
pub(crate) unsafe fn gemm_loops<T: Element, K: MicroKernel<T>>(p: &Problem<T>, threads: usize) {
    debug_assert!(K::ISA.is_supported());
    let (mr, nr) = (K::MR, K::NR);
    let full = blocking(mr, nr, std::mem::size_of::<T>());
    let blk = full.evened(p.k, p.n, nr);
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
    let a_is_panel =
        p.rsa == 1 && p.csa == mr as isize && (p.a as usize).is_multiple_of(LINE_BYTES);
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
        a_capacity: full.mc.div_ceil(mr) * mr * full.kc,
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
    // From outside the pool, a B that must be packed keeps the caller busy before any share
    // is handed over: wake a worker now, so its wake-up overlaps the packing.
    if threads > 1 && !b_in_place && rayon::current_thread_index().is_none() {
        crate::parallel::wake_a_worker();
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
                #[cfg(feature = "tile-timing")]
                let started = crate::tile_timing::now();
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
                #[cfg(feature = "tile-timing")]
                {
                    use crate::tile_timing::{TileKind, record};
                    let kind = if n_eff < nr {
                        TileKind::RaggedColumn
                    } else if copying {
                        TileKind::Copying
                    } else if q == 0 {
                        TileKind::FirstPanel
                    } else {
                        TileKind::LaterPanel
                    };
                    let macs = tile.m_eff * n_eff * kc;
                    record(kind, crate::tile_timing::now() - started, macs as u64);
                }
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
