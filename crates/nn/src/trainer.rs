//! One training step with every buffer preallocated: forward, fused loss gradient, backward
//! and optimizer update, allocating nothing once built.
//!
//! Backward, layer by layer from the last (`δ_l = dL/dz_l`, `a_{l-1}` the layer's input):
//! `δ_{l-1} = (δ_l·W_l) ⊙ f'(z_{l-1})`, `dW_l = δ_lᵀ·a_{l-1}`, `db_l = Σ_batch δ_l`, and
//! layer `l` is updated as soon as its gradients exist (while they are still in cache);
//! `W_l` is only needed for `δ_{l-1}`, which is computed before the update, so the result is
//! exactly that of computing all gradients first. Plain SGD folds the update into the
//! weight-gradient product itself (see [`Trainer::set_fuse_sgd`]).

use depthlab_gemm::{MIN_PARALLEL_MACS, MIN_WARM_PARALLEL_MACS, MatMut, MatRef};

use crate::activation::Activation;
use crate::error::{NnError, shape2};
use crate::float::Float;
use crate::linear::{
    Linear, activation_backward, affine, affine_activated, bias_activation,
    bias_activation_features, column_sums, input_grad, input_grad_relu, weight_grad,
};
use crate::loss::{BatchTargets, Loss, predicted_class};
use crate::matrix::{Matrix, fits_in_memory};
use crate::mlp::Mlp;
use crate::optim::{OptimizerConfig, Update};
use crate::parallel::{may_split, on_warm_pool, par_for};
use crate::train::Targets;

/// The backward pipeline runs a layer's update beside the next layer's input gradient only
/// when both have at least this many multiply-adds: the hand-off to a second thread is the
/// one depthlab-gemm weighs before splitting a product, so the bar is the same.
const MIN_JOIN_MACS: usize = MIN_PARALLEL_MACS;

/// Batches of at least this many rows keep hidden layers feature-major (see
/// [`Trainer::forward`]). The kernel's vectors then run along the batch, and its widest tile
/// is 64 rows tall: a shorter batch would fall to narrower tiles (W1, batch 32: 0.80× the
/// batch-major step), while at 64 rows the layout saves the weight transposition (W2 1.09×).
const FEATURE_MAJOR_MIN_ROWS: usize = 64;

/// `δ_{l-1} ← δ_l·W_l` into `prev.delta` (the layer below's buffers), through the ReLU's mask
/// `[a_{l-1} > 0]` in the product's epilogue when `relu_mask`.
fn delta_through<T: Float>(
    par: depthlab_gemm::Parallelism,
    fm: bool,
    relu_mask: bool,
    rows: usize,
    dz: MatRef<'_, T>,
    w: &Matrix<T>,
    prev: &mut LayerBuffers<T>,
) -> Result<(), NnError> {
    let n = w.cols();
    let dx = if fm {
        MatMut::col_major(prev.delta.as_mut_slice(), rows, n)?
    } else {
        prev.delta.view_mut()
    };
    if !relu_mask {
        return input_grad(par, dz, w, dx);
    }
    let a = if fm {
        MatRef::col_major(prev.post.as_slice(), rows, n)?
    } else {
        prev.post.view()
    };
    input_grad_relu(par, dz, w, a, dx)
}

/// Whether a pass over `rows` rows keeps hidden layers feature-major (forward and backward
/// must agree, so both ask here).
fn features_major(rows: usize) -> bool {
    rows >= FEATURE_MAJOR_MIN_ROWS
}

/// Parameter tensors at least this long are updated in two halves side by side when rayon
/// has more than one thread: the update streams three or four arrays through memory (W3's
/// 512×512 layer is 3 MB, beyond L2), about 100 µs on one core.
const MIN_SPLIT_UPDATE: usize = 1 << 16;

/// [`Update::apply`] on one tensor, split in two halves on two threads when it is big. The
/// update is element-wise, so the split cannot change a bit.
fn apply_split<T: Float>(update: &Update<T>, p: &mut [T], g: &[T], s1: &mut [T], s2: &mut [T]) {
    if p.len() < MIN_SPLIT_UPDATE || rayon::current_num_threads() < 2 {
        update.apply(p, g, s1, s2);
        return;
    }
    let mid = p.len() / 2;
    // State buffers are empty when the optimizer keeps none; split them only when present.
    let cut = |s: &[T]| if s.is_empty() { 0 } else { mid };
    let (c1, c2) = (cut(s1), cut(s2));
    let (p0, p1) = p.split_at_mut(mid);
    let (g0, g1) = g.split_at(mid);
    let (s10, s11) = s1.split_at_mut(c1);
    let (s20, s21) = s2.split_at_mut(c2);
    rayon::join(
        || update.apply(p0, g0, s10, s20),
        || update.apply(p1, g1, s11, s21),
    );
}

/// Stage `l` of the backward pipeline: layer `l`'s weight and bias step from `δ_l` (in
/// `buf`) and the layer's input `a_{l-1}`, through one fused GEMM for plain SGD, else through
/// `dW_l` and the optimizer.
#[allow(clippy::too_many_arguments)]
fn update_layer<T: Float>(
    layer: &mut Linear<T>,
    buf: &mut LayerBuffers<T>,
    features_major: bool,
    input: MatRef<'_, T>,
    rows: usize,
    fused_sgd: Option<(T, T)>,
    update: &Update<T>,
) -> Result<(), NnError> {
    let par = par_for(rows, layer.out_features(), layer.in_features());
    // `δᵀ` (out × rows): a hidden layer's buffer as it lies, the output layer's a stride swap.
    let delta_t = if features_major {
        MatRef::row_major(buf.delta.as_slice(), layer.out_features(), rows)?
    } else {
        buf.delta.view().t()
    };
    match fused_sgd {
        Some((alpha, beta)) => {
            let w = layer.weight_view_mut();
            weight_grad(par, alpha, delta_t, input, beta, w)?;
            if let Some(b) = layer.bias_mut() {
                for (p, &g) in b.iter_mut().zip(&buf.db) {
                    *p = beta * *p + alpha * g;
                }
            }
        }
        None => {
            let dw = buf.dw.view_mut();
            weight_grad(par, T::ONE, delta_t, input, T::ZERO, dw)?;
            apply_split(
                update,
                layer.weight_mut(),
                buf.dw.as_slice(),
                &mut buf.s1w,
                &mut buf.s2w,
            );
            if let Some(b) = layer.bias_mut() {
                update.apply(b, &buf.db, &mut buf.s1b, &mut buf.s2b);
            }
        }
    }
    Ok(())
}

/// Loss and metrics of a model over a whole data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Mean loss (NaN for an empty set).
    pub loss: f64,
    /// Fraction of rows classified correctly (class targets only).
    pub accuracy: Option<f64>,
    /// Mean squared error over every output (value targets only).
    pub mse: Option<f64>,
}

/// Buffers of one Linear layer, sized for the largest batch.
#[derive(Debug, Clone)]
struct LayerBuffers<T> {
    /// `z = a_{l-1}·Wᵀ (+ b)`, batch × out.
    pre: Matrix<T>,
    /// `a = f(z)`, batch × out (hidden layers only).
    post: Matrix<T>,
    /// `dL/dz`, batch × out.
    delta: Matrix<T>,
    /// `dL/dW`, out × in.
    dw: Matrix<T>,
    /// `dL/db`, out (empty without bias).
    db: Vec<T>,
    /// Optimizer state for the weight and bias (empty when the optimizer needs none).
    s1w: Vec<T>,
    s2w: Vec<T>,
    s1b: Vec<T>,
    s2b: Vec<T>,
}

/// Training state for one model shape: activations, gradients and optimizer state, reused
/// across steps so a steady-state [`Trainer::step`] allocates nothing.
#[derive(Debug, Clone)]
pub struct Trainer<T = f32> {
    loss: Loss,
    optimizer: OptimizerConfig,
    lr: f64,
    steps: u64,
    max_batch: usize,
    activation: Activation,
    dims: Vec<(usize, usize)>,
    bias: bool,
    layers: Vec<LayerBuffers<T>>,
    fuse_sgd: bool,
    fuse_epilogue: bool,
    weight_grads_kept: bool,
}

impl<T: Float> Trainer<T> {
    /// State for training `model` on batches of at most `max_batch` rows.
    ///
    /// # Errors
    /// [`NnError::InvalidValue`] for a zero `max_batch`, one whose buffers would exceed
    /// `isize::MAX` bytes or cannot be allocated, or bad optimizer settings.
    pub fn new(
        model: &Mlp<T>,
        max_batch: usize,
        loss: Loss,
        optimizer: OptimizerConfig,
    ) -> Result<Self, NnError> {
        if max_batch == 0 {
            return Err(NnError::InvalidValue {
                field: "batch_size".into(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        optimizer.validate()?;
        let cfg = model.config();
        let dims = cfg.layer_dims();
        let batch_err = |reason: String| NnError::InvalidValue {
            field: "batch_size".into(),
            value: max_batch.to_string(),
            reason,
        };
        // Checked before anything is allocated, so a huge batch is an error rather than a
        // capacity-overflow panic halfway through.
        for (l, &(_, o)) in dims.iter().enumerate() {
            let elements = max_batch.checked_mul(o);
            if !elements.is_some_and(|n| fits_in_memory(n, T::BYTES)) {
                return Err(batch_err(format!(
                    "layer {l}'s {} activations exceed isize::MAX bytes",
                    shape2(max_batch, o)
                )));
            }
        }
        let n_state = optimizer.state_buffers();
        let last = dims.len() - 1;
        let layers = dims
            .iter()
            .enumerate()
            .map(|(l, &(i, o))| {
                let state = |len: usize, k: usize| vec![T::ZERO; if n_state > k { len } else { 0 }];
                let nb = if cfg.bias { o } else { 0 };
                let batch_buffer = |rows: usize| {
                    Matrix::try_with_row_capacity(rows, o).ok_or_else(|| {
                        batch_err(format!(
                            "layer {l}'s {} activations cannot be allocated",
                            shape2(rows, o)
                        ))
                    })
                };
                Ok(LayerBuffers {
                    pre: batch_buffer(max_batch)?,
                    post: batch_buffer(if l == last { 0 } else { max_batch })?,
                    delta: batch_buffer(max_batch)?,
                    dw: Matrix::zeros(o, i),
                    db: vec![T::ZERO; nb],
                    s1w: state(o * i, 0),
                    s2w: state(o * i, 1),
                    s1b: state(nb, 0),
                    s2b: state(nb, 1),
                })
            })
            .collect::<Result<_, NnError>>()?;
        Ok(Self {
            loss,
            optimizer,
            lr: optimizer.lr(),
            steps: 0,
            max_batch,
            activation: cfg.activation,
            dims,
            bias: cfg.bias,
            layers,
            fuse_sgd: true,
            fuse_epilogue: true,
            weight_grads_kept: false,
        })
    }

    /// The learning rate the next step uses.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Sets the learning rate (schedules call this once per epoch).
    ///
    /// # Errors
    /// [`NnError::InvalidValue`] for a NaN, infinite or negative rate, which is left unset:
    /// stepping with it would fill every parameter with NaN while the step still returned the
    /// finite loss of the batch, so nothing would report it.
    pub fn set_lr(&mut self, lr: f64) -> Result<(), NnError> {
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(NnError::InvalidValue {
                field: format!("{} lr", self.optimizer.name()),
                value: lr.to_string(),
                reason: "must be finite and >= 0".into(),
            });
        }
        self.lr = lr;
        Ok(())
    }

    /// Optimizer steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The largest batch this state holds buffers for.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// The loss being minimised.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// The outputs (logits) of the last forward pass, `rows × outputs`.
    pub fn outputs(&self) -> &Matrix<T> {
        &self.layers[self.layers.len() - 1].pre
    }

    fn check_model(&self, model: &Mlp<T>) -> Result<(), NnError> {
        // Layer by layer, since collecting the shapes would allocate.
        let layers = model.layers();
        let same_layers = layers.len() == self.dims.len()
            && layers.iter().zip(&self.dims).all(|(l, &(i, o))| {
                l.in_features() == i && l.out_features() == o && l.bias().is_some() == self.bias
            });
        let activation = model.config().activation;
        if !same_layers || activation != self.activation {
            let bias = |has: bool| if has { "+bias" } else { "" };
            let expected: Vec<_> = self
                .dims
                .iter()
                .map(|&(i, o)| format!("{}{}", shape2(o, i), bias(self.bias)))
                .collect();
            let found: Vec<_> = layers
                .iter()
                .map(|l| {
                    let (o, i) = (l.out_features(), l.in_features());
                    format!("{}{}", shape2(o, i), bias(l.bias().is_some()))
                })
                .collect();
            return Err(NnError::Shape {
                what: "model vs trainer architecture (layer weights out x in)".into(),
                expected: format!("[{}], {}", expected.join(", "), self.activation),
                found: format!("[{}], {}", found.join(", "), activation),
            });
        }
        Ok(())
    }

    fn check_batch(&self, x: &Matrix<T>) -> Result<(), NnError> {
        if x.rows() == 0 {
            // An empty batch would still decay weights and move Adam's moments.
            return Err(NnError::Empty {
                what: "training batch".into(),
            });
        }
        let input = self.dims[0].0;
        if x.cols() != input || x.rows() > self.max_batch {
            return Err(NnError::Shape {
                what: "batch vs model input (rows <= max batch)".into(),
                expected: format!("<={}x{}", self.max_batch, input),
                found: shape2(x.rows(), x.cols()),
            });
        }
        Ok(())
    }

    /// Forward pass of `rows` rows of `x` (row-major) into the layer buffers.
    ///
    /// With at least [`FEATURE_MAJOR_MIN_ROWS`] rows, hidden layers keep `pre`, `post` and
    /// `delta` feature-major (out × rows): their forward product is then `W·aᵀ`, which reads
    /// each weight where it lies instead of transposing it into the kernel's panels every
    /// step, and their input gradients read the weights in place as well. Shorter batches stay
    /// batch-major (rows × out) throughout. The output layer is always batch-major, for the
    /// loss and [`Trainer::outputs`]. Either way the layout depends on the batch's size alone,
    /// so results never depend on the thread count.
    fn forward(&mut self, model: &Mlp<T>, x: &[T], rows: usize) -> Result<(), NnError> {
        let last = self.layers.len() - 1;
        let input_dim = self.dims[0].0;
        let fused = self.fuses_activation(rows);
        let relu = self.activation == Activation::Relu;
        for (l, layer) in model.layers().iter().enumerate() {
            let (before, rest) = self.layers.split_at_mut(l);
            let buf = &mut rest[0];
            let (k, n) = (layer.in_features(), layer.out_features());
            buf.pre.set_rows(rows);
            let fm = features_major(rows);
            // The input as rows × in: `x` itself, or the previous layer's output (through a
            // stride swap when it is feature-major).
            let input = match before.last() {
                None => MatRef::row_major(x, rows, input_dim)?,
                Some(prev) if fm => MatRef::row_major(prev.post.as_slice(), k, rows)?.t(),
                Some(prev) => prev.post.view(),
            };
            let par = par_for(rows, k, n);
            if l == last {
                affine(par, input, layer.weight(), buf.pre.view_mut())?;
                bias_activation(
                    Activation::Identity,
                    layer.bias(),
                    buf.pre.as_mut_slice(),
                    None,
                    n,
                );
            } else {
                buf.post.set_rows(rows);
                if fused {
                    // Bias and activation in the product's epilogue, straight into `post`
                    // (neither ReLU nor identity needs `z` later).
                    let post = if fm {
                        MatMut::col_major(buf.post.as_mut_slice(), rows, n)?
                    } else {
                        buf.post.view_mut()
                    };
                    affine_activated(par, input, layer.weight(), layer.bias(), relu, post)?;
                    continue;
                }
                let pre = if fm {
                    MatMut::col_major(buf.pre.as_mut_slice(), rows, n)?
                } else {
                    buf.pre.view_mut()
                };
                affine(par, input, layer.weight(), pre)?;
                let (pre, post) = (buf.pre.as_mut_slice(), buf.post.as_mut_slice());
                if fm {
                    bias_activation_features(self.activation, layer.bias(), pre, post, rows);
                } else {
                    bias_activation(self.activation, layer.bias(), pre, Some(post), n);
                }
            }
        }
        Ok(())
    }

    /// One optimizer step on a batch: forward, loss, backward, update. Returns the batch's
    /// mean loss. A non-finite loss is returned as is and the parameters are left untouched
    /// (the caller decides the run diverged). Allocates nothing.
    ///
    /// # Errors
    /// [`NnError::Shape`] when the model, batch or targets disagree with this state;
    /// [`NnError::LabelOutOfRange`] for a label the outputs cannot represent;
    /// [`NnError::InvalidValue`] for a NaN or infinite target value;
    /// [`NnError::Empty`] for a batch with no rows.
    pub fn step(
        &mut self,
        model: &mut Mlp<T>,
        x: &Matrix<T>,
        y: BatchTargets<'_, T>,
    ) -> Result<f64, NnError> {
        self.check_model(model)?;
        self.check_batch(x)?;
        if self.wants_pool(x.rows()) {
            on_warm_pool(|| self.step_checked(model, x, y))
        } else {
            self.step_checked(model, x, y)
        }
    }

    /// Whether a pass over `rows` rows should move onto a rayon worker first (see
    /// [`on_warm_pool`]): only when called from outside the pool and some product is big
    /// enough to be split there ([`MIN_WARM_PARALLEL_MACS`]).
    ///
    /// From outside, every parallel region is a separate injection into the pool: the caller
    /// sleeps, a worker wakes, and between regions the idle workers spin on the cores the
    /// caller needs for the sequential parts (three threads on two cores). Measured on W2 at
    /// 2 threads, that made a step ~1.5× slower than running the same step from a worker. One
    /// hop per step pays the hand-off once; passes with only small products stay put. Inside
    /// the pool (a sweep's runs, say) nothing moves, and no worker is held awake: the pool's
    /// other workers have work of their own.
    fn wants_pool(&self, rows: usize) -> bool {
        rayon::current_thread_index().is_none()
            && rayon::current_num_threads() > 1
            && may_split()
            && self
                .dims
                .iter()
                .any(|&(i, o)| rows.saturating_mul(i).saturating_mul(o) >= MIN_WARM_PARALLEL_MACS)
    }

    /// [`Trainer::step`] after the model and batch were checked, on whichever thread runs it.
    fn step_checked(
        &mut self,
        model: &mut Mlp<T>,
        x: &Matrix<T>,
        y: BatchTargets<'_, T>,
    ) -> Result<f64, NnError> {
        let rows = x.rows();
        self.forward(model, x.as_slice(), rows)?;
        let last = self.layers.len() - 1;
        let n_out = self.dims[last].1;
        let loss = {
            let buf = &mut self.layers[last];
            buf.delta.set_rows(rows);
            self.loss
                .evaluate(buf.pre.as_slice(), n_out, y, Some(buf.delta.as_mut_slice()))?
        };
        if !loss.is_finite() {
            return Ok(loss);
        }
        self.steps += 1;
        let update = Update::<T>::new(&self.optimizer, self.lr, self.steps);
        if self.bias {
            let buf = &mut self.layers[last];
            column_sums(buf.delta.as_slice(), &mut buf.db);
        }
        let act = self.activation;
        // Plain SGD is `W ← (1 - ηλ)·W - η·δᵀ·a`: one GEMM with α = -η, β = 1 - ηλ updates the
        // weight in place, so `dW` is never written nor read back.
        let fused_sgd = match self.optimizer {
            OptimizerConfig::Sgd {
                momentum,
                weight_decay,
                ..
            } if momentum == 0.0 && self.fuse_sgd => Some((
                T::from_f64(-self.lr),
                T::from_f64(1.0 - self.lr * weight_decay),
            )),
            _ => None,
        };
        // Backward as a two-stage pipeline. `δ_{l-1} = δ_l·W_l` must read `W_l` before its
        // update, so it runs one stage ahead: stage l updates layer l (its weight-gradient
        // product, or the fused SGD product that writes `W_l` in place) while, beside it, the
        // activation derivative turns `δ_{l-1}` into `dL/dz_{l-1}` and `δ_{l-2} = δ_{l-1}·W_{l-1}`
        // is formed from the not-yet-updated `W_{l-1}`. The two sides touch disjoint buffers,
        // and each product is computed the same way whether they run side by side or one after
        // the other, so the thread count never changes a bit.
        let fm = features_major(rows);
        // With the ReLU's mask in the epilogue of the product that forms each `δ_{l-1}`, the
        // activation derivative below has only the bias sums left to do.
        let fuse_mask = self.fuses_relu_mask(rows);
        let act_after = if fuse_mask { Activation::Identity } else { act };
        if last > 0 {
            let (before, rest) = self.layers.split_at_mut(last);
            let prev = &mut before[last - 1];
            prev.delta.set_rows(rows);
            let w = model.layers()[last].weight();
            let par = par_for(rows, w.rows(), w.cols());
            delta_through(par, fm, fuse_mask, rows, rest[0].delta.view(), w, prev)?;
        }
        let bias = self.bias;
        for l in (0..=last).rev() {
            let (lower, rest) = self.layers.split_at_mut(l);
            let cur = &mut rest[0];
            let (lower_layers, rest_layers) = model.layers_mut().split_at_mut(l);
            let layer = &mut rest_layers[0];
            let update_macs = rows * layer.out_features() * layer.in_features();
            match lower.split_last_mut() {
                None => update_layer(
                    layer,
                    cur,
                    fm && l < last,
                    x.view(),
                    rows,
                    fused_sgd,
                    &update,
                )?,
                Some((prev, lower2)) => {
                    let LayerBuffers {
                        pre,
                        post,
                        delta,
                        db,
                        ..
                    } = prev;
                    let post = &*post;
                    // `δ_{l-2}` exists only below the second layer.
                    let next = lower2.last_mut().map(|b| (b, lower_layers[l - 1].weight()));
                    let next_macs = next.as_ref().map_or(0, |(_, w)| rows * w.rows() * w.cols());
                    let propagate = || -> Result<(), NnError> {
                        let n_prev = delta.cols();
                        let db = bias.then_some(db.as_mut_slice());
                        let (z, a, d) = (pre.as_slice(), post.as_slice(), delta.as_mut_slice());
                        let n = if fm { rows } else { n_prev };
                        activation_backward(act_after, z, a, d, db, n, fm);
                        if let Some((next, w)) = next {
                            next.delta.set_rows(rows);
                            let par = par_for(rows, w.rows(), w.cols());
                            let dz = if fm {
                                MatRef::col_major(delta.as_slice(), rows, n_prev)?
                            } else {
                                delta.view()
                            };
                            delta_through(par, fm, fuse_mask, rows, dz, w, next)?;
                        }
                        Ok(())
                    };
                    // Layer l's input as rows × in (a stride swap when feature-major).
                    let input = if fm {
                        MatRef::row_major(post.as_slice(), layer.in_features(), rows)?.t()
                    } else {
                        post.view()
                    };
                    let features_major = fm && l < last;
                    let mut step_layer = || {
                        update_layer(layer, cur, features_major, input, rows, fused_sgd, &update)
                    };
                    if rayon::current_num_threads() > 1
                        && update_macs.min(next_macs) >= MIN_JOIN_MACS
                    {
                        let (a, b) = rayon::join(step_layer, propagate);
                        a?;
                        b?;
                    } else {
                        step_layer()?;
                        propagate()?;
                    }
                }
            }
        }
        self.weight_grads_kept = fused_sgd.is_none();
        Ok(loss)
    }

    /// Gradients `(dL/dW, dL/db)` of layer `l` from the last [`Trainer::step`] (before its
    /// update was applied), for gradient checks and inspection. `None` when that step fused
    /// the update into the GEMM (plain SGD, see [`Trainer::set_fuse_sgd`]) and so never
    /// formed `dL/dW`.
    pub fn gradients(&self, l: usize) -> Option<(&Matrix<T>, &[T])> {
        if !self.weight_grads_kept {
            return None;
        }
        self.layers.get(l).map(|b| (&b.dw, b.db.as_slice()))
    }

    /// Whether hidden layers apply their bias and activation, and the backward pass its ReLU
    /// mask, inside the GEMM's epilogue (tile by tile, while each tile is in L1: the default)
    /// rather than in passes of their own over each layer's buffers. Only identity and ReLU
    /// are fused; the results are the same bits either way.
    pub fn set_fuse_epilogue(&mut self, fuse: bool) {
        self.fuse_epilogue = fuse;
    }

    /// Whether a pass over `rows` rows gets its hidden layers' bias and activation from the
    /// GEMM's epilogue: feature-major passes only (see [`features_major`]); a shorter batch's
    /// layers stay in L1, where the separate pass costs less than the epilogue's per-tile calls.
    fn fuses_activation(&self, rows: usize) -> bool {
        self.fuse_epilogue
            && features_major(rows)
            && matches!(self.activation, Activation::Identity | Activation::Relu)
    }

    /// Whether a pass over `rows` rows gets its ReLU mask from the GEMM's epilogue.
    fn fuses_relu_mask(&self, rows: usize) -> bool {
        self.fuses_activation(rows) && self.activation == Activation::Relu
    }

    /// Whether plain SGD (no momentum) updates each weight inside the weight-gradient GEMM
    /// (`W ← (1 - ηλ)·W - η·δᵀ·a`, the default, faster) or forms `dL/dW` first (so
    /// [`Trainer::gradients`] can show it). Both give the same update up to rounding.
    pub fn set_fuse_sgd(&mut self, fuse: bool) {
        self.fuse_sgd = fuse;
    }

    /// Loss, accuracy (class targets) or MSE (value targets) of `model` over all of `x`,
    /// in chunks of the trainer's batch size. Allocates nothing.
    ///
    /// # Errors
    /// [`NnError::Shape`] when `x`, `y` and the model disagree; as [`Loss::evaluate`] for
    /// labels out of range or non-finite target values.
    pub fn evaluate(
        &mut self,
        model: &Mlp<T>,
        x: &Matrix<T>,
        y: &Targets<T>,
    ) -> Result<Metrics, NnError> {
        self.check_model(model)?;
        let input = self.dims[0].0;
        if x.cols() != input || y.len() != x.rows() {
            return Err(NnError::Shape {
                what: "evaluation data vs model (x rows x input, targets)".into(),
                expected: format!("{}x{} with {} targets", x.rows(), input, x.rows()),
                found: format!("{} with {} targets", shape2(x.rows(), x.cols()), y.len()),
            });
        }
        if self.wants_pool(self.max_batch.min(x.rows())) {
            on_warm_pool(|| self.evaluate_checked(model, x, y))
        } else {
            self.evaluate_checked(model, x, y)
        }
    }

    /// [`Trainer::evaluate`] after the shapes were checked, on whichever thread runs it.
    fn evaluate_checked(
        &mut self,
        model: &Mlp<T>,
        x: &Matrix<T>,
        y: &Targets<T>,
    ) -> Result<Metrics, NnError> {
        let (input, n_out) = (self.dims[0].0, self.dims[self.dims.len() - 1].1);
        let threshold = T::from_f64(self.loss.decision_threshold());
        let (mut loss_sum, mut correct, mut sq_err) = (0.0f64, 0usize, 0.0f64);
        let total = x.rows();
        let mut start = 0;
        while start < total {
            let rows = self.max_batch.min(total - start);
            let xs = &x.as_slice()[start * input..(start + rows) * input];
            self.forward(model, xs, rows)?;
            let out = self.outputs().as_slice();
            let batch = y.batch(start, rows);
            loss_sum += self.loss.evaluate(out, n_out, batch, None)? * rows as f64;
            match batch {
                BatchTargets::Classes(labels) => {
                    correct += out
                        .chunks_exact(n_out)
                        .zip(labels)
                        .filter(|(row, l)| predicted_class(row, threshold) == **l)
                        .count();
                }
                BatchTargets::Values(t) => {
                    let s: T = out.iter().zip(t).map(|(&o, &t)| (o - t) * (o - t)).sum();
                    sq_err += s.to_f64();
                }
            }
            start += rows;
        }
        let denom = total as f64;
        Ok(match y {
            Targets::Classes { .. } => Metrics {
                loss: loss_sum / denom,
                accuracy: Some(correct as f64 / denom),
                mse: None,
            },
            Targets::Values(_) => Metrics {
                loss: loss_sum / denom,
                accuracy: None,
                mse: Some(sq_err / (denom * n_out as f64)),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::on_warm_pool;

    #[test]
    fn warm_pool_runs_on_a_worker_and_returns_the_result() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for _ in 0..100 {
            let got = pool.install(|| on_warm_pool(|| rayon::current_thread_index().map(|_| 7)));
            assert_eq!(got, Some(7));
        }
        // From outside any pool it moves onto the global pool.
        assert!(on_warm_pool(rayon::current_thread_index).is_some());
    }

    #[test]
    fn a_panic_inside_the_warm_pool_reaches_the_caller_instead_of_hanging() {
        let caught = std::panic::catch_unwind(|| on_warm_pool(|| panic!("inside")));
        let message = caught.unwrap_err();
        assert_eq!(message.downcast_ref::<&str>(), Some(&"inside"));
    }
}
