//! Golden values: the forward pass and two steps each of SGD (momentum, Nesterov, weight
//! decay), Adam (L2) and AdamW of a fixed 3→4→3→2 tanh MLP with softmax cross-entropy, in f64,
//! against NumPy. The constants below were printed by this script (NumPy 2.4.6):
//!
//! ```python
//! import numpy as np
//! # Fixed 3-4-3-2 tanh MLP, weights W_l[o, i] = ((7o + 3i + 5l) % 11 - 5) / 10,
//! # biases b_l[o] = ((3o + l) % 5 - 2) / 10, inputs x[r, c] = ((5r + 2c) % 7 - 3) / 4.
//! dims = [(3, 4), (4, 3), (3, 2)]
//! def params():
//!     W = [np.array([[((7*o + 3*i + 5*l) % 11 - 5) / 10 for i in range(fi)] for o in range(fo)]) for l, (fi, fo) in enumerate(dims)]
//!     b = [np.array([((3*o + l) % 5 - 2) / 10 for o in range(fo)]) for l, (fi, fo) in enumerate(dims)]
//!     return W, b
//! x = np.array([[((5*r + 2*c) % 7 - 3) / 4 for c in range(3)] for r in range(4)])
//! y = np.array([0, 1, 1, 0])
//! def forward(W, b):
//!     acts = [x]; a = x
//!     for l in range(3):
//!         z = a @ W[l].T + b[l]
//!         a = np.tanh(z) if l < 2 else z
//!         acts.append(a)
//!     return acts
//! def loss_grad(W, b):
//!     acts = forward(W, b); z = acts[-1]
//!     m = z.max(1, keepdims=True); e = np.exp(z - m); s = e.sum(1, keepdims=True)
//!     loss = np.mean((m + np.log(s))[:, 0] - z[np.arange(4), y])
//!     d = e / s; d[np.arange(4), y] -= 1; d /= 4
//!     gW = [None]*3; gb = [None]*3
//!     for l in (2, 1, 0):
//!         gW[l] = d.T @ acts[l]; gb[l] = d.sum(0)
//!         if l > 0:
//!             d = (d @ W[l]) * (1 - acts[l]**2)
//!     return loss, z, gW, gb
//! W, b = params()
//! loss, z, _, _ = loss_grad(W, b)
//! print("loss", repr(float(loss))); print("logits", [repr(float(v)) for v in z.ravel()])
//! # SGD lr 0.1, momentum 0.9, nesterov, weight_decay 0.01 (PyTorch semantics), two steps.
//! W, b = params(); vW = [np.zeros_like(w) for w in W]; vb = [np.zeros_like(v) for v in b]
//! for t in range(2):
//!     _, _, gW, gb = loss_grad(W, b)
//!     for P, G, V in ((W, gW, vW), (b, gb, vb)):
//!         for l in range(3):
//!             g = G[l] + 0.01 * P[l]
//!             V[l] = 0.9 * V[l] + g
//!             P[l] = P[l] - 0.1 * (g + 0.9 * V[l])
//! print("sgd", [repr(float(v)) for l in range(3) for v in list(W[l].ravel()) + list(b[l].ravel())])
//! # Adam lr 0.01, betas (0.9, 0.999), eps 1e-8, weight_decay 0.1 (L2), two steps.
//! def adam(decoupled):
//!     W, b = params(); m = [[np.zeros_like(p) for p in P] for P in (W, b)]; v = [[np.zeros_like(p) for p in P] for P in (W, b)]
//!     lr, b1, b2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.1
//!     for t in (1, 2):
//!         _, _, gW, gb = loss_grad(W, b)
//!         for k, (P, G) in enumerate(((W, gW), (b, gb))):
//!             for l in range(3):
//!                 if decoupled:
//!                     P[l] = P[l] * (1 - lr * wd); g = G[l]
//!                 else:
//!                     g = G[l] + wd * P[l]
//!                 m[k][l] = b1 * m[k][l] + (1 - b1) * g
//!                 v[k][l] = b2 * v[k][l] + (1 - b2) * g * g
//!                 denom = np.sqrt(v[k][l]) / np.sqrt(1 - b2**t) + eps
//!                 P[l] = P[l] - (lr / (1 - b1**t)) * m[k][l] / denom
//!     return [repr(float(v)) for l in range(3) for v in list(W[l].ravel()) + list(b[l].ravel())]
//! print("adam", adam(False))
//! print("adamw", adam(True))
//! ```

use depthlab_nn::{
    Activation, BatchTargets, Init, Linear, Loss, Matrix, Mlp, MlpConfig, OptimizerConfig, Trainer,
};

const LOSS: f64 = 0.661953101131727;
const LOGITS: [f64; 8] = [
    -0.13658073404563872,
    -0.24464534091934637,
    -0.18608863445490853,
    -0.03858513264017138,
    0.03211507803785505,
    0.03331505191140724,
    -0.17079194880982568,
    -0.17192965246725375,
];
const SGD: [f64; 39] = [
    -0.5325210013111744,
    -0.20167066199101324,
    0.13434409760222488,
    0.20180308434617253,
    0.49672819024171744,
    -0.3007038397342109,
    -0.1636497271719256,
    0.10168568324342292,
    0.3629452793023601,
    0.5294061985070558,
    -0.2906661666522965,
    -0.03459103726446239,
    -0.19090094659535498,
    0.09941339011049062,
    -0.10563680035899084,
    0.18828538554085306,
    0.021431448452169183,
    0.2815741912254203,
    -0.47696046474996423,
    -0.21562115526083298,
    -0.4343046416810519,
    -0.06755935973466458,
    0.16474253220476168,
    0.5223710453453941,
    0.32096810639252493,
    -0.515309790659126,
    -0.17744216304431035,
    0.08211923775269031,
    -0.10013222259535987,
    0.18761550690395337,
    0.0017871671649370374,
    0.466169278526885,
    -0.32535899979777994,
    0.02488122367331736,
    0.131066887473115,
    0.42489836079778,
    -0.4230386676733174,
    0.0009203245284218806,
    -0.1999990465284219,
];
const ADAM: [f64; 39] = [
    -0.5200135668505802,
    -0.18003448482244402,
    0.12001039930813584,
    0.1802049468322628,
    0.4800043868075778,
    -0.2800859649378549,
    -0.18001695131412424,
    0.0800495673023762,
    0.3800130170709184,
    0.5200119923244043,
    -0.28000399074724985,
    -0.020005746637445934,
    -0.18002126158193615,
    0.08006257301626767,
    -0.11899112177101981,
    0.1800093034899247,
    0.019984399541321116,
    0.2800233719588517,
    -0.4800179448876461,
    -0.219965803084908,
    -0.42001291248115785,
    -0.08000747193515799,
    0.18000723949077235,
    0.5193017762601695,
    0.32001223194650025,
    -0.48003556695689964,
    -0.18000317104815083,
    0.07999028760710139,
    -0.08011058855722754,
    0.18001572183446682,
    0.017197851803391638,
    0.48003295460753886,
    -0.3199651908056306,
    0.020002460853356104,
    0.11991142242197465,
    0.4198530283923457,
    -0.42000869346593445,
    0.007929153152470676,
    -0.17999706818007952,
];
const ADAMW: [f64; 39] = [
    -0.5189993808639137,
    -0.21950553757417018,
    0.11980021559644148,
    0.21902733635092445,
    0.4790239131721497,
    -0.3185711787686655,
    -0.17963192140210418,
    0.11974776759544392,
    0.3792280909832596,
    0.5189964308174815,
    -0.27941318674322135,
    -0.019997390598852874,
    -0.17970383572028178,
    0.07984715369630047,
    -0.11965814784934262,
    0.17964360116109376,
    0.01998144519221654,
    0.2794172721225385,
    -0.47904549303903327,
    -0.21958751925418843,
    -0.41920094294866567,
    -0.07980044387246325,
    0.1796162088481578,
    0.5190038042608366,
    0.3194019368499716,
    -0.5190021557974019,
    -0.17961027479591904,
    0.07979678389430145,
    -0.11883330031478762,
    0.17969804117968108,
    0.01653664151615063,
    0.47905919020690785,
    -0.31939857295013496,
    0.02000330337899595,
    0.11974140979309214,
    0.4191986729501351,
    -0.41920370337899593,
    0.005634576304599559,
    -0.20523477630459963,
];

const DIMS: [(usize, usize); 3] = [(3, 4), (4, 3), (3, 2)];
const LABELS: [usize; 4] = [0, 1, 1, 0];

fn fixed_mlp() -> Mlp<f64> {
    let cfg = MlpConfig {
        input: 3,
        hidden: vec![4, 3],
        output: 2,
        activation: Activation::Tanh,
        init: Init::PyTorch,
        bias: true,
    };
    let layers = DIMS
        .iter()
        .enumerate()
        .map(|(l, &(fi, fo))| {
            let w = Matrix::from_fn(fo, fi, |o, i| {
                (((7 * o + 3 * i + 5 * l) % 11) as f64 - 5.0) / 10.0
            });
            let b = (0..fo)
                .map(|o| (((3 * o + l) % 5) as f64 - 2.0) / 10.0)
                .collect();
            Linear::new(w, Some(b)).unwrap()
        })
        .collect();
    Mlp::from_layers(cfg, layers).unwrap()
}

fn inputs() -> Matrix<f64> {
    Matrix::from_fn(4, 3, |r, c| (((5 * r + 2 * c) % 7) as f64 - 3.0) / 4.0)
}

/// All parameters in the script's order: per layer, weight row-major then bias.
fn flat(model: &Mlp<f64>) -> Vec<f64> {
    model
        .layers()
        .iter()
        .flat_map(|l| {
            l.weight()
                .as_slice()
                .iter()
                .chain(l.bias().unwrap())
                .copied()
        })
        .collect()
}

fn assert_all_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
            "{what}[{k}]: got {g:e}, NumPy {w:e}"
        );
    }
}

fn two_steps(opt: OptimizerConfig) -> Vec<f64> {
    let mut model = fixed_mlp();
    let x = inputs();
    let mut trainer = Trainer::new(&model, 4, Loss::SoftmaxCrossEntropy, opt).unwrap();
    let first = trainer
        .step(&mut model, &x, BatchTargets::Classes(&LABELS))
        .unwrap();
    assert!(
        (first - LOSS).abs() < 1e-14,
        "loss of the first step {first} vs {LOSS}"
    );
    trainer
        .step(&mut model, &x, BatchTargets::Classes(&LABELS))
        .unwrap();
    flat(&model)
}

#[test]
fn forward_pass_matches_numpy() {
    // The fixed weights in the script: the first weight of layer 0 is (0 % 11 - 5)/10.
    assert_eq!(fixed_mlp().layers()[0].weight().get(0, 0), Some(-0.5));
    assert_eq!(inputs().get(0, 0), Some(-0.75));
    let model = fixed_mlp();
    let out = model.predict(&inputs()).unwrap();
    assert_all_close("logits", out.as_slice(), &LOGITS);
    let loss = Loss::SoftmaxCrossEntropy
        .evaluate(out.as_slice(), 2, BatchTargets::Classes(&LABELS), None)
        .unwrap();
    assert!((loss - LOSS).abs() < 1e-14, "{loss} vs {LOSS}");
}

#[test]
fn sgd_nesterov_momentum_weight_decay_steps_match_numpy() {
    let opt = OptimizerConfig::Sgd {
        lr: 0.1,
        momentum: 0.9,
        nesterov: true,
        weight_decay: 0.01,
    };
    assert_all_close("sgd", &two_steps(opt), &SGD);
}

#[test]
fn adam_steps_match_numpy() {
    let opt = OptimizerConfig::Adam {
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.1,
    };
    assert_all_close("adam", &two_steps(opt), &ADAM);
}

#[test]
fn adamw_steps_match_numpy() {
    let opt = OptimizerConfig::AdamW {
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.1,
    };
    assert_all_close("adamw", &two_steps(opt), &ADAMW);
}

#[test]
fn f32_model_tracks_the_f64_golden_values() {
    let model = fixed_mlp().cast::<f32>();
    let out = model.predict(&inputs().cast::<f32>()).unwrap();
    for (g, w) in out.as_slice().iter().zip(LOGITS) {
        assert!((f64::from(*g) - w).abs() < 1e-6, "{g} vs {w}");
    }
}

#[test]
fn fused_plain_sgd_equals_gradient_then_update() {
    let x = inputs();
    let opt = OptimizerConfig::Sgd {
        lr: 0.1,
        momentum: 0.0,
        nesterov: false,
        weight_decay: 0.01,
    };
    let run = |fuse: bool| {
        let mut model = fixed_mlp();
        let mut trainer = Trainer::new(&model, 4, Loss::SoftmaxCrossEntropy, opt).unwrap();
        trainer.set_fuse_sgd(fuse);
        for _ in 0..2 {
            trainer
                .step(&mut model, &x, BatchTargets::Classes(&LABELS))
                .unwrap();
        }
        (model, trainer)
    };
    let (fused, fused_trainer) = run(true);
    let (plain, plain_trainer) = run(false);
    assert!(fused_trainer.gradients(0).is_none());
    assert!(plain_trainer.gradients(0).is_some());
    assert_all_close("fused sgd", &flat(&fused), &flat(&plain));
    assert_ne!(flat(&fused), flat(&fixed_mlp()));

    // And one unfused step is θ - η(g + λθ) with the gradients it reports.
    let mut model = fixed_mlp();
    let mut trainer = Trainer::new(&model, 4, Loss::SoftmaxCrossEntropy, opt).unwrap();
    trainer.set_fuse_sgd(false);
    trainer
        .step(&mut model, &x, BatchTargets::Classes(&LABELS))
        .unwrap();
    let before = fixed_mlp();
    for l in 0..3 {
        let (dw, db) = trainer.gradients(l).unwrap();
        let want: Vec<f64> = before.layers()[l]
            .weight()
            .as_slice()
            .iter()
            .zip(dw.as_slice())
            .chain(before.layers()[l].bias().unwrap().iter().zip(db))
            .map(|(p, g)| p - 0.1 * (g + 0.01 * p))
            .collect();
        let got: Vec<f64> = model.layers()[l]
            .weight()
            .as_slice()
            .iter()
            .chain(model.layers()[l].bias().unwrap())
            .copied()
            .collect();
        assert_all_close(&format!("layer {l}"), &got, &want);
    }
}
