//! Elements/s of every activation's forward and backward pass over 65,536 `f32` values (one
//! W3 hidden layer's batch), per element through `Activation::value`/`derivative` in a loop
//! and per slice through `forward_slice`/`backward_slice` (as the layers run them, and as
//! `benches/layers.rs` times them), to show what the slice passes gain:
//! `flock /tmp/bench.lock cargo run --release -p depthlab-nn --example activation_timing`

use std::hint::black_box;
use std::time::Instant;

use depthlab_nn::{Activation, NnError};

const N: usize = 1 << 16;

/// Median elements/s of `f` over 15 runs of about 20 ms.
fn rate(mut f: impl FnMut()) -> f64 {
    let mut reps = 1usize;
    loop {
        let t0 = Instant::now();
        for _ in 0..reps {
            f();
        }
        if t0.elapsed().as_secs_f64() > 0.02 {
            break;
        }
        reps *= 2;
    }
    let mut times: Vec<f64> = (0..15)
        .map(|_| {
            let t0 = Instant::now();
            for _ in 0..reps {
                f();
            }
            t0.elapsed().as_secs_f64() / reps as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    N as f64 / times[times.len() / 2]
}

fn main() -> Result<(), NnError> {
    // z in [-4, 4), a fixed pseudo-random pattern; dy in [-1, 1).
    let z: Vec<f32> = (0..N)
        .map(|i| ((i * 7919 % 8192) as f32 / 1024.0) - 4.0)
        .collect();
    let dy: Vec<f32> = (0..N)
        .map(|i| ((i * 104_729 % 2048) as f32 / 1024.0) - 1.0)
        .collect();
    println!(
        "{:<12} {:>10} {:>10} {:>10} {:>10}  (M elements/s)",
        "", "fwd elem", "fwd slice", "bwd elem", "bwd slice"
    );
    for act in Activation::ALL {
        let a: Vec<f32> = z.iter().map(|&v| act.value(v)).collect();
        let mut out = vec![0.0f32; N];
        let fwd_elem = rate(|| {
            for (o, &zi) in out.iter_mut().zip(black_box(&z)) {
                *o = act.value(zi);
            }
        });
        let fwd_slice = rate(|| act.forward_slice(black_box(&z), &mut out).unwrap_or(()));
        let bwd_elem = rate(|| {
            for (((o, &zi), &ai), &gi) in out.iter_mut().zip(black_box(&z)).zip(&a).zip(&dy) {
                *o = gi * act.derivative(zi, ai);
            }
        });
        let bwd_slice = rate(|| {
            out.copy_from_slice(black_box(&dy));
            act.backward_slice(&z, &a, &mut out).unwrap_or(());
        });
        black_box(&out);
        println!(
            "{:<12} {:>10.0} {:>10.0} {:>10.0} {:>10.0}",
            act.base_name(),
            fwd_elem / 1e6,
            fwd_slice / 1e6,
            bwd_elem / 1e6,
            bwd_slice / 1e6
        );
    }
    Ok(())
}
