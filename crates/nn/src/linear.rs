//! A fully connected layer, `Y = X·Wᵀ + b`, like `torch.nn.Linear(in_features, out_features)`.
//!
//! # Shapes
//! - `X`: batch × in, `W`: out × in (PyTorch's layout), `b`: out, `Y`: batch × out.
//! - Backward, given `dY` (batch × out): `dX = dY·W` (batch × in), `dW = dYᵀ·X` (out × in),
//!   `db = Σ_batch dY` (out).
//!
//! Every product goes through depthlab-gemm; `Wᵀ` and `dYᵀ` are stride swaps, never copies.
//!
//! ```
//! use depthlab_nn::{Linear, Matrix};
//! let layer = Linear::new(Matrix::new(1, 2, vec![2.0f32, -1.0])?, Some(vec![0.5]))?;
//! let x = Matrix::new(2, 2, vec![1.0, 1.0, 3.0, 2.0])?;
//! let mut y = Matrix::zeros(2, 1);
//! layer.forward(&x, &mut y)?;
//! assert_eq!(y.as_slice(), &[1.5, 4.5]);
//! # Ok::<(), depthlab_nn::NnError>(())
//! ```

use depthlab_gemm::{
    BiasAlong, Epilogue, MatMut, MatRef, Parallelism, VectorTask, gemm_epilogue, gemm_with,
    with_vector_isa,
};

use crate::activation::{
    Activation, elu, elu_derivative, gelu, gelu_derivative, leaky_relu, per_activation, relu,
    sigmoid, silu, silu_derivative, softplus,
};
use crate::error::{NnError, shape2};
use crate::float::Float;
use crate::matrix::Matrix;
use crate::parallel::par_for;

/// A fully connected layer: weight `out × in`, optional bias of length `out`.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear<T = f32> {
    weight: Matrix<T>,
    bias: Option<Vec<T>>,
}

/// Gradients of a [`Linear`] layer's parameters, shaped like the layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearGrads<T = f32> {
    /// `dL/dW`, out × in.
    pub weight: Matrix<T>,
    /// `dL/db`, length out (`None` when the layer has no bias).
    pub bias: Option<Vec<T>>,
}

impl<T: Float> LinearGrads<T> {
    /// Zeroed gradients shaped like `layer`.
    pub fn for_layer(layer: &Linear<T>) -> Self {
        Self {
            weight: Matrix::zeros(layer.out_features(), layer.in_features()),
            bias: layer.bias.as_ref().map(|b| vec![T::ZERO; b.len()]),
        }
    }
}

fn check_shape(what: &str, expected: (usize, usize), found: (usize, usize)) -> Result<(), NnError> {
    if expected != found {
        return Err(NnError::Shape {
            what: what.to_string(),
            expected: shape2(expected.0, expected.1),
            found: shape2(found.0, found.1),
        });
    }
    Ok(())
}

impl<T: Float> Linear<T> {
    /// A layer from its weight (out × in) and optional bias (length out).
    ///
    /// # Errors
    /// [`NnError::Shape`] when the bias length is not the weight's row count.
    pub fn new(weight: Matrix<T>, bias: Option<Vec<T>>) -> Result<Self, NnError> {
        if let Some(b) = &bias
            && b.len() != weight.rows()
        {
            return Err(NnError::Shape {
                what: "bias length vs weight rows (out_features)".into(),
                expected: weight.rows().to_string(),
                found: b.len().to_string(),
            });
        }
        Ok(Self { weight, bias })
    }

    /// A zero layer mapping `in_features` to `out_features`.
    ///
    /// # Panics
    /// As [`Matrix::zeros`], when `out_features · in_features` overflows `usize` or the weight
    /// would exceed `isize::MAX` bytes (build from [`crate::MlpConfig`] for a checked size).
    pub fn zeros(in_features: usize, out_features: usize, bias: bool) -> Self {
        Self {
            weight: Matrix::zeros(out_features, in_features),
            bias: bias.then(|| vec![T::ZERO; out_features]),
        }
    }

    /// Inputs per sample.
    pub fn in_features(&self) -> usize {
        self.weight.cols()
    }

    /// Outputs per sample.
    pub fn out_features(&self) -> usize {
        self.weight.rows()
    }

    /// The weight, out × in.
    pub fn weight(&self) -> &Matrix<T> {
        &self.weight
    }

    /// The weight's values, out × in row-major, mutable; the shape stays fixed.
    pub fn weight_mut(&mut self) -> &mut [T] {
        self.weight.as_mut_slice()
    }

    /// The weight's values and the bias, both mutable at once (shapes fixed).
    pub fn parameters_mut(&mut self) -> (&mut [T], Option<&mut [T]>) {
        (self.weight.as_mut_slice(), self.bias.as_deref_mut())
    }

    /// The weight as a mutable depthlab-gemm view, for products that update it in place.
    pub(crate) fn weight_view_mut(&mut self) -> MatMut<'_, T> {
        self.weight.view_mut()
    }

    /// The bias, if any.
    pub fn bias(&self) -> Option<&[T]> {
        self.bias.as_deref()
    }

    /// The bias, mutable.
    pub fn bias_mut(&mut self) -> Option<&mut [T]> {
        self.bias.as_deref_mut()
    }

    /// Weights plus biases.
    pub fn parameter_count(&self) -> usize {
        self.weight.as_slice().len() + self.bias.as_ref().map_or(0, Vec::len)
    }

    /// The same layer in another float type.
    pub fn cast<U: Float>(&self) -> Linear<U> {
        Linear {
            weight: self.weight.cast(),
            bias: self
                .bias
                .as_ref()
                .map(|b| b.iter().map(|v| U::from_f64(v.to_f64())).collect()),
        }
    }

    /// `y ← x·Wᵀ + b`. Allocates nothing.
    ///
    /// # Errors
    /// [`NnError::Shape`] when `x` is not batch × in or `y` not batch × out.
    pub fn forward(&self, x: &Matrix<T>, y: &mut Matrix<T>) -> Result<(), NnError> {
        check_shape(
            "Linear input (batch x in_features)",
            (x.rows(), self.in_features()),
            x.shape(),
        )?;
        check_shape(
            "Linear output (batch x out_features)",
            (x.rows(), self.out_features()),
            y.shape(),
        )?;
        let n = self.out_features();
        let par = par_for(x.rows(), self.in_features(), n);
        affine(par, x.view(), &self.weight, y.view_mut())?;
        bias_activation(Activation::Identity, self.bias(), y.as_mut_slice(), None, n);
        Ok(())
    }

    /// Given `x` (the forward input) and `dy = dL/dy`: `grads ← (dyᵀ·x, Σ dy)` and, when
    /// asked, `dx ← dy·W`. Allocates nothing.
    ///
    /// # Errors
    /// [`NnError::Shape`] when any shape disagrees with the layer or with `x`'s batch.
    pub fn backward(
        &self,
        x: &Matrix<T>,
        dy: &Matrix<T>,
        dx: Option<&mut Matrix<T>>,
        grads: &mut LinearGrads<T>,
    ) -> Result<(), NnError> {
        let b = x.rows();
        check_shape(
            "Linear input (batch x in_features)",
            (b, self.in_features()),
            x.shape(),
        )?;
        check_shape(
            "Linear output gradient (batch x out_features)",
            (b, self.out_features()),
            dy.shape(),
        )?;
        check_shape(
            "weight gradient (out x in)",
            self.weight.shape(),
            grads.weight.shape(),
        )?;
        if grads.bias.as_ref().map(Vec::len) != self.bias.as_ref().map(Vec::len) {
            return Err(NnError::Shape {
                what: "bias gradient length".into(),
                expected: format!("{:?}", self.bias.as_ref().map(Vec::len)),
                found: format!("{:?}", grads.bias.as_ref().map(Vec::len)),
            });
        }
        let par = par_for(b, self.in_features(), self.out_features());
        if let Some(dx) = dx {
            check_shape(
                "Linear input gradient (batch x in_features)",
                x.shape(),
                dx.shape(),
            )?;
            input_grad(par, dy.view(), &self.weight, dx.view_mut())?;
        }
        weight_grad(
            par,
            T::ONE,
            dy.view().t(),
            x.view(),
            T::ZERO,
            grads.weight.view_mut(),
        )?;
        if let Some(db) = grads.bias.as_deref_mut() {
            column_sums(dy.as_slice(), db);
        }
        Ok(())
    }
}

/// `pre ← x·Wᵀ` (batch × out, in either layout): `Wᵀ` is `W`'s view with strides swapped.
/// A feature-major `pre` (a column-major view of an out × batch buffer) is the product the
/// GEMM takes as `preᵀ = W·xᵀ`, reading each weight where it lies.
pub(crate) fn affine<T: Float>(
    par: Parallelism,
    x: MatRef<'_, T>,
    w: &Matrix<T>,
    pre: MatMut<'_, T>,
) -> Result<(), NnError> {
    gemm_with(par, T::ONE, x, w.view().t(), T::ZERO, pre)?;
    Ok(())
}

/// `a ← x·Wᵀ + b`, then ReLU when `relu`, in one product: the GEMM's epilogue adds the bias
/// and applies the ReLU to each tile while it is in L1, instead of a pass over `z` afterwards.
/// Gives exactly [`affine`] followed by [`bias_activation`] with identity or ReLU.
pub(crate) fn affine_activated<T: Float>(
    par: Parallelism,
    x: MatRef<'_, T>,
    w: &Matrix<T>,
    bias: Option<&[T]>,
    relu: bool,
    post: MatMut<'_, T>,
) -> Result<(), NnError> {
    let mut epi = Epilogue::new();
    if let Some(b) = bias {
        epi = epi.bias(b, BiasAlong::Columns);
    }
    if relu {
        epi = epi.relu();
    }
    gemm_epilogue(par, T::ONE, x, w.view().t(), T::ZERO, post, &epi)?;
    Ok(())
}

/// `dx ← dz·W` (batch × in; feature-major `dz` and `dx` are column-major views).
pub(crate) fn input_grad<T: Float>(
    par: Parallelism,
    dz: MatRef<'_, T>,
    w: &Matrix<T>,
    dx: MatMut<'_, T>,
) -> Result<(), NnError> {
    gemm_with(par, T::ONE, dz, w.view(), T::ZERO, dx)?;
    Ok(())
}

/// `dx ← (dz·W) ⊙ [a > 0]`: [`input_grad`] through a ReLU whose output `a` (laid out like
/// `dx`) is known, the mask applied by the GEMM's epilogue tile by tile. Gives exactly
/// [`input_grad`] followed by the ReLU's [`activation_backward`] (without its bias sums).
pub(crate) fn input_grad_relu<T: Float>(
    par: Parallelism,
    dz: MatRef<'_, T>,
    w: &Matrix<T>,
    a: MatRef<'_, T>,
    dx: MatMut<'_, T>,
) -> Result<(), NnError> {
    let epi = Epilogue::new().relu_mask(a);
    gemm_epilogue(par, T::ONE, dz, w.view(), T::ZERO, dx, &epi)?;
    Ok(())
}

/// `dw ← α·dzᵀ·x + β·dw` (out × in), given `dzᵀ` (out × batch: a stride swap of a
/// batch-major `dz`, or a feature-major buffer as it lies). `(α, β) = (1, 0)` forms the
/// gradient; `(-η, 1 - ηλ)` applies a plain SGD step to the weight in place.
pub(crate) fn weight_grad<T: Float>(
    par: Parallelism,
    alpha: T,
    dz_t: MatRef<'_, T>,
    x: MatRef<'_, T>,
    beta: T,
    dw: MatMut<'_, T>,
) -> Result<(), NnError> {
    gemm_with(par, alpha, dz_t, x, beta, dw)?;
    Ok(())
}

/// `db ← Σ_rows d`, summed row after row so the order never depends on threads.
pub(crate) fn column_sums<T: Float>(d: &[T], db: &mut [T]) {
    db.fill(T::ZERO);
    let n = db.len();
    if n == 0 {
        return;
    }
    for row in d.chunks_exact(n) {
        for (acc, v) in db.iter_mut().zip(row) {
            *acc += *v;
        }
    }
}

/// `db[i] ← Σ row i` of a feature-major `d` (`db.len()` rows of `n` values), summed by
/// depthlab-gemm in its fixed order (16 lanes folded in halves, then the tail): the compiler
/// turns the same loop written here into two-lane adds, about 5× slower.
fn row_sums<T: Float>(d: &[T], db: &mut [T], n: usize) {
    let rows = db.len();
    let view = MatRef::row_major(&d[..rows * n], rows, n)
        .expect("a feature-major buffer holds out × rows values");
    depthlab_gemm::row_sums(view, db).expect("one bias gradient per feature row");
}

/// One pass over the product `pre` (batch × n): adds the bias and applies the activation.
///
/// With `post = None` the result replaces `pre` in place. With `post = Some(..)` the
/// activation goes to `post`, and `pre` keeps `z = x·Wᵀ + b` only when the activation's
/// derivative needs `z` (otherwise `pre` is left as the bare product: it is never read).
pub(crate) fn bias_activation<T: Float>(
    act: Activation,
    bias: Option<&[T]>,
    pre: &mut [T],
    post: Option<&mut [T]>,
    n: usize,
) {
    if n == 0 {
        return;
    }
    with_vector_isa(BiasActivation {
        act,
        bias,
        pre,
        post,
        n,
        features_major: false,
    });
}

/// [`bias_activation`] for a hidden layer stored feature-major (out × batch, rows of
/// `batch` values): `bias[f]` goes to every value of row `f`, and the activation to `post`.
pub(crate) fn bias_activation_features<T: Float>(
    act: Activation,
    bias: Option<&[T]>,
    pre_t: &mut [T],
    post_t: &mut [T],
    batch: usize,
) {
    if batch == 0 {
        return;
    }
    with_vector_isa(BiasActivation {
        act,
        bias,
        pre: pre_t,
        post: Some(post_t),
        n: batch,
        features_major: true,
    });
}

/// [`bias_activation`]'s pass as a [`VectorTask`], so it is compiled for the GEMM's ISA.
struct BiasActivation<'a, T> {
    act: Activation,
    bias: Option<&'a [T]>,
    pre: &'a mut [T],
    post: Option<&'a mut [T]>,
    /// Values per row.
    n: usize,
    /// Rows are features (one bias each) rather than samples (one bias per column).
    features_major: bool,
}

impl<T: Float> VectorTask for BiasActivation<'_, T> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let Self {
            act,
            bias,
            pre,
            post,
            n,
            features_major,
        } = self;
        match post {
            None => per_activation!(act, T, |f| map_in_place(pre, bias, n, f)),
            Some(post) => {
                let keep_z = !act.derivative_from_output();
                if features_major {
                    per_activation!(act, T, |f| map_rows_to(pre, post, bias, n, keep_z, f))
                } else {
                    per_activation!(act, T, |f| map_to(pre, post, bias, n, keep_z, f))
                }
            }
        }
    }
}

#[inline(always)]
fn map_in_place<T: Float>(pre: &mut [T], bias: Option<&[T]>, n: usize, f: impl Fn(T) -> T) {
    match bias {
        Some(b) => {
            for row in pre.chunks_exact_mut(n) {
                for (v, bj) in row.iter_mut().zip(b) {
                    *v = f(*v + *bj);
                }
            }
        }
        None => pre.iter_mut().for_each(|v| *v = f(*v)),
    }
}

#[inline(always)]
fn map_to<T: Float>(
    pre: &mut [T],
    post: &mut [T],
    bias: Option<&[T]>,
    n: usize,
    keep_z: bool,
    f: impl Fn(T) -> T,
) {
    match (bias, keep_z) {
        (Some(b), true) => {
            for (zr, ar) in pre.chunks_exact_mut(n).zip(post.chunks_exact_mut(n)) {
                for ((z, a), bj) in zr.iter_mut().zip(ar.iter_mut()).zip(b) {
                    *z += *bj;
                    *a = f(*z);
                }
            }
        }
        (Some(b), false) => {
            for (zr, ar) in pre.chunks_exact(n).zip(post.chunks_exact_mut(n)) {
                for ((z, a), bj) in zr.iter().zip(ar.iter_mut()).zip(b) {
                    *a = f(*z + *bj);
                }
            }
        }
        (None, _) => {
            for (z, a) in pre.iter().zip(post.iter_mut()) {
                *a = f(*z);
            }
        }
    }
}

/// [`map_to`] for feature-major buffers: row `i` (of `n` values) takes `bias[i]`.
#[inline(always)]
fn map_rows_to<T: Float>(
    pre: &mut [T],
    post: &mut [T],
    bias: Option<&[T]>,
    n: usize,
    keep_z: bool,
    f: impl Fn(T) -> T,
) {
    for (i, (zr, ar)) in pre
        .chunks_exact_mut(n)
        .zip(post.chunks_exact_mut(n))
        .enumerate()
    {
        match (bias.map(|b| b[i]), keep_z) {
            (Some(bi), true) => {
                for (z, a) in zr.iter_mut().zip(ar.iter_mut()) {
                    *z += bi;
                    *a = f(*z);
                }
            }
            (Some(bi), false) => {
                for (z, a) in zr.iter().zip(ar.iter_mut()) {
                    *a = f(*z + bi);
                }
            }
            (None, _) => {
                for (z, a) in zr.iter().zip(ar.iter_mut()) {
                    *a = f(*z);
                }
            }
        }
    }
}

/// One pass over `delta` (holding `dL/da` on entry): multiplies by `f'` to give `dL/dz`, and
/// accumulates the bias gradient in the same pass. Rows hold `n` values: samples (batch × n,
/// `db = Σ_rows dL/dz`) or, with `features_major`, features (out × n: `db[f]` = the sum of
/// row `f`). `pre` is read only by activations whose derivative needs `z`, `post` only by the
/// others.
pub(crate) fn activation_backward<T: Float>(
    act: Activation,
    pre: &[T],
    post: &[T],
    delta: &mut [T],
    db: Option<&mut [T]>,
    n: usize,
    features_major: bool,
) {
    if n == 0 {
        return;
    }
    with_vector_isa(ActivationBackward {
        act,
        pre,
        post,
        delta,
        db,
        n,
        features_major,
    });
}

/// [`activation_backward`]'s pass as a [`VectorTask`], so it is compiled for the GEMM's ISA.
struct ActivationBackward<'a, T> {
    act: Activation,
    pre: &'a [T],
    post: &'a [T],
    delta: &'a mut [T],
    db: Option<&'a mut [T]>,
    /// Values per row.
    n: usize,
    /// Rows are features (bias gradient: row sums) rather than samples (column sums).
    features_major: bool,
}

impl<T: Float> VectorTask for ActivationBackward<'_, T> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let Self {
            act,
            pre,
            post,
            delta,
            db,
            n,
            features_major: fm,
        } = self;
        // One arm per activation, so each loop is monomorphic (no per-element `match`) and
        // branch-free: LLVM vectorises it.
        match act {
            Activation::Identity => match db {
                Some(db) if fm => row_sums(delta, db, n),
                Some(db) => column_sums(delta, db),
                None => {}
            },
            // A select, not a conditional store.
            Activation::Relu => rows_backward(fm, delta, post, db, n, |d, a| {
                if a > T::ZERO { d } else { T::ZERO }
            }),
            Activation::Sigmoid => {
                rows_backward(fm, delta, post, db, n, |d, a| d * (a * (T::ONE - a)))
            }
            Activation::Tanh => rows_backward(fm, delta, post, db, n, |d, a| d * (T::ONE - a * a)),
            // The remaining derivatives read `z`.
            Activation::LeakyRelu(al) => {
                let al = T::from_f64(al);
                rows_backward(
                    fm,
                    delta,
                    pre,
                    db,
                    n,
                    move |d, z| {
                        if z > T::ZERO { d } else { d * al }
                    },
                )
            }
            Activation::Elu(al) => {
                let al = T::from_f64(al);
                rows_backward(fm, delta, pre, db, n, move |d, z| d * elu_derivative(z, al))
            }
            Activation::Gelu => rows_backward(fm, delta, pre, db, n, |d, z| d * gelu_derivative(z)),
            Activation::Softplus => rows_backward(fm, delta, pre, db, n, |d, z| d * sigmoid(z)),
            Activation::Silu => rows_backward(fm, delta, pre, db, n, |d, z| d * silu_derivative(z)),
        }
    }
}

/// `delta ← f(delta, src)` element-wise, with the bias gradient of the result in `db`: its
/// column sums, or its row sums when the rows are features (`features_major`).
#[inline(always)]
fn rows_backward<T: Float>(
    features_major: bool,
    delta: &mut [T],
    src: &[T],
    db: Option<&mut [T]>,
    n: usize,
    f: impl Fn(T, T) -> T,
) {
    match db {
        Some(db) if features_major => {
            for (d, &s) in delta.iter_mut().zip(src) {
                *d = f(*d, s);
            }
            row_sums(delta, db, n);
        }
        Some(db) => {
            db.fill(T::ZERO);
            for (dr, sr) in delta.chunks_exact_mut(n).zip(src.chunks_exact(n)) {
                for ((d, &s), acc) in dr.iter_mut().zip(sr).zip(db.iter_mut()) {
                    *d = f(*d, s);
                    *acc += *d;
                }
            }
        }
        None => {
            for (d, &s) in delta.iter_mut().zip(src) {
                *d = f(*d, s);
            }
        }
    }
}
