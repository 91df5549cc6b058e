//! The microkernel contract, the one generic tile body every SIMD ISA shares, and the runtime
//! choice of ISA (detected once, cached, overridable with `DEPTHLAB_GEMM_ISA`).
//!
//! A microkernel computes one `MR × NR` tile of `C ← α·A·B + β·C` from an `MR × kc` sliver of
//! `A` (MR consecutive elements per step of k, the vectorised direction) and a `kc × NR` sliver
//! of `B` (one broadcast per column per step of k). The driver guarantees:
//! - `A` reads `a[p·a_ks + i]` for `p < kc`, `i < MR`, all in bounds (packed and zero-padded,
//!   or a full panel of a matrix whose M-stride is 1);
//! - `B` reads `b[p·b_ks + j·b_js]` for `p < kc`, `j < n_eff` only (columns past `n_eff` are
//!   clamped to the last valid one, never read out of bounds);
//! - `C` is written only at `(i, j)` with `i < m_eff`, `j < n_eff`, and read only when `β ≠ 0`;
//! - when `a_pack` is not null the tile is full (`m_eff = MR`, `n_eff = NR`) and
//!   `a_pack[p·MR + i]` is writable for `p < kc`, `i < MR`: the kernel copies A there, in the
//!   packed layout, as it loads it.

use std::str::FromStr;
use std::sync::OnceLock;

use crate::epilogue::{RawEpilogue, finish_block};
use crate::error::GemmError;

/// Seals [`crate::Element`] and gives each element type its per-ISA kernels.
pub trait Sealed: Sized {
    /// Runs the blocked driver with the kernel of `isa` for this element type.
    ///
    /// # Safety
    /// As [`crate::driver::run`].
    #[doc(hidden)]
    unsafe fn run_on(isa: Isa, p: &crate::driver::Problem<Self>, threads: usize);
    /// The row sums of `x` into `sums` (one slot per row) with the registers of `isa`, which
    /// the caller checked this CPU runs.
    #[doc(hidden)]
    fn row_sums_on(isa: Isa, x: crate::MatRef<'_, Self>, sums: &mut [Self]);
}

/// One tile's worth of pointers and sizes, handed from the driver to a microkernel.
pub(crate) struct Tile<T> {
    pub kc: usize,
    pub alpha: T,
    pub a: *const T,
    pub a_ks: isize,
    pub b: *const T,
    pub b_ks: isize,
    pub b_js: isize,
    /// How far ahead of each step of k to prefetch B (0: not at all; never for packed B).
    pub b_ahead: isize,
    /// Where to store A in the packed panel layout as the k loop loads it (null: nowhere).
    pub a_pack: *mut T,
    /// Whether to ask for C's lines before the k loop (see the driver's `prefetches_c`).
    pub prefetch_c: bool,
    pub beta: T,
    pub c: *mut T,
    pub rsc: isize,
    pub csc: isize,
    pub m_eff: usize,
    pub n_eff: usize,
    /// The epilogue, placed at this tile (see [`RawEpilogue::at`]): applied as the tile is
    /// stored, in the last k block only.
    pub epi: Option<RawEpilogue<T>>,
}

/// A register-tiled microkernel for one ISA and element type.
pub(crate) trait MicroKernel<T> {
    /// Rows of the tile (the vectorised direction).
    const MR: usize;
    /// Columns of the tile (one broadcast each).
    const NR: usize;
    /// Instruction set this kernel needs.
    const ISA: Isa;
    /// Computes one tile. `PACKED_B` promises `b_ks = NR`, `b_js = 1` and `NR` readable columns.
    ///
    /// # Safety
    /// The CPU supports [`Self::ISA`] and the tile satisfies the module-level contract.
    unsafe fn tile<const PACKED_B: bool>(t: &Tile<T>);
    /// Computes the last, ragged tile of a row of tiles (`n_eff < NR`) with the narrowest body
    /// of 2, 4 or 8 columns that holds it (the full one otherwise), so padding columns cost
    /// nothing: each element of C sums the same products in the same order whatever the
    /// body's width. B is read through `b_ks`/`b_js`, packed (`packed_b`) or not.
    ///
    /// # Safety
    /// As [`MicroKernel::tile`], and `n_eff < NR`.
    unsafe fn tile_edge(t: &Tile<T>, packed_b: bool);
    /// [`finish_block`], compiled for this ISA so its loops use
    /// the ISA's registers.
    ///
    /// # Safety
    /// The CPU supports [`Self::ISA`], and as `finish_block`.
    unsafe fn finish(
        c: *mut T,
        rsc: isize,
        csc: isize,
        m: usize,
        n: usize,
        e: &crate::epilogue::RawEpilogue<T>,
    );
    /// [`pack_panels`](crate::pack::pack_panels), compiled for this ISA so its copies and
    /// transposes use the ISA's registers.
    ///
    /// # Safety
    /// The CPU supports [`Self::ISA`], and as `pack_panels`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn pack(
        outer: usize,
        kc: usize,
        w: usize,
        src: *const T,
        s_outer: isize,
        s_k: isize,
        dst: *mut T,
    );
}

/// The few vector operations a tile body needs, implemented once per ISA and element type.
pub(crate) trait Simd {
    /// Scalar element.
    type E: crate::Element;
    /// A SIMD register of `LANES` elements.
    type V: Copy;
    /// Elements per register.
    const LANES: usize;
    /// All lanes zero.
    unsafe fn zero() -> Self::V;
    /// All lanes `x`.
    unsafe fn splat(x: Self::E) -> Self::V;
    /// Unaligned load of `LANES` elements.
    unsafe fn load(p: *const Self::E) -> Self::V;
    /// Unaligned store of `LANES` elements.
    unsafe fn store(p: *mut Self::E, v: Self::V);
    /// Load of the first `n < LANES` elements; the other lanes are zero and never read.
    unsafe fn load_partial(p: *const Self::E, n: usize) -> Self::V;
    /// Store of the first `n < LANES` lanes; memory past them is never touched.
    unsafe fn store_partial(p: *mut Self::E, v: Self::V, n: usize);
    /// Hints the cache to fetch the line holding `p` (no-op where there is no such hint).
    #[inline(always)]
    unsafe fn prefetch(_p: *const Self::E) {}
    /// `a·b + c`, fused.
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a·b`.
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// `a + b`.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// Lane by lane, `x` where it is above zero or NaN, else `+0`: the ReLU of
    /// [`crate::Epilogue::relu`].
    unsafe fn relu(x: Self::V) -> Self::V;
    /// Lane by lane, `x` where `a` is above zero, else `+0`: the mask of
    /// [`crate::Epilogue::relu_mask`].
    unsafe fn keep_where_positive(x: Self::V, a: Self::V) -> Self::V;
    /// The sum of one register's lanes folded in halves: lane `i` plus lane `i + LANES/2`,
    /// then the same on the half, down to one lane (the order [`crate::row_sums`] promises).
    unsafe fn fold_halves(v: Self::V) -> Self::E;
    /// Scalar `a·b + c` rounded exactly as one lane of [`Simd::fma`].
    fn fma_scalar(a: Self::E, b: Self::E, c: Self::E) -> Self::E;
    /// Scalar `a·b`.
    #[inline(always)]
    fn mul_scalar(a: Self::E, b: Self::E) -> Self::E {
        a * b
    }
    /// Is `x` zero?
    #[inline(always)]
    fn is_zero(x: Self::E) -> bool {
        x == <Self::E as crate::Element>::ZERO
    }
    /// Is `x` one?
    #[inline(always)]
    fn is_one(x: Self::E) -> bool {
        x == <Self::E as crate::Element>::ONE
    }
    /// Writes the transpose of a `rows × LANES` block (`1 ≤ rows ≤ LANES`): source line `i`
    /// (`LANES` contiguous elements at `src + i·s_row`) becomes destination column `i`
    /// (`dst[p·w + i]`, `p < LANES`); nothing past column `rows` is written. An ISA may
    /// override this with a register transpose (AVX-512 does for f32).
    #[inline(always)]
    unsafe fn transpose_block(
        src: *const Self::E,
        s_row: isize,
        rows: usize,
        dst: *mut Self::E,
        w: usize,
    ) {
        // SAFETY: forwarded from this function's contract.
        unsafe { transpose_block_scalar(src, s_row, rows, Self::LANES, dst, w) }
    }
    /// The lane sums of four registers, each added in a fixed order (the dot path's last step).
    /// ISAs override this with a shuffle tree that shares work between the four.
    #[inline(always)]
    unsafe fn hsum4(v: [Self::V; 4]) -> [Self::E; 4] {
        let mut lanes = std::mem::MaybeUninit::<[[Self::E; 16]; 4]>::uninit();
        let lanes_ptr = lanes.as_mut_ptr().cast::<[Self::E; 16]>();
        debug_assert!(Self::LANES <= 16);
        // SAFETY: each register fills the first LANES ≤ 16 slots of its row, and only those
        // slots are read back.
        unsafe {
            for (r, &x) in v.iter().enumerate() {
                Self::store(lanes_ptr.add(r).cast::<Self::E>(), x);
            }
            std::array::from_fn(|r| {
                let row = lanes_ptr.add(r).cast::<Self::E>().cast_const();
                (1..Self::LANES).fold(*row, |sum, l| sum + *row.add(l))
            })
        }
    }
}

/// [`Simd::transpose_block`] element by element, for `lanes`-wide blocks: the default for ISAs
/// without a register transpose.
///
/// # Safety
/// As [`Simd::transpose_block`].
#[inline(always)]
pub(crate) unsafe fn transpose_block_scalar<E: Copy>(
    src: *const E,
    s_row: isize,
    rows: usize,
    lanes: usize,
    dst: *mut E,
    w: usize,
) {
    // SAFETY: the caller vouches for the `rows` lines of `lanes` elements and the `lanes`
    // destination rows of `rows` elements.
    unsafe {
        for i in 0..rows {
            let line = src.offset(i as isize * s_row);
            for p in 0..lanes {
                *dst.add(p * w + i) = *line.add(p);
            }
        }
    }
}

/// How many k steps ahead the microkernel prefetches its A panel.
const A_PREFETCH_STEPS: usize = 8;

/// Bytes in a cache line (every x86-64 core the kernels run on).
pub(crate) const LINE_BYTES: usize = 64;

/// Asks for the cache lines of a tile's column of `len ≤ MV·LANES` contiguous elements from
/// `p`: one per register, and when `p` is not on a line boundary (a `Vec` from the system
/// allocator starts 16 bytes past a page) the line of the last element too, which the
/// registers' starts miss and a store would otherwise wait on. 1 thread, operands 16 bytes off
/// a line, in one process against one hint per register (ABBA, 21 rounds): 1024³
/// 1.02×, 2048³ 1.01–1.02×, 768³ 1.02×, f64 1024³ 1.02–1.05×, 256³ 1.00–1.02×; aligned
/// operands 0.99–1.01× at 256³–1024³.
///
/// # Safety
/// Must be inlined into a function compiled for `S`'s ISA; `p` need not be dereferenceable
/// (a prefetch is only a hint).
#[inline(always)]
unsafe fn prefetch_column<S: Simd, const MV: usize>(p: *const S::E, len: usize) {
    // SAFETY: (both) forwarded contract; the addresses are only hints.
    unsafe {
        for v in 0..MV {
            S::prefetch(p.wrapping_add(v * S::LANES));
        }
        if !(p as usize).is_multiple_of(LINE_BYTES) {
            S::prefetch(p.wrapping_add(len - 1));
        }
    }
}

/// The tile body, written once for every SIMD ISA: `MV` registers down, `NR` broadcasts across.
///
/// # Safety
/// Must be inlined into a function compiled with the ISA's target features, and `t` must satisfy
/// the module-level contract with `MR = MV · S::LANES`.
// Index loops read as tile coordinates (row register v, column j); iterators would hide that.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
pub(crate) unsafe fn tile_body<S: Simd, const MV: usize, const NR: usize, const PACKED_B: bool>(
    t: &Tile<S::E>,
) {
    // SAFETY: (whole body) the caller guarantees the ISA, and the driver guarantees every
    // pointer offset below stays inside the operands as the module contract states.
    unsafe {
        let mut acc = [[S::zero(); MV]; NR];
        // Columns past n_eff re-read the last valid column so unpacked B is never over-read.
        let mut b_off = [0isize; NR];
        if !PACKED_B {
            for (j, off) in b_off.iter_mut().enumerate() {
                *off = j.min(t.n_eff - 1) as isize * t.b_js;
            }
        }
        let b_step = if PACKED_B { NR as isize } else { t.b_ks };
        // C is touched only after the whole k loop; ask for its lines now so a tile whose C
        // lives in L3 or memory does not stall on the update.
        if t.rsc == 1 && t.prefetch_c {
            for j in 0..NR.min(t.n_eff) {
                prefetch_column::<S, MV>(t.c.wrapping_offset(j as isize * t.csc), t.m_eff);
            }
        }
        // The same for a ReLU mask the store will read (a short k loop would wait on it).
        if let Some(e) = &t.epi
            && !e.mask.is_null()
            && e.rsm == 1
        {
            for j in 0..NR.min(t.n_eff) {
                prefetch_column::<S, MV>(e.mask.wrapping_offset(j as isize * e.csm), t.m_eff);
            }
        }
        let mut a = t.a;
        let mut b = t.b;
        // The A panel streams in from L2 (it does not fit L1 beside B); asking for it a few
        // steps ahead hides latency the hardware prefetcher leaves (1 thread, one interleaved
        // run: 1024³ 151 -> 157 GFLOP/s, 128×784×512 129 -> 136; small products unchanged;
        // later runs on the drifting machine could not separate it from the noise).
        // Wrapping: when k is 1, A's k stride may be anything (isize::MIN, say), and a
        // prefetch address is only a hint.
        let a_ahead = (A_PREFETCH_STEPS as isize).wrapping_mul(t.a_ks);
        // A panel copied from the caller's matrix whose steps start off a line spans one line
        // more than its registers' starts; ask for that one too (1 thread, operands 16 bytes
        // off a line, ABBA in one process, 31 rounds: 1024³ and 2048³ 1.02×, f64 1024³
        // 1.01×, 512³ 1.00×).
        let a_tail = !t.a_pack.is_null()
            && (!(t.a as usize).is_multiple_of(LINE_BYTES)
                || !(t.a_ks.unsigned_abs())
                    .wrapping_mul(std::mem::size_of::<S::E>())
                    .is_multiple_of(LINE_BYTES));
        let b_ahead = if PACKED_B { 0 } else { t.b_ahead };
        // The copy lays steps MV registers apart: a panel's layout only for the full body.
        debug_assert!(t.a_pack.is_null() || t.m_eff == MV * S::LANES);
        let mut a_pack = t.a_pack;
        // The k loop, written out per variant so the B prefetch and the copy of A are decided
        // once per tile rather than tested at every step of k.
        macro_rules! k_loop {
            ($prefetch_b:expr, $pack_a:expr) => {
                for _ in 0..t.kc {
                    for v in 0..MV {
                        S::prefetch(a.wrapping_offset(a_ahead).wrapping_add(v * S::LANES));
                    }
                    if $pack_a && a_tail {
                        S::prefetch(a.wrapping_offset(a_ahead).wrapping_add(MV * S::LANES - 1));
                    }
                    if $prefetch_b {
                        S::prefetch(b.wrapping_offset(b_ahead));
                    }
                    let mut av = [S::zero(); MV];
                    for (v, r) in av.iter_mut().enumerate() {
                        *r = S::load(a.add(v * S::LANES));
                    }
                    if $pack_a {
                        for (v, &r) in av.iter().enumerate() {
                            S::store(a_pack.add(v * S::LANES), r);
                        }
                        a_pack = a_pack.add(MV * S::LANES);
                    }
                    for j in 0..NR {
                        let bj = if PACKED_B {
                            S::splat(*b.add(j))
                        } else {
                            S::splat(*b.offset(b_off[j]))
                        };
                        for v in 0..MV {
                            acc[j][v] = S::fma(av[v], bj, acc[j][v]);
                        }
                    }
                    // Wrapping: after the last step these point one stride past the operand.
                    a = a.wrapping_offset(t.a_ks);
                    b = b.wrapping_offset(b_step);
                }
            };
        }
        if !a_pack.is_null() {
            // The driver copies A through the first tile of each panel only when B is not
            // prefetched; were both asked for, dropping the hint would still be correct.
            k_loop!(false, true);
        } else if b_ahead != 0 {
            k_loop!(true, false);
        } else {
            k_loop!(false, false);
        }

        let alpha = S::splat(t.alpha);
        let beta_zero = S::is_zero(t.beta);
        let mr = MV * S::LANES;
        // A network layer's epilogue on the widest tile, full and column-contiguous, is
        // applied in registers on the way out: the forward `relu(z + b)` (or `z + b`) and the
        // backward mask, each with a body as small as the plain stores' so the loops unroll
        // and `acc` stays in registers (`acc·1` is `acc` exactly). Any other tile is stored as
        // usual and runs the epilogue over its block after, still in L1. Only the widest body
        // carries the register path: in the 32×12 body the same code cost the k loop its
        // registers (`wgrad` 111 → 40 GFLOP/s, with no epilogue asked for).
        if let Some(e) = &t.epi
            && MV == 4
            && NR == 6
            && t.rsc == 1
            && t.m_eff == mr
            && beta_zero
            && S::is_one(t.alpha)
        {
            if !e.bias.is_null() && !e.bias_per_row && e.mask.is_null() {
                for j in 0..NR {
                    if j < t.n_eff {
                        let cj = t.c.offset(j as isize * t.csc);
                        let b = S::splat(*e.bias.add(j));
                        for v in 0..MV {
                            let z = S::add(acc[j][v], b);
                            S::store(cj.add(v * S::LANES), if e.relu { S::relu(z) } else { z });
                        }
                    }
                }
                return;
            }
            if e.bias.is_null() && !e.relu && !e.mask.is_null() && e.rsm == 1 {
                for j in 0..NR {
                    if j < t.n_eff {
                        let cj = t.c.offset(j as isize * t.csc);
                        let mj = e.mask.offset(j as isize * e.csm);
                        for v in 0..MV {
                            let a = S::load(mj.add(v * S::LANES));
                            S::store(cj.add(v * S::LANES), S::keep_where_positive(acc[j][v], a));
                        }
                    }
                }
                return;
            }
        }
        if t.rsc == 1 && t.m_eff == mr {
            // Full-height tile, columns contiguous in C. Each loop body is kept tiny and the
            // trip counts are the constants NR and MV, so LLVM unrolls them completely and the
            // accumulators never leave their registers.
            if beta_zero && S::is_one(t.alpha) {
                // The common plain product: the sums are the result (x·1 = x exactly).
                for j in 0..NR {
                    if j < t.n_eff {
                        let cj = t.c.offset(j as isize * t.csc);
                        for v in 0..MV {
                            S::store(cj.add(v * S::LANES), acc[j][v]);
                        }
                    }
                }
            } else if beta_zero {
                for j in 0..NR {
                    if j < t.n_eff {
                        let cj = t.c.offset(j as isize * t.csc);
                        for v in 0..MV {
                            S::store(cj.add(v * S::LANES), S::mul(acc[j][v], alpha));
                        }
                    }
                }
            } else if S::is_one(t.beta) {
                // Every k block after the first, and a fused SGD step without weight decay:
                // `c·1` is `c` exactly, so skipping the multiply changes no bit.
                for j in 0..NR {
                    if j < t.n_eff {
                        let cj = t.c.offset(j as isize * t.csc);
                        for v in 0..MV {
                            let p = cj.add(v * S::LANES);
                            S::store(p, S::fma(acc[j][v], alpha, S::load(p)));
                        }
                    }
                }
            } else {
                let beta = S::splat(t.beta);
                for j in 0..NR {
                    if j < t.n_eff {
                        let cj = t.c.offset(j as isize * t.csc);
                        for v in 0..MV {
                            let p = cj.add(v * S::LANES);
                            S::store(p, S::fma(acc[j][v], alpha, S::mul(S::load(p), beta)));
                        }
                    }
                }
            }
        } else if t.rsc == 1 {
            // Ragged bottom edge (the last panel of M): masked loads and stores. The edge paths
            // index the tile at run time, so they work on a copy: were `acc` itself indexed
            // dynamically anywhere, it would live on the stack in the hot loop too.
            let acc = std::hint::black_box(acc);
            let beta = S::splat(t.beta);
            for j in 0..NR.min(t.n_eff) {
                let cj = t.c.offset(j as isize * t.csc);
                for v in 0..MV {
                    let rows = t.m_eff.saturating_sub(v * S::LANES).min(S::LANES);
                    if rows > 0 {
                        let p = cj.add(v * S::LANES);
                        let out = if beta_zero {
                            S::mul(acc[j][v], alpha)
                        } else {
                            S::fma(acc[j][v], alpha, S::mul(S::load_partial(p, rows), beta))
                        };
                        S::store_partial(p, out, rows);
                    }
                }
            }
        } else {
            // Strided C: update element by element with the same rounding as the vector path,
            // one register at a time through a small buffer (constant indices keep the
            // accumulators in registers).
            let acc = std::hint::black_box(acc);
            for j in 0..NR {
                if j >= t.n_eff {
                    continue;
                }
                for v in 0..MV {
                    let mut lanes = [t.alpha; 16];
                    debug_assert!(S::LANES <= lanes.len());
                    S::store(lanes.as_mut_ptr(), acc[j][v]);
                    let rows = t.m_eff.saturating_sub(v * S::LANES).min(S::LANES);
                    for (l, &s) in lanes.iter().enumerate().take(rows) {
                        let i = v * S::LANES + l;
                        let p = t.c.offset(i as isize * t.rsc + j as isize * t.csc);
                        *p = if beta_zero {
                            S::mul_scalar(s, t.alpha)
                        } else {
                            S::fma_scalar(s, t.alpha, S::mul_scalar(*p, t.beta))
                        };
                    }
                }
            }
        }
        if let Some(e) = &t.epi {
            finish_block(t.c, t.rsc, t.csc, t.m_eff, t.n_eff.min(NR), e);
        }
    }
}

/// One group of dot products for the dot path: `ROWS` rows of `A` against `C ≤ 4` columns of
/// `B`, every row and column contiguous in k, so neither operand is packed.
pub(crate) struct DotTile<T> {
    pub k: usize,
    pub alpha: T,
    pub beta: T,
    /// Row `r` of the group starts at `a + r·rsa`; rows past `rows` re-read the last valid one.
    pub a: *const T,
    pub rsa: isize,
    pub rows: usize,
    /// Column `j` starts at `b + j·csb`.
    pub b: *const T,
    pub csb: isize,
    pub c: *mut T,
    pub rsc: isize,
    pub csc: isize,
}

/// A dot-product microkernel for one ISA and element type: the lanes run along k.
pub(crate) trait DotKernel<T> {
    /// Rows of `A` per group (each row meets every column of the group).
    const ROWS: usize;
    /// Elements per register (the step along k).
    const LANES: usize;
    /// Instruction set this kernel needs.
    const ISA: Isa;
    /// Computes `C` columns of one group, `1 ≤ C ≤ 4`.
    ///
    /// # Safety
    /// The CPU supports [`Self::ISA`]; `rows ≥ 1`; rows `< rows` of A and columns `< C` of B are
    /// readable for `k` elements; C is writable at `(r, j)` for `r < rows`, `j < C`, and read
    /// only when `β ≠ 0`.
    unsafe fn tile<const C: usize>(t: &DotTile<T>);
}

/// The dot tile body, written once for every ISA: `R × C` accumulators, each summing one
/// element of C across k in register-wide steps, then reduced four at a time.
///
/// # Safety
/// Must be inlined into a function compiled with the ISA's target features, and `t` must
/// satisfy [`DotKernel::tile`]'s contract.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
pub(crate) unsafe fn dot_body<S: Simd, const R: usize, const C: usize>(t: &DotTile<S::E>) {
    // SAFETY: (whole body) the caller guarantees the ISA and that every row/column read below
    // lies inside A and B for k elements, and every (r < rows, j < C) element of C is writable.
    unsafe {
        let mut a_off = [0isize; R];
        for (r, off) in a_off.iter_mut().enumerate() {
            *off = r.min(t.rows - 1) as isize * t.rsa;
        }
        let mut b_off = [0isize; C];
        for (j, off) in b_off.iter_mut().enumerate() {
            *off = j as isize * t.csb;
        }
        let mut acc = [[S::zero(); C]; R];
        let mut p = 0usize;
        while p + S::LANES <= t.k {
            let mut bv = [S::zero(); C];
            for j in 0..C {
                bv[j] = S::load(t.b.offset(b_off[j]).add(p));
            }
            for r in 0..R {
                let av = S::load(t.a.offset(a_off[r]).add(p));
                for j in 0..C {
                    acc[r][j] = S::fma(av, bv[j], acc[r][j]);
                }
            }
            p += S::LANES;
        }
        let tail = t.k - p;
        if tail > 0 {
            // The last partial register: masked loads read nothing past k and fill with zeros.
            let mut bv = [S::zero(); C];
            for j in 0..C {
                bv[j] = S::load_partial(t.b.offset(b_off[j]).add(p), tail);
            }
            for r in 0..R {
                let av = S::load_partial(t.a.offset(a_off[r]).add(p), tail);
                for j in 0..C {
                    acc[r][j] = S::fma(av, bv[j], acc[r][j]);
                }
            }
        }
        let beta_zero = S::is_zero(t.beta);
        for r in 0..R {
            if r >= t.rows {
                continue;
            }
            let mut quad = [S::zero(); 4];
            quad[..C].copy_from_slice(&acc[r]);
            let sums = S::hsum4(quad);
            for j in 0..C {
                let c = t.c.offset(r as isize * t.rsc + j as isize * t.csc);
                *c = if beta_zero {
                    S::mul_scalar(sums[j], t.alpha)
                } else {
                    S::fma_scalar(sums[j], t.alpha, S::mul_scalar(*c, t.beta))
                };
            }
        }
    }
}

/// An instruction-set path the kernels can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Portable Rust, no SIMD intrinsics; always available.
    Scalar,
    /// x86-64 AVX2 with FMA (16 × 256-bit registers).
    Avx2,
    /// x86-64 AVX-512F (32 × 512-bit registers).
    Avx512,
}

impl Isa {
    /// The lowercase name used by `DEPTHLAB_GEMM_ISA`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            Isa::Avx2 => crate::arch::has_avx2_fma(),
            Isa::Avx512 => crate::arch::has_avx512f(),
        }
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Isa {
    type Err = GemmError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_isa(s, "an ISA name")
    }
}

/// `s` as an ISA name; an unknown one is an error naming `origin` as the one who asked.
fn parse_isa(s: &str, origin: &'static str) -> Result<Isa, GemmError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "scalar" => Ok(Isa::Scalar),
        "avx2" => Ok(Isa::Avx2),
        "avx512" => Ok(Isa::Avx512),
        _ => Err(GemmError::UnsupportedIsa {
            value: s.to_string(),
            origin,
            reason: "unknown ISA; valid values are scalar, avx2, avx512".to_string(),
        }),
    }
}

/// Every ISA path this CPU can run, fastest first.
pub fn available_isas() -> Vec<Isa> {
    [Isa::Avx512, Isa::Avx2, Isa::Scalar]
        .into_iter()
        .filter(|i| i.is_supported())
        .collect()
}

/// The name of the environment variable that forces an ISA.
pub const ISA_ENV: &str = "DEPTHLAB_GEMM_ISA";

fn resolve_isa(forced: Option<&str>) -> Result<Isa, GemmError> {
    match forced.map(str::trim) {
        None | Some("") => Ok(available_isas()[0]),
        Some(value) => {
            let isa = parse_isa(value, ISA_ENV)?;
            if isa.is_supported() {
                Ok(isa)
            } else {
                Err(GemmError::UnsupportedIsa {
                    value: value.to_string(),
                    origin: ISA_ENV,
                    reason: format!(
                        "this CPU does not support {isa}; available: {}",
                        available_isas()
                            .iter()
                            .map(|i| i.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })
            }
        }
    }
}

/// The ISA every product uses: the fastest the CPU has, or the one `DEPTHLAB_GEMM_ISA` forces.
/// Read once per process and cached.
///
/// # Errors
/// [`GemmError::UnsupportedIsa`] when the variable names an unknown ISA or one this CPU lacks
/// (a value that is not valid Unicode names none).
pub fn active_isa() -> Result<Isa, GemmError> {
    static ACTIVE: OnceLock<Result<Isa, GemmError>> = OnceLock::new();
    ACTIVE
        .get_or_init(|| {
            // Not `env::var(..).ok()`: that reads a non-Unicode value as unset and would run
            // the default path in silence. Lossy decoding keeps the value nameable in the
            // error, and its replacement characters can never spell a valid name.
            let forced = std::env::var_os(ISA_ENV).map(|v| v.to_string_lossy().into_owned());
            resolve_isa(forced.as_deref())
        })
        .clone()
}

/// Element-wise work for [`with_vector_isa`]. Implement `run` with `#[inline(always)]`: only
/// code inlined into the ISA's trampoline is compiled for that ISA (a closure would not be,
/// since LLVM keeps its body out of line once it is bigger than a call).
pub trait VectorTask {
    /// What the work returns.
    type Output;
    /// Does the work.
    fn run(self) -> Self::Output;
}

/// Runs `task` inside a function compiled for [`active_isa`], so the element-wise loops it
/// inlines (slices mapped or zipped lane by lane) use that ISA's vector width, while the
/// calling crate stays portable and safe. Results are those of the same loops built for
/// baseline x86-64: no ISA changes how an element-wise operation rounds (Rust never fuses
/// `a·b + c` on its own).
///
/// When [`active_isa`] is an error (`DEPTHLAB_GEMM_ISA` names an unknown path or one this CPU
/// lacks), `task` runs as baseline code: with no error channel here, that is the one choice
/// that is safe on every CPU, and the results are the same; [`gemm`](crate::gemm) and
/// [`active_isa`] report the error.
#[inline]
pub fn with_vector_isa<W: VectorTask>(task: W) -> W::Output {
    match active_isa() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: active_isa returns AVX-512 only on a CPU with AVX-512F, AVX2 and FMA.
        Ok(Isa::Avx512) => unsafe { crate::arch::x86_64::vector_isa::run_avx512(task) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: active_isa returns AVX2 only on a CPU with AVX2 and FMA.
        Ok(Isa::Avx2) => unsafe { crate::arch::x86_64::vector_isa::run_avx2(task) },
        _ => task.run(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `y ← a·x + y` over slices: a multiply and an add that a compiler allowed to contract
    /// them would turn into one FMA, rounding differently.
    struct Axpy<'a> {
        a: f32,
        x: &'a [f32],
        y: &'a mut [f32],
    }

    impl VectorTask for Axpy<'_> {
        type Output = f32;

        #[inline(always)]
        fn run(self) -> f32 {
            for (y, x) in self.y.iter_mut().zip(self.x) {
                *y += self.a * *x;
            }
            self.y.iter().fold(0.0, |s, v| s + v)
        }
    }

    #[test]
    fn vector_isa_tasks_round_like_the_baseline_build() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin() * 1e3).collect();
        let y0: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.11).cos() / 3.0).collect();
        let (mut y1, mut y2) = (y0.clone(), y0.clone());
        let a = 1.0 / 3.0;
        let s1 = with_vector_isa(Axpy {
            a,
            x: &x,
            y: &mut y1,
        });
        let s2 = Axpy {
            a,
            x: &x,
            y: &mut y2,
        }
        .run();
        assert_eq!(s1.to_bits(), s2.to_bits());
        assert!(y1.iter().zip(&y2).all(|(p, q)| p.to_bits() == q.to_bits()));
        // Rounded separately, not fused: at least one element tells the two apart.
        let fused: Vec<f32> = x.iter().zip(&y0).map(|(x, y)| a.mul_add(*x, *y)).collect();
        assert!(
            y1.iter()
                .zip(&fused)
                .any(|(p, q)| p.to_bits() != q.to_bits())
        );
    }

    #[test]
    fn parses_names_and_rejects_others() {
        assert_eq!("AVX512".parse::<Isa>().unwrap(), Isa::Avx512);
        assert_eq!(resolve_isa(Some("scalar")).unwrap(), Isa::Scalar);
        let err = resolve_isa(Some("neon9")).unwrap_err().to_string();
        assert!(
            err.contains("neon9") && err.contains("scalar, avx2, avx512"),
            "{err}"
        );
    }
}
