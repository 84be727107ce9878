//! The ViT's backward pass against central finite differences, its semantics against timm's
//! (patch order, mean pooling before `fc_norm`, head masks), and its parameter count.

mod common;

use ndarray::{Array1, Array2};
use pruneplay::model::vit::{GateGradients, Gates, LayerNorm, TOKENS};
use pruneplay::model::{Gradients, Network, Vit, VitConfig, softmax_cross_entropy};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::Normal;

/// D = 8, two heads of 4, two blocks, 16 hidden units.
fn tiny_config() -> VitConfig {
    VitConfig {
        dim: 8,
        depth: 2,
        heads: 2,
        mlp_ratio: 2.0,
    }
}

/// A tiny ViT far from its initialisation: weights with std 0.3 (so attention is far from
/// uniform and GELU far from linear), random biases, LayerNorm weights around 1.
fn tiny_model(seed: u64) -> Vit {
    let (mut model, mut rng) = common::random_vit(&tiny_config(), seed);
    let normal = |std: f64| Normal::new(0.0, std).unwrap();
    for (k, mut t) in model.others_mut().into_iter().enumerate() {
        // others: pos_embed, then (weight, bias) pairs of LayerNorms.
        let (mean, std) = if k > 0 && k % 2 == 1 {
            (1.0, 0.3)
        } else {
            (0.0, 0.3)
        };
        t.mapv_inplace(|_| mean + rng.sample(normal(std)) as f32);
    }
    model
}

fn images(n: usize, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_simple_fn((n, 784), || rng.random_range(0.0f32..1.0))
}

/// Mean cross-entropy in f64 from the (f32) logits.
fn loss_of(logits: &Array2<f32>, y: &[u8]) -> f64 {
    let mut total = 0.0;
    for (row, &label) in logits.rows().into_iter().zip(y) {
        let max = row
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        let lse = row
            .iter()
            .map(|&v| (f64::from(v) - max).exp())
            .sum::<f64>()
            .ln()
            + max;
        total += lse - f64::from(row[usize::from(label)]);
    }
    total / y.len() as f64
}

fn loss(model: &Vit, x: &Array2<f32>, y: &[u8], gates: &Gates) -> f64 {
    loss_of(&model.logits_gated(x.view(), gates), y)
}

/// Central-difference step and tolerance. The loss comes from f32 logits (rounding ≈ 1e-7 of
/// values of order 1, so ≈ 2e-5 in the difference quotient at h = 3e-3), and the O(h²)
/// truncation term is smaller still: the worst entries seen differ by 2e-5 absolute and 0.15%
/// relative (on |g| > 1e-2), so this tolerance leaves a margin of about 5.
const H: f32 = 3e-3;
fn tolerance(analytic: f64) -> f64 {
    1e-4 + 1e-2 * analytic.abs()
}

fn assert_close(what: &str, numeric: f64, analytic: f64) {
    if std::env::var_os("VIT_FD_VERBOSE").is_some() {
        eprintln!("{what}: numeric {numeric:.6}, analytic {analytic:.6}");
    }
    assert!(
        (numeric - analytic).abs() <= tolerance(analytic),
        "{what}: numeric {numeric}, analytic {analytic}"
    );
}

/// Entries to check in a tensor of `len` entries with gradient `grad`: 10 random ones, the one
/// with the largest |gradient|, and any `extra`.
fn sample(len: usize, grad: &[f32], extra: &[usize], rng: &mut impl Rng) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..10.min(len)).map(|_| rng.random_range(0..len)).collect();
    let largest = (0..len)
        .max_by(|&a, &b| grad[a].abs().total_cmp(&grad[b].abs()))
        .unwrap();
    idx.push(largest);
    idx.extend_from_slice(extra);
    idx
}

/// Which tensor of the model a gradient belongs to.
#[derive(Clone, Copy, Debug)]
enum Param {
    Weight(usize),
    Bias(usize),
    Other(usize),
}

fn tensor_mut(model: &mut Vit, p: Param) -> Vec<&mut f32> {
    match p {
        Param::Weight(l) => model.linears_mut()[l].weight.iter_mut().collect(),
        Param::Bias(l) => model.linears_mut()[l].bias.iter_mut().collect(),
        Param::Other(k) => model.others_mut().swap_remove(k).into_iter().collect(),
    }
}

fn gradient(g: &Gradients, p: Param) -> Vec<f32> {
    match p {
        Param::Weight(l) => g.weight[l].iter().copied().collect(),
        Param::Bias(l) => g.bias[l].iter().copied().collect(),
        Param::Other(k) => g.other[k].iter().copied().collect(),
    }
}

/// The tiny model with some pruning: half of block 0's fc1 weights and head 0 of block 1.
fn masked_tiny_model() -> Vit {
    let mut model = tiny_model(7);
    let fc1 = Vit::fc1(0);
    let (rows, cols) = model.linears()[fc1].weight.dim();
    let mask = Array2::from_shape_fn((rows, cols), |(r, c)| ((r + c) % 2) as f32);
    model.linears_mut()[fc1].set_mask(mask).unwrap();
    model.set_head_mask(1, &[0.0, 1.0]).unwrap();
    model
}

#[test]
fn gradients_match_finite_differences() {
    let model = masked_tiny_model();
    let x = images(3, 11);
    let y = [3u8, 7, 1];
    let ones = Gates::ones(model.config());
    let (_, _, grads, gate_grads) = model.loss_and_all_gradients(x.view(), &y);
    let mut rng = ChaCha8Rng::seed_from_u64(5);

    let names = model.linear_names();
    let others: Vec<String> = model.others().into_iter().map(|(n, _)| n).collect();
    let mut params = Vec::new();
    for (l, name) in names.iter().enumerate() {
        params.push((format!("{name}.weight"), Param::Weight(l)));
        params.push((format!("{name}.bias"), Param::Bias(l)));
    }
    for (k, name) in others.iter().enumerate() {
        params.push((name.clone(), Param::Other(k)));
    }
    assert_eq!(params.len(), 2 * (2 + 4 * 2) + 1 + 4 * 2 + 2);

    let mut checked = 0;
    for (name, p) in params {
        let g = gradient(&grads, p);
        let mut probe = model.clone();
        assert_eq!(
            g.len(),
            tensor_mut(&mut probe, p).len(),
            "{name}: gradient shape"
        );
        // Include a pruned weight: its gradient is the dense one, not zero.
        let extra: Vec<usize> = match p {
            Param::Weight(l) if l == Vit::fc1(0) => vec![0, 2],
            _ => vec![],
        };
        for i in sample(g.len(), &g, &extra, &mut rng) {
            let mut plus = model.clone();
            *tensor_mut(&mut plus, p).swap_remove(i) += H;
            let mut minus = model.clone();
            *tensor_mut(&mut minus, p).swap_remove(i) -= H;
            let numeric =
                (loss(&plus, &x, &y, &ones) - loss(&minus, &x, &y, &ones)) / (2.0 * f64::from(H));
            assert_close(&format!("{name}[{i}]"), numeric, f64::from(g[i]));
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked} entries checked");

    // Gates: every ξ and every γ.
    for block in 0..2 {
        for head in 0..2 {
            let mut plus = ones.clone();
            plus.head[block][head] += H;
            let mut minus = ones.clone();
            minus.head[block][head] -= H;
            let numeric =
                (loss(&model, &x, &y, &plus) - loss(&model, &x, &y, &minus)) / (2.0 * f64::from(H));
            let analytic = f64::from(gate_grads.head[block][head]);
            assert_close(&format!("ξ[{block}][{head}]"), numeric, analytic);
        }
        let mut plus = ones.clone();
        plus.block[block] += H;
        let mut minus = ones.clone();
        minus.block[block] -= H;
        let numeric =
            (loss(&model, &x, &y, &plus) - loss(&model, &x, &y, &minus)) / (2.0 * f64::from(H));
        assert_close(
            &format!("γ[{block}]"),
            numeric,
            f64::from(gate_grads.block[block]),
        );
    }
    assert_per_image_gates(&model, &x, &y, &gate_grads);
}

/// Per-image gate gradients are those of each image's own loss, and average to the batch's.
fn assert_per_image_gates(model: &Vit, x: &Array2<f32>, y: &[u8], g: &GateGradients) {
    let n = y.len();
    for block in 0..2 {
        let mean = g.head_per_image[block].mean_axis(ndarray::Axis(0)).unwrap();
        for (a, b) in mean.iter().zip(&g.head[block]) {
            assert!((a - b).abs() <= 1e-6 + 1e-4 * b.abs(), "mean {a} vs {b}");
        }
        let mean = g.block_per_image.column(block).mean().unwrap();
        assert!((mean - g.block[block]).abs() <= 1e-6 + 1e-4 * g.block[block].abs());
    }
    for img in 0..n {
        let alone = model.gate_gradients(x.slice(ndarray::s![img..img + 1, ..]), &y[img..img + 1]);
        for block in 0..2 {
            for head in 0..2 {
                let (a, b) = (
                    g.head_per_image[block][[img, head]],
                    alone.head[block][head],
                );
                assert!(
                    (a - b).abs() <= 1e-5 + 1e-3 * b.abs(),
                    "image {img}: {a} vs {b}"
                );
            }
            let (a, b) = (g.block_per_image[[img, block]], alone.block[block]);
            assert!(
                (a - b).abs() <= 1e-5 + 1e-3 * b.abs(),
                "image {img}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn masked_head_gets_exactly_zero_gradient() {
    let model = masked_tiny_model();
    let x = images(4, 12);
    let y = [0u8, 1, 2, 3];
    let (_, _, grads, gates) = model.loss_and_all_gradients(x.view(), &y);
    let (dim, d) = (8, 4);
    // Head 0 of block 1: its q, k and v rows of qkv, and its columns of proj.
    let qkv = Vit::qkv(1);
    for chunk in 0..3 {
        for r in chunk * dim..chunk * dim + d {
            assert!(
                grads.weight[qkv].row(r).iter().all(|&g| g == 0.0),
                "qkv row {r}"
            );
            assert_eq!(grads.bias[qkv][r], 0.0, "qkv bias {r}");
        }
        // The kept head's rows do get gradient.
        assert!(
            grads.weight[qkv]
                .row(chunk * dim + d)
                .iter()
                .any(|&g| g != 0.0)
        );
    }
    let proj = Vit::proj(1);
    for c in 0..d {
        assert!(
            grads.weight[proj].column(c).iter().all(|&g| g == 0.0),
            "proj col {c}"
        );
        assert!(
            model.linears()[proj]
                .weight
                .column(c)
                .iter()
                .all(|&w| w == 0.0)
        );
        assert!(
            model.linears()[proj]
                .mask
                .column(c)
                .iter()
                .all(|&m| m == 0.0)
        );
    }
    assert_eq!(gates.head[1][0], 0.0);
    assert!(gates.head_per_image[1].column(0).iter().all(|&g| g == 0.0));
    assert_ne!(gates.head[1][1], 0.0);
    // Pruned weights get their dense gradient (the optimizers apply the masks).
    let fc1 = Vit::fc1(0);
    assert!(
        grads.weight[fc1]
            .iter()
            .zip(&model.linears()[fc1].mask)
            .any(|(&g, &m)| m == 0.0 && g != 0.0)
    );
}

#[test]
fn logits_agree_and_linear_inputs_have_the_right_rows() {
    let model = tiny_model(3);
    let x = images(5, 13);
    let y = [1u8, 2, 3, 4, 5];
    let (loss, logits, grads) = model.loss_and_gradients(x.view(), &y);
    assert_eq!(model.logits(x.view()), logits);
    assert_eq!(loss, softmax_cross_entropy(&logits, &y).0);
    assert_eq!(grads.weight.len(), model.linears().len());
    assert_eq!(grads.other.len(), model.others().len());
    for ((_, p), g) in model.others().iter().zip(&grads.other) {
        assert_eq!(p.shape(), g.shape());
    }
    let head = model.head();
    assert_eq!(model.linear_inputs(x.view(), head).dim(), (5, 8));
    assert_eq!(
        model.linear_inputs(x.view(), Vit::qkv(0)).dim(),
        (5 * TOKENS, 8)
    );
    assert_eq!(
        model.linear_inputs(x.view(), Vit::PATCH_EMBED).dim(),
        (5 * TOKENS, 49)
    );
    assert_eq!(
        model.linear_inputs(x.view(), Vit::fc2(1)).dim(),
        (5 * TOKENS, 16)
    );
    // Each layer's recorded input reproduces the next stage: the head's input gives the logits.
    let features = model.linear_inputs(x.view(), head);
    let l = &model.linears()[head];
    let again = features.dot(&l.weight.t()) + &l.bias;
    assert_eq!(again, logits);
}

#[test]
fn patches_follow_timm_order() {
    // Pixel value = its index, so each patch row spells out which pixels it took.
    let x = Array2::from_shape_fn((2, 784), |(i, p)| (i * 1000 + p) as f32);
    let patches = Vit::patches(x.view());
    assert_eq!(patches.dim(), (2 * 16, 49));
    for img in 0..2 {
        for t in 0..16 {
            let (gy, gx) = (t / 4, t % 4);
            for py in 0..7 {
                for px in 0..7 {
                    let pixel = (7 * gy + py) * 28 + 7 * gx + px;
                    assert_eq!(
                        patches[[img * 16 + t, py * 7 + px]],
                        (img * 1000 + pixel) as f32
                    );
                }
            }
        }
    }
}

/// A straightforward f64 transcription of timm's forward pass, token by token.
fn reference_logits(m: &Vit, x: &Array2<f32>) -> Array2<f64> {
    let c = *m.config();
    let (dim, heads, d) = (c.dim, c.heads, c.head_dim());
    let lin = |l: usize, v: &[f64]| -> Vec<f64> {
        let layer = &m.linears()[l];
        (0..layer.outputs())
            .map(|o| {
                f64::from(layer.bias[o])
                    + (0..layer.inputs())
                        .map(|i| f64::from(layer.weight[[o, i]]) * v[i])
                        .sum::<f64>()
            })
            .collect()
    };
    let ln = |p: &LayerNorm, v: &[f64]| -> Vec<f64> {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / v.len() as f64;
        v.iter()
            .enumerate()
            .map(|(j, a)| {
                (a - mean) / (var + 1e-6).sqrt() * f64::from(p.weight[j]) + f64::from(p.bias[j])
            })
            .collect()
    };
    let erf = |z: f64| libm::erf(z);
    let mut out = Array2::zeros((x.nrows(), m.classes()));
    for (b, img) in x.rows().into_iter().enumerate() {
        let mut tokens: Vec<Vec<f64>> = (0..16)
            .map(|t| {
                let (gy, gx) = (t / 4, t % 4);
                let patch: Vec<f64> = (0..49)
                    .map(|p| f64::from(img[(7 * gy + p / 7) * 28 + 7 * gx + p % 7]))
                    .collect();
                let mut e = lin(0, &patch);
                for (j, v) in e.iter_mut().enumerate() {
                    *v += f64::from(m.pos_embed()[[t, j]]);
                }
                e
            })
            .collect();
        for i in 0..c.depth {
            let qkv: Vec<Vec<f64>> = tokens
                .iter()
                .map(|t| lin(Vit::qkv(i), &ln(&m.norm1()[i], t)))
                .collect();
            let mut concat = vec![vec![0.0; dim]; 16];
            for h in 0..heads {
                for t in 0..16 {
                    let scores: Vec<f64> = (0..16)
                        .map(|s| {
                            (0..d)
                                .map(|j| qkv[t][h * d + j] * qkv[s][dim + h * d + j])
                                .sum::<f64>()
                                / (d as f64).sqrt()
                        })
                        .collect();
                    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for j in 0..d {
                        let o: f64 = (0..16)
                            .map(|s| e[s] / z * qkv[s][2 * dim + h * d + j])
                            .sum();
                        concat[t][h * d + j] = o * f64::from(m.head_mask(i)[h]);
                    }
                }
            }
            for t in 0..16 {
                let a = lin(Vit::proj(i), &concat[t]);
                for j in 0..dim {
                    tokens[t][j] += a[j];
                }
                let hidden: Vec<f64> = lin(Vit::fc1(i), &ln(&m.norm2()[i], &tokens[t]))
                    .into_iter()
                    .map(|z| 0.5 * z * (1.0 + erf(z / 2f64.sqrt())))
                    .collect();
                let y = lin(Vit::fc2(i), &hidden);
                for j in 0..dim {
                    tokens[t][j] += y[j];
                }
            }
        }
        let pooled: Vec<f64> = (0..dim)
            .map(|j| tokens.iter().map(|t| t[j]).sum::<f64>() / 16.0)
            .collect();
        let logits = lin(m.head(), &ln(m.fc_norm(), &pooled));
        for (k, v) in logits.into_iter().enumerate() {
            out[[b, k]] = v;
        }
    }
    out
}

#[test]
fn logits_match_a_slow_reference() {
    let mut model = tiny_model(21);
    model.set_head_mask(0, &[1.0, 0.0]).unwrap();
    let x = images(3, 14);
    let fast = model.logits(x.view());
    let slow = reference_logits(&model, &x);
    for (a, b) in fast.iter().zip(&slow) {
        assert!(
            (f64::from(*a) - b).abs() <= 1e-4 * (1.0 + b.abs()),
            "{a} vs {b}"
        );
    }
}

#[test]
fn head_mask_acts_as_zeroed_proj_columns() {
    let base = tiny_model(4);
    let x = images(3, 15);
    let mut masked = base.clone();
    masked.set_head_mask(0, &[0.0, 1.0]).unwrap();
    let mut zeroed = base.clone();
    let proj = Vit::proj(0);
    for c in 0..4 {
        zeroed.linears_mut()[proj].weight.column_mut(c).fill(0.0);
    }
    assert_eq!(masked.logits(x.view()), zeroed.logits(x.view()));
    assert_ne!(masked.logits(x.view()), base.logits(x.view()));
}

#[test]
fn param_count_matches_timm() {
    let model = Vit::seeded(&VitConfig::default(), 0);
    let block = (64 * 192 + 192) + (64 * 64 + 64) + (64 * 128 + 128) + (128 * 64 + 64) + 4 * 64;
    let expected = (49 * 64 + 64) + 16 * 64 + 4 * block + 128 + (64 * 10 + 10);
    assert_eq!(model.param_count(), expected);
    assert_eq!(expected, 138_890);
    assert_eq!(
        model.weight_count(),
        49 * 64 + 4 * (64 * 192 + 64 * 64 + 2 * 64 * 128) + 640
    );
    assert_eq!(model.inputs(), 784);
    assert_eq!(model.classes(), 10);
    assert_eq!(model.spec(), "vit-d64-l4-h4-r2");
}

#[test]
fn names_follow_timm() {
    let mut model = Vit::seeded(&tiny_config(), 0);
    assert_eq!(
        model.linear_names(),
        [
            "patch_embed.proj",
            "blocks.0.attn.qkv",
            "blocks.0.attn.proj",
            "blocks.0.mlp.fc1",
            "blocks.0.mlp.fc2",
            "blocks.1.attn.qkv",
            "blocks.1.attn.proj",
            "blocks.1.mlp.fc1",
            "blocks.1.mlp.fc2",
            "head"
        ]
    );
    let others: Vec<(String, Vec<usize>)> = model
        .others()
        .into_iter()
        .map(|(n, a)| (n, a.shape().to_vec()))
        .collect();
    let mut expected = vec![("pos_embed".to_string(), vec![1, 16, 8])];
    for i in 0..2 {
        for n in ["norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"] {
            expected.push((format!("blocks.{i}.{n}"), vec![8]));
        }
    }
    expected.push(("fc_norm.weight".into(), vec![8]));
    expected.push(("fc_norm.bias".into(), vec![8]));
    assert_eq!(others, expected);
    assert_eq!(model.others_mut().len(), expected.len());
    let groups = model.unit_groups();
    assert_eq!(groups.len(), 2);
    assert_eq!((groups[1].producer, groups[1].consumer), (7, 8));
}

#[test]
fn init_follows_timm() {
    let model = Vit::seeded(&VitConfig::default(), 1);
    assert_eq!(model, Vit::seeded(&VitConfig::default(), 1));
    assert_ne!(model, Vit::seeded(&VitConfig::default(), 2));
    let bound = 1.0 / 7.0;
    let patch = &model.linears()[Vit::PATCH_EMBED];
    assert!(
        patch
            .weight
            .iter()
            .chain(&patch.bias)
            .all(|v| v.abs() <= bound)
    );
    // U(−1/7, 1/7) has std 1/(7√3) ≈ 0.082.
    let std = |a: &[f32]| (a.iter().map(|v| v * v).sum::<f32>() / a.len() as f32).sqrt();
    assert!((std(patch.weight.as_slice().unwrap()) - 0.0825).abs() < 0.005);
    for l in &model.linears()[1..] {
        assert!(l.bias.iter().all(|&b| b == 0.0));
        assert!((std(l.weight.as_slice().unwrap()) - 0.02).abs() < 0.002);
    }
    assert!((std(model.pos_embed().as_slice().unwrap()) - 0.02).abs() < 0.004);
    for ln in model
        .norm1()
        .iter()
        .chain(model.norm2())
        .chain([model.fc_norm()])
    {
        assert!(ln.weight.iter().all(|&w| w == 1.0) && ln.bias.iter().all(|&b| b == 0.0));
    }
}

#[test]
fn from_parts_checks_shapes() {
    let m = Vit::seeded(&tiny_config(), 0);
    let parts = |m: &Vit| {
        (
            m.linears().to_vec(),
            m.pos_embed().clone(),
            m.norm1().to_vec(),
            m.norm2().to_vec(),
            m.fc_norm().clone(),
            (0..2).map(|i| m.head_mask(i).clone()).collect::<Vec<_>>(),
        )
    };
    let (l, p, n1, n2, f, h) = parts(&m);
    let back = Vit::from_parts(tiny_config(), l, p, n1, n2, f, h).unwrap();
    assert_eq!(back, m);

    let (mut l, p, n1, n2, f, h) = parts(&m);
    l[Vit::fc1(1)].weight = Array2::zeros((3, 8));
    let err = Vit::from_parts(tiny_config(), l, p, n1, n2, f, h).unwrap_err();
    assert!(err.to_string().contains("blocks.1.mlp.fc1.weight"), "{err}");

    let (l, _, n1, n2, f, h) = parts(&m);
    let err = Vit::from_parts(tiny_config(), l, Array2::zeros((16, 4)), n1, n2, f, h).unwrap_err();
    assert!(err.to_string().contains("pos_embed"), "{err}");

    let (l, p, mut n1, n2, f, h) = parts(&m);
    n1[1].bias = Array1::zeros(3);
    let err = Vit::from_parts(tiny_config(), l, p, n1, n2, f, h).unwrap_err();
    assert!(err.to_string().contains("blocks.1.norm1"), "{err}");

    let (l, p, n1, n2, f, mut h) = parts(&m);
    h[0] = Array1::from(vec![0.0, 1.0]);
    let masked = Vit::from_parts(tiny_config(), l, p, n1, n2, f, h).unwrap();
    assert!(
        masked.linears()[Vit::proj(0)]
            .mask
            .column(0)
            .iter()
            .all(|&v| v == 0.0)
    );
}
