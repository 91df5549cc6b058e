//! Shared test support: the naive f64 oracle, strided buffers with guarded padding, and one
//! `check` that runs a product through the safe API on a forced ISA and judges every element.
//!
//! Each test binary uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use depthlab_gemm::{Element, Isa, MatMut, MatRef, Parallelism, gemm_on, last_isa_used};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The element types under test, with what the oracle needs to know about them.
pub trait Real: Element + Into<f64> + std::fmt::Display {
    /// Machine epsilon, as f64.
    const EPS: f64;
    /// "f32" or "f64", for messages.
    const NAME: &'static str;
    /// Rounds an f64 to this type.
    fn from_f64(x: f64) -> Self;
    /// The raw bits, so "untouched" and "bit-identical" mean exactly that.
    fn bits(self) -> u64;
}

impl Real for f32 {
    const EPS: f64 = f32::EPSILON as f64;
    const NAME: &'static str = "f32";
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
}

impl Real for f64 {
    const EPS: f64 = f64::EPSILON;
    const NAME: &'static str = "f64";
    fn from_f64(x: f64) -> Self {
        x
    }
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

/// A deterministic generator for one test (the seed names the test, so failures replay).
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// What C's padding holds before the call; any other bit pattern afterwards is a stray write.
pub const SENTINEL: f64 = -7777.25;

/// The α and β values the issue asks for.
pub const SCALARS: [f64; 3] = [0.0, 1.0, -2.5];

/// How a stored matrix sits in its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Row-major (unit column stride) or column-major (unit row stride).
    pub row_major: bool,
    /// Extra elements between consecutive rows (row-major) or columns (column-major).
    pub pad: usize,
    /// Walk rows backwards (negative row stride).
    pub neg_rows: bool,
    /// Walk columns backwards (negative column stride).
    pub neg_cols: bool,
    /// Guard elements before the first and after the last element of the matrix.
    pub margin: usize,
}

impl Layout {
    /// Dense row-major.
    pub const ROW: Layout = Layout {
        row_major: true,
        pad: 0,
        neg_rows: false,
        neg_cols: false,
        margin: 0,
    };
    /// Dense column-major.
    pub const COL: Layout = Layout {
        row_major: false,
        ..Layout::ROW
    };

    /// Padded leading dimension with guard elements around the matrix.
    pub fn padded(row_major: bool) -> Layout {
        Layout {
            row_major,
            pad: 3,
            margin: 5,
            ..Layout::ROW
        }
    }

    /// Padded, guarded, and walked backwards along the given axes.
    pub fn reversed(row_major: bool, neg_rows: bool, neg_cols: bool) -> Layout {
        Layout {
            neg_rows,
            neg_cols,
            ..Layout::padded(row_major)
        }
    }

    /// Every layout family the tests sample from.
    pub fn all() -> Vec<Layout> {
        let mut out = Vec::new();
        for row_major in [true, false] {
            out.push(Layout {
                row_major,
                ..Layout::ROW
            });
            out.push(Layout::padded(row_major));
            for (nr, nc) in [(true, false), (false, true), (true, true)] {
                out.push(Layout::reversed(row_major, nr, nc));
            }
        }
        out
    }

    /// A random layout: any major order, padding 0..4, signs and margins at random.
    pub fn random(rng: &mut ChaCha8Rng) -> Layout {
        Layout {
            row_major: rng.random(),
            pad: rng.random_range(0..4),
            neg_rows: rng.random_bool(0.3),
            neg_cols: rng.random_bool(0.3),
            margin: rng.random_range(0..3),
        }
    }

    /// Where a `rows × cols` matrix with this layout lives in its buffer.
    pub fn place(self, rows: usize, cols: usize) -> Placement {
        // Keep the leading stride non-zero even for empty matrices: strides stay honest.
        let (rs, cs) = if self.row_major {
            (cols.max(1) + self.pad, 1)
        } else {
            (1, rows.max(1) + self.pad)
        };
        let span = if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        };
        let mut offset = self.margin;
        if self.neg_rows && rows > 0 {
            offset += (rows - 1) * rs;
        }
        if self.neg_cols && cols > 0 {
            offset += (cols - 1) * cs;
        }
        let sign = |neg: bool, s: usize| if neg { -(s as isize) } else { s as isize };
        Placement {
            offset,
            len: span + 2 * self.margin,
            rows,
            cols,
            rs: sign(self.neg_rows, rs),
            cs: sign(self.neg_cols, cs),
        }
    }
}

/// A matrix's position in a flat buffer: element `(i, j)` at `offset + i·rs + j·cs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub offset: usize,
    pub len: usize,
    pub rows: usize,
    pub cols: usize,
    pub rs: isize,
    pub cs: isize,
}

impl Placement {
    /// Buffer index of element `(i, j)`.
    pub fn index(&self, i: usize, j: usize) -> usize {
        let idx = self.offset as isize + i as isize * self.rs + j as isize * self.cs;
        usize::try_from(idx).expect("placement index in bounds")
    }

    /// The same elements seen transposed.
    pub fn t(self) -> Placement {
        Placement {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// Buffer indices of every element, as a membership mask.
    pub fn mask(&self) -> Vec<bool> {
        let mut inside = vec![false; self.len];
        for i in 0..self.rows {
            for j in 0..self.cols {
                inside[self.index(i, j)] = true;
            }
        }
        inside
    }
}

/// An input operand: stored with `layout`, and given to the product transposed if `trans`
/// (the stored matrix is then the transpose of op(X), and the view is built with `.t()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operand {
    pub layout: Layout,
    pub trans: bool,
}

impl Operand {
    /// Not transposed, in `layout`.
    pub fn plain(layout: Layout) -> Operand {
        Operand {
            layout,
            trans: false,
        }
    }

    /// Stored transposed in `layout`, passed through `.t()`.
    pub fn transposed(layout: Layout) -> Operand {
        Operand {
            layout,
            trans: true,
        }
    }

    /// Placement of op(X) (`rows × cols`), in terms of the buffer of the stored matrix.
    pub fn place(self, rows: usize, cols: usize) -> Placement {
        if self.trans {
            self.layout.place(cols, rows).t()
        } else {
            self.layout.place(rows, cols)
        }
    }

    /// A random operand.
    pub fn random(rng: &mut ChaCha8Rng) -> Operand {
        Operand {
            layout: Layout::random(rng),
            trans: rng.random(),
        }
    }
}

/// One product to check: shape, scalars and every operand's layout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub alpha: f64,
    pub beta: f64,
    pub a: Operand,
    pub b: Operand,
    pub c: Layout,
}

impl Spec {
    /// Dense row-major everything, α = 1, β = 0.
    pub fn dense(m: usize, k: usize, n: usize) -> Spec {
        Spec {
            m,
            k,
            n,
            alpha: 1.0,
            beta: 0.0,
            a: Operand::plain(Layout::ROW),
            b: Operand::plain(Layout::ROW),
            c: Layout::ROW,
        }
    }

    /// A fully random layout for every operand, scalars from [`SCALARS`].
    pub fn random_layouts(m: usize, k: usize, n: usize, rng: &mut ChaCha8Rng) -> Spec {
        Spec {
            m,
            k,
            n,
            alpha: SCALARS[rng.random_range(0..3)],
            beta: SCALARS[rng.random_range(0..3)],
            a: Operand::random(rng),
            b: Operand::random(rng),
            c: Layout::random(rng),
        }
    }
}

/// A buffer holding one matrix, its placement, and (for inputs) NaN everywhere else so that
/// any read outside the view poisons the result.
pub struct Buffer<T> {
    pub data: Vec<T>,
    pub at: Placement,
}

impl<T: Real> Buffer<T> {
    /// Random values in [-1, 1) inside the view, `fill` outside it.
    pub fn random(at: Placement, fill: f64, rng: &mut ChaCha8Rng) -> Buffer<T> {
        let mut data = vec![T::from_f64(fill); at.len];
        for i in 0..at.rows {
            for j in 0..at.cols {
                data[at.index(i, j)] = T::from_f64(rng.random::<f64>() * 2.0 - 1.0);
            }
        }
        Buffer { data, at }
    }

    /// Sets element `(i, j)`.
    pub fn set(&mut self, i: usize, j: usize, x: f64) {
        let idx = self.at.index(i, j);
        self.data[idx] = T::from_f64(x);
    }

    /// Element `(i, j)` as f64.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[self.at.index(i, j)].into()
    }
}

/// The oracle: `α·A·B + β·C` accumulated in f64, and for each element the error bound
/// `(k + 4)·eps·(|α|·Σ|a||b| + |β|·|c|)` that a correct T-precision kernel stays within.
/// With β = 0, C is ignored (it may be NaN).
pub fn reference<T: Real>(
    spec: &Spec,
    a: &Buffer<T>,
    b: &Buffer<T>,
    c: &Buffer<T>,
) -> (Vec<f64>, Vec<f64>) {
    let (m, k, n) = (spec.m, spec.k, spec.n);
    let mut want = vec![0.0; m * n];
    let mut tol = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let (mut dot, mut mag) = (0.0f64, 0.0f64);
            for p in 0..k {
                let (x, y) = (a.get(i, p), b.get(p, j));
                dot += x * y;
                mag += (x * y).abs();
            }
            let (c_term, c_mag) = if spec.beta == 0.0 {
                (0.0, 0.0)
            } else {
                let c0 = c.get(i, j);
                (spec.beta * c0, (spec.beta * c0).abs())
            };
            want[i * n + j] = spec.alpha * dot + c_term;
            tol[i * n + j] =
                (k as f64 + 4.0) * T::EPS * (spec.alpha.abs() * mag + c_mag) + f64::MIN_POSITIVE;
        }
    }
    (want, tol)
}

/// Builds the three buffers of `spec`: A and B random with NaN around them, C random (or NaN
/// when β = 0, which must not leak) with [`SENTINEL`] in its padding.
pub fn buffers<T: Real>(spec: &Spec, rng: &mut ChaCha8Rng) -> (Buffer<T>, Buffer<T>, Buffer<T>) {
    let a = Buffer::random(spec.a.place(spec.m, spec.k), f64::NAN, rng);
    let b = Buffer::random(spec.b.place(spec.k, spec.n), f64::NAN, rng);
    let mut c = Buffer::random(spec.c.place(spec.m, spec.n), SENTINEL, rng);
    if spec.beta == 0.0 {
        for i in 0..spec.m {
            for j in 0..spec.n {
                let idx = c.at.index(i, j);
                c.data[idx] = T::from_f64(f64::NAN);
            }
        }
    }
    (a, b, c)
}

/// A read-only view of an input buffer through the safe API, `.t()` applied when transposed.
pub fn view<'a, T: Real>(buf: &'a Buffer<T>, op: Operand) -> MatRef<'a, T> {
    let stored = if op.trans { buf.at.t() } else { buf.at };
    let v = MatRef::from_parts(
        &buf.data,
        stored.offset,
        stored.rows,
        stored.cols,
        stored.rs,
        stored.cs,
    )
    .unwrap_or_else(|e| panic!("test bug: input view rejected: {e}"));
    if op.trans { v.t() } else { v }
}

/// The mutable view of C.
pub fn view_mut<T: Real>(buf: &mut Buffer<T>) -> MatMut<'_, T> {
    let at = buf.at;
    MatMut::from_parts(&mut buf.data, at.offset, at.rows, at.cols, at.rs, at.cs)
        .unwrap_or_else(|e| panic!("test bug: output view rejected: {e}"))
}

/// Compares C after the call with the oracle, and its padding with what it held before.
pub fn judge<T: Real>(
    what: &str,
    spec: &Spec,
    c: &Buffer<T>,
    before: &[T],
    want: &[f64],
    tol: &[f64],
) -> Result<(), String> {
    let (m, n) = (spec.m, spec.n);
    for i in 0..m {
        for j in 0..n {
            let got: f64 = c.data[c.at.index(i, j)].into();
            let (w, t) = (want[i * n + j], tol[i * n + j]);
            let err = (got - w).abs();
            // A non-finite expectation (NaN or ∞ in the inputs) must be met exactly in kind:
            // NaN for NaN, the same infinity for an infinity.
            let bad = if w.is_finite() {
                // A NaN result must fail too.
                err.is_nan() || err > t
            } else {
                !(w.is_nan() && got.is_nan() || got == w)
            };
            if bad {
                return Err(format!(
                    "{what} {}: C({i},{j}) = {got:e}, expected {w:e} (|err| {err:e} > tol {t:e}); \
                     {spec:?}",
                    T::NAME
                ));
            }
        }
    }
    let inside = c.at.mask();
    for (idx, (x, y)) in c.data.iter().zip(before).enumerate() {
        if !inside[idx] && x.bits() != y.bits() {
            return Err(format!(
                "{what} {}: padding of C at buffer index {idx} changed from {y} to {x}; {spec:?}",
                T::NAME
            ));
        }
    }
    Ok(())
}

/// Runs `spec` through [`gemm_on`] on `isa` and judges the result against the oracle; checks
/// that the forced ISA's kernel really ran (whenever the product has work for a kernel).
pub fn check<T: Real>(
    isa: Isa,
    par: Parallelism,
    spec: &Spec,
    rng: &mut ChaCha8Rng,
) -> Result<(), String> {
    check_with::<T>(isa, par, spec, rng, |_, _, _| {})
}

/// [`check`], with `tweak` editing the operands (e.g. planting NaN or ∞) before the oracle
/// and the kernel see them.
pub fn check_with<T: Real>(
    isa: Isa,
    par: Parallelism,
    spec: &Spec,
    rng: &mut ChaCha8Rng,
    tweak: impl FnOnce(&mut Buffer<T>, &mut Buffer<T>, &mut Buffer<T>),
) -> Result<(), String> {
    let (mut a, mut b, mut c) = buffers::<T>(spec, rng);
    tweak(&mut a, &mut b, &mut c);
    let (want, tol) = reference(spec, &a, &b, &c);
    let before = c.data.clone();
    let (alpha, beta) = (T::from_f64(spec.alpha), T::from_f64(spec.beta));
    gemm_on(
        isa,
        par,
        alpha,
        view(&a, spec.a),
        view(&b, spec.b),
        beta,
        view_mut(&mut c),
    )
    .map_err(|e| format!("{isa} {}: gemm_on returned {e}; {spec:?}", T::NAME))?;
    if spec.m > 0 && spec.n > 0 && spec.k > 0 && last_isa_used() != Some(isa) {
        return Err(format!(
            "forced {isa} but last_isa_used() = {:?}; {spec:?}",
            last_isa_used()
        ));
    }
    judge(&format!("{isa}"), spec, &c, &before, &want, &tol)
}

/// [`check`], panicking with its message.
pub fn assert_ok<T: Real>(isa: Isa, spec: &Spec, rng: &mut ChaCha8Rng) {
    if let Err(e) = check::<T>(isa, Parallelism::Auto, spec, rng) {
        panic!("{e}");
    }
}

/// The register tile (MR, NR) of `isa`'s main ("wide") kernel for elements of `elem` bytes.
pub fn tile(isa: Isa, elem: usize) -> (usize, usize) {
    tiles(isa, elem)[0]
}

/// Every microkernel tile (MR, NR) `isa` may run for `elem`-byte elements, as declared in
/// src/arch/: the wide kernel first, then (SIMD ISAs) the shorter kernels the driver picks
/// when the oriented m fits in them. Keep in step with src/arch/.
pub fn tiles(isa: Isa, elem: usize) -> Vec<(usize, usize)> {
    // Lanes of one 512-bit and one 256-bit register.
    let (zmm, ymm) = (64 / elem, 32 / elem);
    match isa {
        Isa::Avx512 => vec![(4 * zmm, 6), (3 * zmm, 8), (2 * zmm, 12), (zmm, 24)],
        Isa::Avx2 => vec![(2 * ymm, 6), (ymm, 12)],
        Isa::Scalar => vec![(4, 4)],
    }
}

/// The cache blocks (KC, MC, NC) the driver derives for `isa` and element size, asked of the
/// driver itself so the tests sit exactly on the block edges.
pub fn blocks(isa: Isa, elem: usize) -> (usize, usize, usize) {
    let (mr, nr) = tile(isa, elem);
    blocks_for(mr, nr, elem)
}

/// The cache blocks (KC, MC, NC) for an `mr × nr` kernel on `elem`-byte elements.
pub fn blocks_for(mr: usize, nr: usize, elem: usize) -> (usize, usize, usize) {
    depthlab_gemm::block_sizes(mr, nr, elem)
}

/// `x - 1, x, x + 1`, without underflow.
pub fn around(x: usize) -> Vec<usize> {
    [x.saturating_sub(1), x, x + 1]
        .into_iter()
        .filter(|&v| v > 0)
        .collect()
}

/// [`check`] with explicit placements (any strides, zero included for A and B), bypassing
/// [`Layout`]; `spec`'s layouts are ignored, its shape and scalars used.
pub fn check_at<T: Real>(
    isa: Isa,
    spec: &Spec,
    pa: Placement,
    pb: Placement,
    pc: Placement,
    rng: &mut ChaCha8Rng,
) -> Result<(), String> {
    assert_eq!(
        (pa.rows, pa.cols, pb.cols),
        (spec.m, spec.k, spec.n),
        "test bug"
    );
    let a = Buffer::<T>::random(pa, f64::NAN, rng);
    let b = Buffer::<T>::random(pb, f64::NAN, rng);
    let mut c = Buffer::<T>::random(pc, SENTINEL, rng);
    if spec.beta == 0.0 {
        for i in 0..spec.m {
            for j in 0..spec.n {
                let idx = pc.index(i, j);
                c.data[idx] = T::from_f64(f64::NAN);
            }
        }
    }
    let (want, tol) = reference(spec, &a, &b, &c);
    let before = c.data.clone();
    let input = Operand::plain(Layout::ROW);
    gemm_on(
        isa,
        Parallelism::Auto,
        T::from_f64(spec.alpha),
        view(&a, input),
        view(&b, input),
        T::from_f64(spec.beta),
        view_mut(&mut c),
    )
    .map_err(|e| {
        format!(
            "{isa} {}: gemm_on returned {e}; {pa:?} {pb:?} {pc:?}",
            T::NAME
        )
    })?;
    if spec.m > 0 && spec.n > 0 && spec.k > 0 && last_isa_used() != Some(isa) {
        return Err(format!(
            "forced {isa} but last_isa_used() = {:?}",
            last_isa_used()
        ));
    }
    judge(
        &format!("{isa} A {pa:?} B {pb:?} C {pc:?}"),
        spec,
        &c,
        &before,
        &want,
        &tol,
    )
}

/// The buffer length a placement with these strides needs from its offset (inclusive span).
pub fn placed(
    offset: usize,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
    tail: usize,
) -> Placement {
    let reach = |n: usize, s: isize| if n == 0 { 0 } else { (n as isize - 1) * s };
    let hi = offset as isize + reach(rows, rs).max(0) + reach(cols, cs).max(0);
    let lo = offset as isize + reach(rows, rs).min(0) + reach(cols, cs).min(0);
    assert!(lo >= 0, "test bug: placement reaches below 0");
    Placement {
        offset,
        len: hi as usize + 1 + tail,
        rows,
        cols,
        rs,
        cs,
    }
}
