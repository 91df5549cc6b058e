//! Threads: k is never split, so C must be bit-identical whatever the thread count — in
//! installed rayon pools of 1 and 2 threads, through the global pool sized by
//! `RAYON_NUM_THREADS` (in child processes), and against `Parallelism::Sequential`.

mod common;

use std::process::Command;

use common::{Layout, Operand, Real, Spec, check, rng};
use depthlab_gemm::{
    Isa, MIN_PARALLEL_MACS, MIN_WARM_PARALLEL_MACS, Parallelism, available_isas, gemm_on,
    with_parallelism,
};
use rand::Rng;
use rayon::ThreadPoolBuilder;

/// Products big enough to be threaded, each stressing a different split: square, the MLP
/// forward layer 128×784×512, few rows (the n panels are split), few columns with row-major C
/// (the driver swaps m and n), a one-register-tall product, a packed A feeding two B panels,
/// β ≠ 0, and padded/negative strides.
fn cases() -> Vec<Spec> {
    let row = |m, k, n| Spec::dense(m, k, n);
    vec![
        row(300, 300, 300),
        row(128, 784, 512),
        Spec {
            c: Layout::COL,
            ..row(20, 250, 2000)
        },
        row(700, 450, 30),
        // Four A panels and far more columns: the threads split n, each packing all of A.
        Spec {
            c: Layout::COL,
            ..row(200, 150, 600)
        },
        // Row-major C with n = 10: the driver swaps, so m = 10 takes the one-register kernel
        // with B read in place, and only the n panels can be split.
        row(3000, 300, 10),
        // The same with C column-major, so m stays 3000: A is packed (transposed) for only two
        // B panels, one A panel at a time, and the threads split those row blocks.
        Spec {
            c: Layout::COL,
            ..row(3000, 300, 10)
        },
        // X·Wᵀ with n = 10: both operands run along k, so the dot-product path takes it and
        // splits the row groups.
        Spec {
            b: Operand::transposed(Layout::ROW),
            ..row(3000, 300, 10)
        },
        Spec {
            beta: -2.5,
            alpha: 1.0,
            a: Operand::transposed(Layout::padded(true)),
            b: Operand::plain(Layout::reversed(false, true, false)),
            c: Layout::reversed(true, false, true),
            ..row(257, 333, 190)
        },
    ]
}

#[test]
fn every_case_is_big_enough_to_be_threaded() {
    // Below the bar `Parallelism::Auto` stays on one thread, and a case would compare the
    // sequential path with itself.
    for spec in cases() {
        assert!(spec.m * spec.k * spec.n >= MIN_PARALLEL_MACS, "{spec:?}");
    }
}

const _: () = assert!(NESTED.0 * NESTED.1 * NESTED.2 >= MIN_PARALLEL_MACS);

/// The product each task of `products_nested_in_pool_tasks_are_correct` runs.
const NESTED: (usize, usize, usize) = (230, 220, 210);

/// C after one product with fixed inputs (seeded by the case), as raw bits.
fn product_bits<T: Real>(isa: Isa, par: Parallelism, spec: &Spec, seed: u64) -> Vec<u64> {
    let (a, b, mut c) = common::buffers::<T>(spec, &mut rng(seed));
    gemm_on(
        isa,
        par,
        T::from_f64(spec.alpha),
        common::view(&a, spec.a),
        common::view(&b, spec.b),
        T::from_f64(spec.beta),
        common::view_mut(&mut c),
    )
    .unwrap();
    c.data.iter().map(|x| x.bits()).collect()
}

fn identical<T: Real>(isa: Isa) {
    let one = ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let two = ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for (i, spec) in cases().iter().enumerate() {
        let seed = 0x700 + i as u64;
        let sequential = product_bits::<T>(isa, Parallelism::Sequential, spec, seed);
        let in_one = one.install(|| {
            assert_eq!(rayon::current_num_threads(), 1);
            product_bits::<T>(isa, Parallelism::Auto, spec, seed)
        });
        let in_two = two.install(|| {
            assert_eq!(rayon::current_num_threads(), 2);
            product_bits::<T>(isa, Parallelism::Auto, spec, seed)
        });
        // From a thread outside any pool, Auto uses the global pool.
        let global = product_bits::<T>(isa, Parallelism::Auto, spec, seed);
        let opted_out = two.install(|| {
            with_parallelism(Parallelism::Sequential, || {
                product_bits::<T>(isa, Parallelism::Auto, spec, seed)
            })
        });
        let what = format!("{isa} {} {spec:?}", T::NAME);
        assert!(
            sequential == in_one,
            "1-thread pool differs from sequential: {what}"
        );
        assert!(
            sequential == in_two,
            "2-thread pool differs from sequential: {what}"
        );
        assert!(
            sequential == global,
            "global pool differs from sequential: {what}"
        );
        assert!(sequential == opted_out, "with_parallelism differs: {what}");
    }
}

#[test]
fn bit_identical_for_one_and_two_threads() {
    for isa in available_isas() {
        identical::<f32>(isa);
    }
    identical::<f64>(available_isas()[0]);
}

/// Products that only `Parallelism::Warm` splits: a small square, W2's hidden layer with C
/// column-major (a feature-major batch), and one with ragged tiles.
fn warm_cases() -> Vec<Spec> {
    let row = |m, k, n| Spec::dense(m, k, n);
    vec![
        row(128, 128, 128),
        Spec {
            c: Layout::COL,
            ..row(256, 256, 64)
        },
        row(101, 130, 97),
    ]
}

#[test]
fn products_split_on_a_warm_pool_are_bit_identical() {
    let two = ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for (i, spec) in warm_cases().iter().enumerate() {
        let macs = spec.m * spec.k * spec.n;
        assert!(
            (MIN_WARM_PARALLEL_MACS..MIN_PARALLEL_MACS).contains(&macs),
            "{spec:?}"
        );
        for isa in available_isas() {
            let seed = 0x7a0 + i as u64;
            let sequential = product_bits::<f32>(isa, Parallelism::Sequential, spec, seed);
            let warm = two.install(|| product_bits::<f32>(isa, Parallelism::Warm, spec, seed));
            assert!(sequential == warm, "{isa} {spec:?}");
            let mut rng = rng(seed);
            two.install(|| check::<f32>(isa, Parallelism::Warm, spec, &mut rng))
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn threaded_products_are_correct() {
    let two = ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let mut rng = rng(0x701);
    for isa in available_isas() {
        for spec in cases().iter().skip(2) {
            two.install(|| check::<f32>(isa, Parallelism::Auto, spec, &mut rng))
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// Set in a child's environment: print the digest of `cases()` on the default ISA.
const CHILD_ENV: &str = "DEPTHLAB_GEMM_TEST_DIGEST";

/// FNV-1a over every case's C bits: one number a child can print.
fn digest(par: Parallelism) -> u64 {
    let isa = available_isas()[0];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, spec) in cases().iter().enumerate() {
        for x in product_bits::<f32>(isa, par, spec, 0x700 + i as u64) {
            h = (h ^ x).wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

#[test]
fn bit_identical_across_rayon_num_threads() {
    let want = digest(Parallelism::Sequential);
    for threads in ["1", "2"] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_digest",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("RAYON_NUM_THREADS", threads)
            .env(CHILD_ENV, threads)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "child with RAYON_NUM_THREADS={threads} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = format!("digest={want:016x}");
        assert!(
            stdout.contains(&line),
            "RAYON_NUM_THREADS={threads}: expected {line}, child printed:\n{stdout}"
        );
    }
}

#[test]
#[ignore = "run in a child process by bit_identical_across_rayon_num_threads"]
fn child_digest() {
    let Ok(threads) = std::env::var(CHILD_ENV) else {
        return;
    };
    assert_eq!(rayon::current_num_threads().to_string(), threads);
    println!("digest={:016x}", digest(Parallelism::Auto));
}

#[test]
fn concurrent_callers_do_not_disturb_each_other() {
    // Several std threads multiplying at once through the same global pool and the same
    // per-thread scratch machinery must each get the sequential answer.
    let isa = available_isas()[0];
    let spec = Spec::dense(200, 150, 180);
    let want = product_bits::<f32>(isa, Parallelism::Sequential, &spec, 42);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut r = rng(t);
                (0..5)
                    .map(|_| {
                        let par = if r.random() {
                            Parallelism::Auto
                        } else {
                            Parallelism::Sequential
                        };
                        product_bits::<f32>(isa, par, &spec, 42)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for h in handles {
        for got in h.join().unwrap() {
            assert!(got == want, "a concurrent product differs");
        }
    }
}

#[test]
fn products_nested_in_pool_tasks_are_correct() {
    // A sweep runs models in parallel on the pool; each model's products run inside a task.
    let isa = available_isas()[0];
    let (m, k, n) = NESTED;
    let spec = Spec::dense(m, k, n);
    let want = product_bits::<f64>(isa, Parallelism::Sequential, &spec, 9);
    let two = ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    use rayon::prelude::*;
    let all: Vec<Vec<u64>> = two.install(|| {
        (0..6)
            .into_par_iter()
            .map(|_| product_bits::<f64>(isa, Parallelism::Auto, &spec, 9))
            .collect()
    });
    assert!(all.iter().all(|got| *got == want));
}
