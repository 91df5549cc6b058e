//! Running a study: check everything, then train the pending grid points in parallel on the
//! rayon pool, appending each finished run to the results store as soon as it ends.
//!
//! Runs are pulled from a shared queue, most expensive first, so the long runs do not all
//! land at the end; each run's GEMMs stay on its own worker thread (wrapped in
//! `depthlab_gemm::with_parallelism(Sequential, ..)`). A run depends only on its grid
//! point, so results do not depend on the thread count or the order runs finish in. Points
//! that are the same run ([`execute::same_run`]: depth 0, differing only in width or
//! activation) are trained once and recorded under each of their ids.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::data::{self, DataError};
use crate::execute::{self, ExecError, ModelOut};
use crate::meta::Meta;
use crate::record::RunRecord;
use crate::shard::Shard;
use crate::store::{self, DroppedTail, ResultsWriter, StoreError, StudyDir};
use crate::study::{GridPoint, Study};

/// A sweep that could not start or could not store its results.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A dataset of the study cannot be loaded as configured (bad user input).
    #[error("{}", data_message(.at, .source))]
    Data {
        /// `study.toml:line:column` of the dataset entry, or of the key at fault.
        at: String,
        /// The data module's error.
        source: DataError,
    },
    /// A model of the grid would be too large for its dataset (bad user input).
    #[error("{at}: dataset {dataset}: {message}")]
    ModelTooLarge {
        /// `study.toml:line:column` of the dataset entry.
        at: String,
        /// The dataset's name.
        dataset: String,
        /// The sizes, the count and the limit.
        message: String,
    },
    /// The results directory cannot be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The results directory already holds another study.
    #[error("{}: holds results of study `{found}`, not `{expected}`; choose another --out", dir.display())]
    OtherStudy {
        /// The results directory.
        dir: PathBuf,
        /// The study being run.
        expected: String,
        /// The study found there.
        found: String,
    },
    /// The thread pool could not be created.
    #[error("cannot start {threads} threads: {message}")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// Why not.
        message: String,
    },
}

impl SweepError {
    /// Whether the error is the user's input (exit code 2) rather than a failure.
    pub fn is_user_error(&self) -> bool {
        match self {
            SweepError::Data { .. }
            | SweepError::ModelTooLarge { .. }
            | SweepError::OtherStudy { .. } => true,
            SweepError::Store(e) => e.is_user_error(),
            SweepError::Threads { .. } => false,
        }
    }
}

/// A data error as a study reports it. Errors inside a data file already carry its
/// `file:line:column`; the others are about what the study asks for, so they start with
/// where the study asks it.
fn data_message(at: &str, e: &DataError) -> String {
    let hint = if matches!(e, DataError::TooManyClasses { .. }) {
        "; if the target is numeric, add params = { classification = 0 } to this dataset to \
         treat it as a regression target"
    } else {
        ""
    };
    if e.is_in_file() {
        format!("{e}{hint}")
    } else {
        format!("{at}: {e}{hint}")
    }
}

/// A validated plan for one `depthlab run`.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The study.
    pub study: Study,
    /// Its results directory.
    pub out: StudyDir,
    /// Which grid points this process runs.
    pub shard: Shard,
    /// Pool size (`None`: rayon's default, `RAYON_NUM_THREADS` or the core count).
    pub threads: Option<usize>,
}

/// What a sweep reports as it goes. Implementations must be cheap: they are called from the
/// worker threads.
pub trait Observer: Sync {
    /// Before the first run: grid size, this shard's size, how many are already recorded,
    /// pool size, and the interrupted line that was dropped, if any.
    fn begin(&self, plan: &SweepStart);
    /// A run finished and was stored; `progress` is the estimated fraction of this sweep's
    /// work now done (runs differ in cost by orders of magnitude, so counts mislead an ETA).
    fn finished(&self, record: &RunRecord, progress: f64);
    /// A run failed; the sweep goes on with the others.
    fn failed(&self, id: &str, error: &ExecError);
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Silent;

impl Observer for Silent {
    fn begin(&self, _: &SweepStart) {}
    fn finished(&self, _: &RunRecord, _: f64) {}
    fn failed(&self, _: &str, _: &ExecError) {}
}

/// The state of a sweep as it starts.
#[derive(Debug, Clone)]
pub struct SweepStart {
    /// Study name.
    pub study: String,
    /// Results directory.
    pub dir: PathBuf,
    /// Points in the whole grid.
    pub grid: usize,
    /// Points in this shard.
    pub shard_points: usize,
    /// Of those, already recorded (skipped).
    pub already_done: usize,
    /// Of those, to run now.
    pub to_run: usize,
    /// Threads in the pool.
    pub threads: usize,
    /// An interrupted last line found in `results.jsonl`, now cut off.
    pub dropped: Option<DroppedTail>,
    /// The directory held a different study TOML (now replaced): earlier records were made
    /// with the old settings, and grid points whose ids did not change are not rerun.
    pub study_changed: bool,
}

/// How a sweep ended.
#[derive(Debug, Clone)]
pub struct SweepSummary {
    /// The state it started from.
    pub start: SweepStart,
    /// Runs finished now.
    pub ran: usize,
    /// Of those, runs recorded from another one's training ([`execute::same_run`]).
    pub shared: usize,
    /// Runs that failed: id and message.
    pub failed: Vec<(String, String)>,
    /// Every record in the directory at the end (earlier sessions included).
    pub records: Vec<RunRecord>,
}

impl RunPlan {
    /// The grid points of this plan's shard.
    pub fn points(&self) -> Vec<GridPoint> {
        self.study
            .grid()
            .into_iter()
            .filter(|p| self.shard.contains(p.index))
            .collect()
    }

    /// Checks everything that can be checked without writing: every dataset (with every
    /// label-noise and training-set size the grid asks for) loads, every model fits the size
    /// limits of [`crate::study`] on its data, and the existing results, if any, are readable.
    /// Call before [`run`], so bad input changes nothing on disk.
    ///
    /// # Errors
    /// [`SweepError::Data`] for data that cannot be loaded; [`SweepError::ModelTooLarge`] for
    /// a model over the limits; [`SweepError::Store`] for corrupt existing results or results
    /// made with other settings ([`store::check_continuation`]).
    pub fn check(&self) -> Result<(), SweepError> {
        let mut seen = HashSet::new();
        let mut shapes = HashSet::new();
        for p in self.study.grid() {
            let ds = &self.study.datasets[p.dataset];
            let key = (p.dataset, p.train.label_noise.to_bits(), p.train.train_size);
            if seen.insert(key) {
                let spec = execute::data_spec(ds, p.seed, &p.train);
                let loaded = data::load(&spec).map_err(|source| SweepError::Data {
                    at: self.study.dataset_location(p.dataset, source.key()),
                    source,
                })?;
                shapes.insert((
                    p.dataset,
                    loaded.n_features,
                    loaded.n_outputs,
                    loaded.n_train(),
                ));
            }
        }
        // Every axis value is within its own limit; only their combination with the data's
        // sizes can still be too large.
        let mut checked = HashSet::new();
        for p in self.study.grid() {
            for &(d, inputs, outputs, n_train) in shapes.iter().filter(|s| s.0 == p.dataset) {
                let batch = p.train.batch_size.min(n_train);
                if !checked.insert((d, inputs, outputs, p.depth, p.width, batch)) {
                    continue;
                }
                crate::study::check_model_size(inputs, outputs, p.depth, p.width, batch).map_err(
                    |message| SweepError::ModelTooLarge {
                        at: self.study.dataset_location(d, None),
                        dataset: self.study.datasets[d].name.clone(),
                        message,
                    },
                )?;
            }
        }
        // Results of two studies must not mix in one directory (ids could even collide).
        if let Ok(existing) = self.out.read_study()
            && existing.name != self.study.name
        {
            return Err(SweepError::OtherStudy {
                dir: self.out.root().to_path_buf(),
                expected: self.study.name.clone(),
                found: existing.name,
            });
        }
        // Same name is not enough: changed settings would mix two setups' results.
        store::check_continuation(&self.out, &self.study)?;
        Ok(())
    }
}

/// The sizes of a dataset that decide how long a run on it takes.
#[derive(Debug, Clone, Copy)]
struct DataShape {
    n_features: usize,
    n_outputs: usize,
    n_train: usize,
}

/// Per-step overhead of one layer in multiply-add equivalents (kernel calls, activations,
/// optimizer), so that small models on many small batches are not estimated as free; fitted
/// to the wall times of the default study on a 2-core Zen 4.
const LAYER_STEP_OVERHEAD: f64 = 70_000.0;

/// Estimated work of a run in multiply-adds: used to start long runs first and to weigh
/// progress (so the ETA is not fooled by the long runs coming first).
fn cost(p: &GridPoint, shape: DataShape) -> f64 {
    let mut weights = 0usize;
    let mut fan_in = shape.n_features.max(1);
    for _ in 0..p.depth {
        weights += fan_in * p.width;
        fan_in = p.width;
    }
    weights += fan_in * shape.n_outputs.max(1);
    let n_train = p
        .train
        .train_size
        .map_or(shape.n_train, |n| n.min(shape.n_train))
        .max(1) as f64;
    let steps = (n_train / p.train.batch_size.max(1) as f64).ceil();
    let per_epoch =
        n_train * 3.0 * weights as f64 + steps * (p.depth + 1) as f64 * LAYER_STEP_OVERHEAD;
    per_epoch * p.train.epochs as f64
}

/// Runs the plan's pending grid points and stores each result. Call [`RunPlan::check`] first.
///
/// # Errors
/// [`SweepError::Store`] when results cannot be written (the sweep stops at once, since
/// nothing further could be kept); failed runs are listed in the summary instead.
pub fn run(plan: &RunPlan, observer: &dyn Observer) -> Result<SweepSummary, SweepError> {
    let pool = {
        let mut b = rayon::ThreadPoolBuilder::new();
        if let Some(t) = plan.threads {
            b = b.num_threads(t);
        }
        b.build().map_err(|e| SweepError::Threads {
            threads: plan.threads.unwrap_or(0),
            message: e.to_string(),
        })?
    };
    let threads = pool.current_num_threads();

    let (writer, loaded) = ResultsWriter::open(&plan.out)?;
    let study_changed =
        std::fs::read_to_string(plan.out.study()).is_ok_and(|old| old != plan.study.source);
    store::write_atomic(&plan.out.study(), plan.study.source.as_bytes())?;
    let shard = (!plan.shard.is_all()).then(|| plan.shard.to_string());
    let meta = Meta::collect(threads, shard).continuing(&plan.out.meta());
    let meta_text = serde_json::to_vec_pretty(&meta).unwrap_or_default();
    store::write_atomic(&plan.out.meta(), &meta_text)?;

    let done: HashSet<&str> = loaded.records.iter().map(|r| r.id.as_str()).collect();
    let points = plan.points();
    let shard_points = points.len();
    let pending: Vec<GridPoint> = points
        .into_iter()
        .filter(|p| !done.contains(p.id.as_str()))
        .collect();
    // One load per dataset gives the sizes the cost estimate needs (the data was already
    // loaded once by `check`, so this cannot fail for a reason the user has not seen).
    let shapes: Vec<DataShape> = plan
        .study
        .datasets
        .iter()
        .enumerate()
        .map(|(d, ds)| {
            let first = pending.iter().find(|p| p.dataset == d);
            let loaded =
                first.and_then(|p| data::load(&execute::data_spec(ds, p.seed, &p.train)).ok());
            loaded.map_or(
                DataShape {
                    n_features: 2,
                    n_outputs: 2,
                    n_train: 1000,
                },
                |d| DataShape {
                    n_features: d.n_features,
                    n_outputs: d.n_outputs,
                    n_train: d.n_train(),
                },
            )
        })
        .collect();
    let to_run = pending.len();
    let mut pending: Vec<Pending> = share_runs(pending)
        .into_iter()
        .map(|(point, twins)| {
            let cost = cost(&point, shapes[point.dataset]);
            Pending { point, twins, cost }
        })
        .collect();
    pending.sort_by(|a, b| {
        b.cost
            .total_cmp(&a.cost)
            .then(a.point.index.cmp(&b.point.index))
    });
    let total_cost: f64 = pending
        .iter()
        .map(|p| p.cost)
        .sum::<f64>()
        .max(f64::MIN_POSITIVE);

    let start = SweepStart {
        study: plan.study.name.clone(),
        dir: plan.out.root().to_path_buf(),
        grid: plan.study.grid().len(),
        shard_points,
        already_done: shard_points - to_run,
        to_run,
        threads,
        dropped: loaded.dropped.clone(),
        study_changed,
    };
    observer.begin(&start);

    // The writer and the estimated work done so far, updated together.
    let writer = Mutex::new((writer, 0.0f64));
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(Vec::new());
    let store_error: Mutex<Option<StoreError>> = Mutex::new(None);
    let ran = AtomicUsize::new(0);
    let shared_runs = AtomicUsize::new(0);
    let models_root = plan.out.root().to_path_buf();
    let save_models = plan.study.save_models;

    pool.scope(|s| {
        for _ in 0..threads {
            s.spawn(|_| {
                loop {
                    if store_error.lock().map_or(true, |e| e.is_some()) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(Pending { point, twins, cost }) = pending.get(i) else {
                        return;
                    };
                    let ds = &plan.study.datasets[point.dataset];
                    let save = |d: &data::Dataset, p: &GridPoint| {
                        save_models.applies_to(d.n_features).then(|| {
                            let rel = StudyDir::model_rel_path(&p.id);
                            ModelOut {
                                path: models_root.join(&rel),
                                record_as: rel,
                            }
                        })
                    };
                    // The runs are the parallel loop: keep each run's products on its worker.
                    let outcome = depthlab_gemm::with_parallelism(
                        depthlab_gemm::Parallelism::Sequential,
                        || {
                            execute::execute_shared(
                                &plan.study.name,
                                point,
                                twins,
                                ds,
                                Some(&save),
                                &mut |_| {},
                            )
                        },
                    );
                    match outcome {
                        Ok((record, shared)) => {
                            shared_runs.fetch_add(shared.len(), Ordering::Relaxed);
                            // The training's cost is progress once, with its first record.
                            let costs = std::iter::once(*cost).chain(std::iter::repeat(0.0));
                            for (record, cost) in std::iter::once(record).chain(shared).zip(costs) {
                                let stored =
                                    writer.lock().map_err(|_| poisoned()).and_then(|mut w| {
                                        w.0.append(&record)?;
                                        w.1 += cost;
                                        Ok(w.1 / total_cost)
                                    });
                                match stored {
                                    Ok(fraction) => {
                                        ran.fetch_add(1, Ordering::Relaxed);
                                        observer.finished(&record, fraction.min(1.0));
                                    }
                                    Err(e) => {
                                        if let Ok(mut slot) = store_error.lock() {
                                            slot.get_or_insert(e);
                                        }
                                        return;
                                    }
                                }
                            }
                        }
                        Err(e) => {
                            for p in std::iter::once(point).chain(twins) {
                                observer.failed(&p.id, &e);
                                if let Ok(mut f) = failed.lock() {
                                    f.push((p.id.clone(), e.to_string()));
                                }
                            }
                        }
                    }
                }
            });
        }
    });

    if let Some(e) = store_error.into_inner().ok().flatten() {
        return Err(e.into());
    }
    let (writer, _) = writer.into_inner().map_err(|_| poisoned())?;
    Ok(SweepSummary {
        start,
        ran: ran.into_inner(),
        shared: shared_runs.into_inner(),
        failed: failed.into_inner().unwrap_or_default(),
        records: writer.records().to_vec(),
    })
}

/// A grid point to train, with the pending points whose result will be its own.
struct Pending {
    point: GridPoint,
    twins: Vec<GridPoint>,
    cost: f64,
}

/// Groups points that are the [`execute::same_run`], each under the first of them in grid
/// order: a study that sweeps widths and activations would otherwise train every depth-0
/// model once per width and activation (the default study's 252 depth-0 runs hold 9 models).
fn share_runs(points: Vec<GridPoint>) -> Vec<(GridPoint, Vec<GridPoint>)> {
    let mut groups: Vec<(GridPoint, Vec<GridPoint>)> = Vec::new();
    // Only depth 0 can share. Points are bucketed by dataset and seed (a handful of training
    // settings each), and `same_run` alone decides within a bucket.
    let mut depth0: HashMap<(usize, u64), Vec<usize>> = HashMap::new();
    for p in points {
        if p.depth == 0 {
            let bucket = depth0.entry((p.dataset, p.seed)).or_default();
            if let Some(&g) = bucket
                .iter()
                .find(|&&g| execute::same_run(&groups[g].0, &p))
            {
                groups[g].1.push(p);
                continue;
            }
            bucket.push(groups.len());
        }
        groups.push((p, Vec::new()));
    }
    groups
}

fn poisoned() -> StoreError {
    StoreError::Io {
        path: PathBuf::from("<results writer>"),
        source: std::io::Error::other("a worker thread panicked while writing results"),
    }
}
