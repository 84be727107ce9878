#![allow(clippy::needless_range_loop)] // Indices name blocks and heads, as in the formulas.
//! Head and block pruning on the ViT: each method's scores against an independent computation,
//! the selection's counts and tie rules, and compaction (the smaller model computes what the
//! masked one does, in memory and through a checkpoint, in timm's qkv layout).

mod common;

use ndarray::{Array1, Array2, s};
use pruneplay::checkpoint;
use pruneplay::model::vit::Gates;
use pruneplay::model::{Blocks, Model, Network, Vit, VitConfig, softmax_cross_entropy};
use pruneplay::prune::calibration::Calibration;
use pruneplay::prune::vit_compaction::compact;
use pruneplay::prune::{self, Method, PruneOptions, Scope, Scores};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// D = 8, two heads of 4, three blocks, 16 hidden units.
fn config() -> VitConfig {
    VitConfig {
        dim: 8,
        depth: 3,
        heads: 2,
        mlp_ratio: 2.0,
    }
}

/// A ViT far from its initialisation, so that heads, blocks and units all matter.
fn model(config: &VitConfig, seed: u64) -> Vit {
    common::random_vit(config, seed).0
}

fn calibration(n: usize, seed: u64) -> Calibration {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Calibration {
        x: Array2::from_shape_simple_fn((n, 784), || rng.random_range(0.0f32..1.0)),
        y: (0..n).map(|_| rng.random_range(0..10u8)).collect(),
    }
}

fn loss(vit: &Vit, c: &Calibration) -> f64 {
    f64::from(softmax_cross_entropy(&vit.logits(c.x.view()), &c.y).0)
}

fn max_diff(a: &Array2<f32>, b: &Array2<f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn head_scores(method: Method, vit: &Vit, c: &Calibration) -> Vec<Array1<f32>> {
    let options = PruneOptions {
        sparsity: 0.5,
        ..PruneOptions::default()
    };
    match prune::scores(method, vit, Some(c), &options).unwrap() {
        Scores::Heads(s) => s,
        other => panic!("{} gave {other:?}", method.name()),
    }
}

fn block_scores(method: Method, vit: &Vit, c: &Calibration, remove: usize) -> Array1<f32> {
    let options = PruneOptions {
        remove,
        ..PruneOptions::default()
    };
    match prune::scores(method, vit, Some(c), &options).unwrap() {
        Scores::Blocks(s) => s,
        other => panic!("{} gave {other:?}", method.name()),
    }
}

#[test]
fn heads_taylor_is_the_normalised_mean_absolute_gate_derivative() {
    let vit = model(&config(), 1);
    let c = calibration(6, 2);
    let got = head_scores(Method::HeadsTaylor, &vit, &c);
    // Central differences of each image's own loss in its gate, in f64 from f32 losses.
    let eps = 1e-2f32;
    for b in 0..3 {
        let mut raw = [0.0f64; 2];
        for (h, r) in raw.iter_mut().enumerate() {
            for i in 0..c.x.nrows() {
                let x = c.x.slice(s![i..i + 1, ..]);
                let y = &c.y[i..i + 1];
                let at = |v: f32| {
                    let mut g = Gates::of(&vit);
                    g.head[b][h] = v;
                    f64::from(vit.loss_with_gates(x, y, &g))
                };
                *r += ((at(1.0 + eps) - at(1.0 - eps)) / (2.0 * f64::from(eps))).abs();
            }
            *r /= c.x.nrows() as f64;
        }
        let norm = (raw[0] * raw[0] + raw[1] * raw[1]).sqrt();
        for h in 0..2 {
            let want = raw[h] / norm;
            assert!(
                (f64::from(got[b][h]) - want).abs() < 2e-3,
                "block {b} head {h}: {} vs {want}",
                got[b][h]
            );
        }
    }
}

#[test]
fn heads_ablation_is_the_loss_increase_of_masking_that_head_alone() {
    let vit = model(&config(), 3);
    let c = calibration(8, 4);
    let got = head_scores(Method::HeadsAblation, &vit, &c);
    let base = loss(&vit, &c);
    for b in 0..3 {
        for h in 0..2 {
            let mut masked = vit.clone();
            let mut m = vec![1.0; 2];
            m[h] = 0.0;
            masked.set_head_mask(b, &m).unwrap();
            let want = loss(&masked, &c) - base;
            assert!(
                (f64::from(got[b][h]) - want).abs() < 1e-5,
                "block {b} head {h}: {} vs {want}",
                got[b][h]
            );
        }
    }
}

#[test]
fn heads_magnitude_is_the_norm_of_everything_the_head_owns() {
    let vit = model(&config(), 5);
    let got = head_scores(Method::HeadsMagnitude, &vit, &calibration(1, 0));
    let (d, width) = (4, 8);
    for b in 0..3 {
        let qkv = &vit.linears()[Vit::qkv(b)].weight;
        let proj = &vit.linears()[Vit::proj(b)].weight;
        for h in 0..2 {
            let mut sq = 0.0f64;
            for c in h * d..(h + 1) * d {
                for row in [c, width + c, 2 * width + c] {
                    sq += qkv
                        .row(row)
                        .iter()
                        .map(|&w| f64::from(w).powi(2))
                        .sum::<f64>();
                }
                sq += proj
                    .column(c)
                    .iter()
                    .map(|&w| f64::from(w).powi(2))
                    .sum::<f64>();
            }
            let want = (sq / d as f64).sqrt();
            assert!((f64::from(got[b][h]) - want).abs() < 1e-4 * want.max(1.0));
        }
    }
}

#[test]
fn head_selection_counts_as_pytorch_and_breaks_ties_to_the_lower_index() {
    let vit = model(
        &VitConfig {
            dim: 16,
            depth: 4,
            heads: 4,
            mlp_ratio: 1.0,
        },
        7,
    );
    let c = calibration(4, 8);
    let kept = |v: &Vit| -> Vec<usize> {
        (0..v.depth())
            .map(|b| v.head_mask(b).iter().filter(|&&m| m != 0.0).count())
            .collect()
    };
    for (scope, s, want) in [
        (Scope::Global, 0.25, 12),
        (Scope::Global, 0.125, 14),   // round(2.0)
        (Scope::Global, 0.09375, 14), // round(1.5) = 2, halves to even
        (Scope::Global, 0.15625, 14), // round(2.5) = 2
        (Scope::PerBlock, 0.25, 12),
        (Scope::PerBlock, 0.5, 8),
    ] {
        for method in Method::HEADS {
            for rounds in [1, 3] {
                let mut v = vit.clone();
                let options = PruneOptions {
                    sparsity: s,
                    scope,
                    rounds,
                    ..PruneOptions::default()
                };
                prune::prune(method, &mut v, Some(&c), &options).unwrap();
                let per_block = kept(&v);
                assert_eq!(
                    per_block.iter().sum::<usize>(),
                    want,
                    "{} {scope:?} {s} x{rounds}: {per_block:?}",
                    method.name()
                );
                if scope == Scope::PerBlock {
                    assert!(per_block.iter().all(|&k| k == want / 4), "{per_block:?}");
                }
            }
        }
    }
    // Equal scores go lowest index first: make every head of every block alike.
    let mut same = vit.clone();
    let q = same.linears()[Vit::qkv(0)]
        .weight
        .slice(s![0..4, ..])
        .to_owned();
    let p = same.linears()[Vit::proj(0)]
        .weight
        .slice(s![.., 0..4])
        .to_owned();
    for b in 0..4 {
        let qkv = &mut same.linears_mut()[Vit::qkv(b)].weight;
        for row in 0..48 {
            qkv.row_mut(row).assign(&q.row(row % 4));
        }
        let proj = &mut same.linears_mut()[Vit::proj(b)].weight;
        for h in 0..4 {
            proj.slice_mut(s![.., h * 4..h * 4 + 4]).assign(&p);
        }
    }
    let gone = |scope| {
        let mut v = same.clone();
        let options = PruneOptions {
            sparsity: 0.25,
            scope,
            ..PruneOptions::default()
        };
        prune::prune(Method::HeadsMagnitude, &mut v, None, &options).unwrap();
        (0..4)
            .flat_map(|b| (0..4).map(move |h| (b, h)))
            .filter(|&(b, h)| v.head_mask(b)[h] == 0.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(gone(Scope::Global), [(0, 0), (0, 1), (0, 2), (0, 3)]);
    assert_eq!(gone(Scope::PerBlock), [(0, 0), (1, 0), (2, 0), (3, 0)]);
}

#[test]
fn bad_head_and_layer_settings_are_refused_clearly() {
    let vit = model(&config(), 9);
    let c = calibration(2, 0);
    let err = |method, options: PruneOptions, model: &dyn Fn() -> Model| {
        prune::scores(method, &model(), Some(&c), &options)
            .unwrap_err()
            .to_string()
    };
    let v = || Model::from(vit.clone());
    let e = err(
        Method::HeadsTaylor,
        PruneOptions {
            sparsity: 0.05,
            ..PruneOptions::default()
        },
        &v,
    );
    assert!(e.contains("removes no head"), "{e}");
    let e = err(
        Method::LayersBi,
        PruneOptions {
            remove: 3,
            ..PruneOptions::default()
        },
        &v,
    );
    assert!(e.contains("at least the depth"), "{e}");
    let mlp = || {
        Model::from(pruneplay::model::Mlp::seeded(
            &"784-8-10".parse().unwrap(),
            pruneplay::model::Init::Glorot,
            0,
        ))
    };
    let e = err(
        Method::HeadsMagnitude,
        PruneOptions {
            sparsity: 0.5,
            ..PruneOptions::default()
        },
        &mlp,
    );
    assert!(e.contains("attention heads") && e.contains("mlp"), "{e}");
    let e = err(
        Method::LayersLast,
        PruneOptions {
            remove: 1,
            ..PruneOptions::default()
        },
        &mlp,
    );
    assert!(e.contains("whole blocks"), "{e}");
}

#[test]
fn block_influence_is_one_minus_the_mean_token_cosine() {
    let vit = model(&config(), 11);
    let c = calibration(5, 12);
    let got = block_scores(Method::LayersBi, &vit, &c, 1);
    // Independently: a block's input and output are the logits-free residual streams of the
    // model cut after block l−1 and after block l, which the removed-block model gives too.
    let streams = vit.residual_streams(c.x.view());
    for l in 0..3 {
        let (a, b) = (&streams[l], &streams[l + 1]);
        let mut sum = 0.0f64;
        for (u, v) in a.rows().into_iter().zip(b.rows()) {
            let dot: f64 = u
                .iter()
                .zip(v)
                .map(|(x, y)| f64::from(*x) * f64::from(*y))
                .sum();
            let nu: f64 = u.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
            let nv: f64 = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
            sum += dot / (nu * nv);
        }
        let want = 1.0 - sum / a.nrows() as f64;
        assert!(
            (f64::from(got[l]) - want).abs() < 1e-5,
            "{l}: {} vs {want}",
            got[l]
        );
    }
    // A removed block passes its input through: its output stream is its input.
    let mut cut = vit.clone();
    cut.set_removed_blocks(&[false, true, false]).unwrap();
    let streams = cut.residual_streams(c.x.view());
    assert_eq!(streams[1], streams[2]);
    assert_eq!(block_scores(Method::LayersBi, &cut, &c, 1)[1], 0.0);
}

#[test]
fn block_ablation_and_taylor_match_their_definitions() {
    let vit = model(&config(), 13);
    let c = calibration(6, 14);
    let ablation = block_scores(Method::LayersAblation, &vit, &c, 1);
    let taylor = block_scores(Method::LayersTaylor, &vit, &c, 1);
    let base = loss(&vit, &c);
    let eps = 1e-2f32;
    for l in 0..3 {
        let mut removed = [false; 3];
        removed[l] = true;
        let mut cut = vit.clone();
        cut.set_removed_blocks(&removed).unwrap();
        let want = loss(&cut, &c) - base;
        assert!((f64::from(ablation[l]) - want).abs() < 1e-5);
        let mut t = 0.0f64;
        for i in 0..c.x.nrows() {
            let x = c.x.slice(s![i..i + 1, ..]);
            let y = &c.y[i..i + 1];
            let at = |v: f32| {
                let mut g = Gates::of(&vit);
                g.block[l] = v;
                f64::from(vit.loss_with_gates(x, y, &g))
            };
            t += ((at(1.0 + eps) - at(1.0 - eps)) / (2.0 * f64::from(eps))).abs();
        }
        let want = t / c.x.nrows() as f64;
        assert!(
            (f64::from(taylor[l]) - want).abs() < 2e-3 * want.max(1.0),
            "{l}: {} vs {want}",
            taylor[l]
        );
    }
}

#[test]
fn layer_selection_drops_the_lowest_or_the_deepest_or_a_contiguous_window() {
    let vit = model(
        &VitConfig {
            dim: 8,
            depth: 5,
            heads: 2,
            mlp_ratio: 1.0,
        },
        15,
    );
    let c = calibration(4, 16);
    let removed = |method, n| {
        let mut v = vit.clone();
        let options = PruneOptions {
            remove: n,
            ..PruneOptions::default()
        };
        prune::prune(method, &mut v, Some(&c), &options).unwrap();
        v.removed_blocks().to_vec()
    };
    assert_eq!(
        removed(Method::LayersLast, 2),
        [false, false, false, true, true]
    );
    for n in 1..5 {
        let r = removed(Method::LayersAngular, n);
        let first = r.iter().position(|&x| x).unwrap();
        assert_eq!(r.iter().filter(|&&x| x).count(), n);
        assert!(r[first..first + n].iter().all(|&x| x), "{r:?}");
        let d = block_scores(Method::LayersAngular, &vit, &c, n);
        assert_eq!(d.len(), 5 - n + 1);
        let best = (0..d.len())
            .min_by(|&a, &b| d[a].total_cmp(&d[b]).then(a.cmp(&b)))
            .unwrap();
        assert_eq!(first, best);
    }
    let bi = block_scores(Method::LayersBi, &vit, &c, 2);
    let mut order: Vec<usize> = (0..5).collect();
    order.sort_by(|&a, &b| bi[a].total_cmp(&bi[b]).then(a.cmp(&b)));
    let r = removed(Method::LayersBi, 2);
    for (b, &x) in r.iter().enumerate() {
        assert_eq!(x, order[..2].contains(&b), "{r:?} from {bi:?}");
    }
}

/// Masks two heads (one block loses both), removes a block and a third of one block's MLP units
/// by `structured-l2`.
fn pruned(seed: u64) -> Vit {
    let mut vit = model(
        &VitConfig {
            dim: 8,
            depth: 4,
            heads: 2,
            mlp_ratio: 2.0,
        },
        seed,
    );
    vit.set_head_mask(0, &[0.0, 1.0]).unwrap();
    vit.set_head_mask(2, &[0.0, 0.0]).unwrap();
    vit.set_removed_blocks(&[false, true, false, false])
        .unwrap();
    prune::prune(
        Method::StructuredL2,
        &mut vit,
        None,
        &PruneOptions {
            sparsity: 0.3,
            ..PruneOptions::default()
        },
    )
    .unwrap();
    vit
}

/// A compacted model can be uniform (here one whole block removed, nothing else): its file still
/// gives every block's shape, which the README's timm loader reads.
#[test]
fn a_uniform_compacted_file_still_gives_each_blocks_shape() {
    let mut vit = model(&config(), 21);
    let c = calibration(8, 22);
    let options = PruneOptions {
        remove: 1,
        ..PruneOptions::default()
    };
    prune::prune(Method::LayersLast, &mut vit, Some(&c), &options).unwrap();
    let small = compact(&vit).unwrap().model;
    let bytes = checkpoint::save(&Model::from(small)).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap();
    assert_eq!(meta["depth"], "2");
    assert_eq!(meta["heads_per_block"], "2,2");
    assert_eq!(meta["mlp_hidden_per_block"], "16,16");
}

#[test]
fn a_compacted_vit_computes_what_the_masked_one_does() {
    let vit = pruned(17);
    let c = calibration(6, 18);
    let small = compact(&vit).unwrap();
    assert_eq!(small.blocks, [0, 2, 3]);
    assert_eq!(small.heads, [vec![1], vec![], vec![0, 1]]);
    let shapes = small.model.block_shapes();
    assert_eq!(
        shapes.iter().map(|s| s.heads).collect::<Vec<_>>(),
        [1, 0, 2]
    );
    // 16 units, round(0.3 × 16) = 5 removed per block.
    assert!(shapes.iter().all(|s| s.hidden == 11), "{shapes:?}");
    assert!(small.model.param_count() < vit.param_count());
    let (want, got) = (vit.logits(c.x.view()), small.model.logits(c.x.view()));
    assert!(max_diff(&want, &got) < 1e-5, "{}", max_diff(&want, &got));

    // timm's layout: the kept heads' q rows, then their k rows, then their v rows.
    let q = &vit.linears()[Vit::qkv(0)].weight;
    let kept = &small.model.linears()[Vit::qkv(0)].weight;
    assert_eq!(kept.dim(), (12, 8));
    for (chunk, start) in [(0, 4), (1, 12), (2, 20)] {
        assert_eq!(
            kept.slice(s![chunk * 4..chunk * 4 + 4, ..]),
            q.slice(s![start..start + 4, ..])
        );
    }

    // Through a checkpoint: the file records the widths, and reloads to the same logits.
    let bytes = checkpoint::save(&Model::from(small.model.clone())).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap();
    assert_eq!(meta["heads_per_block"], "1,0,2");
    assert_eq!(meta["mlp_hidden_per_block"], "11,11,11");
    assert_eq!(meta["head_dim"], "4");
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert!(st.names().iter().all(|n| !n.ends_with("head_mask")));
    let back = checkpoint::load("compacted", &bytes).unwrap();
    let Model::Vit(back) = back else { panic!() };
    assert!(max_diff(&back.logits(c.x.view()), &got) == 0.0);

    // And the gradients of a compacted model (a block with no heads among them) are right:
    // central differences of a few qkv, fc1 and proj weights.
    let m = &small.model;
    let (_, _, grads) = m.loss_and_gradients(c.x.view(), &c.y);
    for (layer, (r, col)) in [
        (Vit::qkv(0), (5, 3)),
        (Vit::fc1(1), (2, 7)),
        (Vit::proj(2), (6, 5)),
    ] {
        let at = |v: f32| {
            let mut p = m.clone();
            p.linears_mut()[layer].weight[[r, col]] = v;
            loss(&p, &c)
        };
        let w = m.linears()[layer].weight[[r, col]];
        let eps = 1e-2;
        let fd = (at(w + eps) - at(w - eps)) / (2.0 * f64::from(eps));
        let g = f64::from(grads.weight[layer][[r, col]]);
        assert!(
            (g - fd).abs() < 2e-3 * fd.abs().max(1.0),
            "{layer}: {g} vs {fd}"
        );
    }
}

#[test]
fn an_uncompacted_file_computes_the_pruned_model_without_its_masks() {
    // What timm sees: the file with every `_mask` key and the metadata's removed_blocks
    // dropped. Removed blocks are identities and removed heads and units contribute nothing
    // through the zeroed weights alone.
    let vit = pruned(19);
    let c = calibration(5, 20);
    let bytes = checkpoint::save(&Model::from(vit.clone())).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    assert_eq!(meta["removed_blocks"], "1");
    meta.remove("removed_blocks");
    let kept: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| !n.ends_with("_mask"))
        .collect();
    let stripped = safetensors::serialize(kept, Some(meta)).unwrap();
    let Model::Vit(plain) = checkpoint::load("timm view", &stripped).unwrap() else {
        panic!()
    };
    assert!(plain.removed_blocks().iter().all(|&r| !r));
    assert!(
        plain
            .head_masks()
            .iter()
            .all(|m| m.iter().all(|&v| v == 1.0))
    );
    let d = max_diff(&vit.logits(c.x.view()), &plain.logits(c.x.view()));
    assert!(d < 1e-5, "{d}");
    // The zeroed tensors are in the file.
    let block1 = vit.linears()[Vit::fc2(1)].bias.clone();
    assert!(block1.iter().all(|&v| v == 0.0));
}

#[test]
fn fine_tuning_keeps_removed_heads_blocks_and_units_removed() {
    use pruneplay::train::{Optimizer, OptimizerConfig};
    let vit = pruned(21);
    let c = calibration(32, 22);
    let mut tuned = vit.clone();
    let mut opt = Optimizer::new(OptimizerConfig::adamw(), &tuned);
    for _ in 0..20 {
        let (_, _, g) = tuned.loss_and_gradients(c.x.view(), &c.y);
        opt.step(&mut tuned, &g);
    }
    assert_ne!(
        tuned.linears()[Vit::qkv(0)].weight,
        vit.linears()[Vit::qkv(0)].weight
    );
    for i in [Vit::proj(1), Vit::fc2(1)] {
        assert!(tuned.linears()[i].weight.iter().all(|&w| w == 0.0));
        assert!(tuned.linears()[i].bias.iter().all(|&b| b == 0.0));
    }
    assert_eq!(tuned.head_masks(), vit.head_masks());
    assert_eq!(tuned.removed_blocks(), vit.removed_blocks());
    for b in [0, 2, 3] {
        let (fc1, fc2) = (&tuned.linears()[Vit::fc1(b)], &tuned.linears()[Vit::fc2(b)]);
        for j in 0..fc1.outputs() {
            if fc1.mask.row(j).iter().all(|&m| m == 0.0) {
                assert_eq!(fc1.bias[j], 0.0);
                assert!(fc2.weight.column(j).iter().all(|&w| w == 0.0));
            }
        }
    }
    let small = compact(&tuned).unwrap();
    let d = max_diff(&tuned.logits(c.x.view()), &small.model.logits(c.x.view()));
    assert!(d < 1e-5, "{d}");
}

#[test]
fn attention_received_averages_each_heads_probabilities_over_the_queries() {
    let vit = model(&config(), 23);
    let c = calibration(2, 24);
    let maps = vit.attention_received(c.x.view());
    assert_eq!(maps.len(), 3);
    for m in &maps {
        assert_eq!(m.dim(), (2, 16));
        for row in m.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-5);
            assert!(row.iter().all(|&p| p > 0.0));
        }
    }
    // Different images are attended to differently.
    let other = vit.attention_received(c.x.slice(s![1..2, ..]));
    assert_ne!(maps[0], other[0]);
}
