//! The ViT's safetensors checkpoints: timm's names and shapes, round trips (dense, pruned, with a
//! masked head), PyTorch's pruned state dicts, the metadata, and clear errors for bad files.

use std::collections::HashMap;

use ndarray::{Array1, Array2, s};
use pruneplay::checkpoint::{self, vit_from_safetensors, vit_to_safetensors};
use pruneplay::model::{Layer, LayerNorm, Model, Network, Vit, VitConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

const CONFIG: VitConfig = VitConfig {
    dim: 8,
    depth: 2,
    heads: 2,
    mlp_ratio: 2.0,
};

fn random(rng: &mut ChaCha8Rng, shape: (usize, usize)) -> Array2<f32> {
    Array2::from_shape_fn(shape, |_| rng.random_range(-1.0..1.0))
}

fn random_vec(rng: &mut ChaCha8Rng, n: usize) -> Array1<f32> {
    Array1::from_shape_fn(n, |_| rng.random_range(-1.0..1.0))
}

/// The parts of a ViT, as `Vit::from_parts` takes them.
struct Parts {
    linears: Vec<Layer>,
    pos_embed: Array2<f32>,
    norm1: Vec<LayerNorm>,
    norm2: Vec<LayerNorm>,
    fc_norm: LayerNorm,
    head_mask: Vec<Array1<f32>>,
}

impl Parts {
    fn build(self, config: VitConfig) -> pruneplay::Result<Vit> {
        Vit::from_parts(
            config,
            self.linears,
            self.pos_embed,
            self.norm1,
            self.norm2,
            self.fc_norm,
            self.head_mask,
        )
    }
}

/// The parts of a random ViT of `CONFIG`, dense, no head masked.
fn parts(seed: u64) -> Parts {
    let rng = &mut ChaCha8Rng::seed_from_u64(seed);
    let linears = Vit::linear_shapes(&CONFIG)
        .into_iter()
        .map(|shape| Layer {
            weight: random(rng, shape),
            bias: random_vec(rng, shape.0),
            mask: Array2::ones(shape),
        })
        .collect();
    let d = CONFIG.dim;
    let pos_embed = random(rng, (16, d));
    let mut norm = || LayerNorm {
        weight: random_vec(rng, d),
        bias: random_vec(rng, d),
    };
    let norm1 = (0..CONFIG.depth).map(|_| norm()).collect();
    let norm2 = (0..CONFIG.depth).map(|_| norm()).collect();
    let fc_norm = norm();
    let head_mask = vec![Array1::ones(CONFIG.heads); CONFIG.depth];
    Parts {
        linears,
        pos_embed,
        norm1,
        norm2,
        fc_norm,
        head_mask,
    }
}

fn dense(seed: u64) -> Vit {
    parts(seed).build(CONFIG).unwrap()
}

/// A ViT pruned in `patch_embed.proj`, `blocks.1.attn.qkv` and `head`.
fn pruned() -> Vit {
    let mut p = parts(2);
    let l = &mut p.linears;
    for i in [Vit::PATCH_EMBED, Vit::qkv(1), l.len() - 1] {
        l[i].mask =
            Array2::from_shape_fn(l[i].weight.dim(), |(r, c)| ((r + c) % 3 != 0) as u8 as f32);
    }
    p.build(CONFIG).unwrap()
}

/// A ViT whose block 0 has head 1 masked.
fn head_masked() -> Vit {
    let mut p = parts(3);
    p.head_mask[0] = Array1::from(vec![1.0, 0.0]);
    p.build(CONFIG).unwrap()
}

fn names(bytes: &[u8]) -> Vec<String> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().map(str::to_owned).collect();
    names.sort();
    names
}

fn metadata(bytes: &[u8]) -> HashMap<String, String> {
    let (_, m) = SafeTensors::read_metadata(bytes).unwrap();
    m.metadata().clone().unwrap_or_default()
}

fn floats(bytes: &[u8], name: &str) -> Vec<f32> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    st.tensor(name)
        .unwrap()
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// A file's tensors, editable: `(name, dtype, shape, bytes)`.
type Tensors = Vec<(String, Dtype, Vec<usize>, Vec<u8>)>;

/// `bytes` re-serialised after `edit` changed its tensors and metadata.
fn rewrite(bytes: &[u8], edit: impl FnOnce(&mut Tensors, &mut HashMap<String, String>)) -> Vec<u8> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let mut tensors: Tensors = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec()))
        .collect();
    let mut meta = metadata(bytes);
    edit(&mut tensors, &mut meta);
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, dt, shape, d)| (n.clone(), TensorView::new(*dt, shape.clone(), d).unwrap()))
        .collect();
    safetensors::serialize(views, Some(meta)).unwrap()
}

/// `bytes` without the `heads_per_block` and `mlp_hidden_per_block` metadata.
fn without_block_shapes(bytes: &[u8]) -> Vec<u8> {
    rewrite(bytes, |_, m| {
        m.remove("heads_per_block");
        m.remove("mlp_hidden_per_block");
    })
}

fn find<'a>(t: &'a mut Tensors, name: &str) -> &'a mut (String, Dtype, Vec<usize>, Vec<u8>) {
    t.iter_mut().find(|x| x.0 == name).unwrap()
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn error(bytes: &[u8]) -> String {
    let e = checkpoint::load("bad.safetensors", bytes)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("checkpoint bad.safetensors: "), "{e}");
    e
}

#[test]
fn dense_round_trip_with_timm_names_and_shapes() {
    let vit = dense(1);
    let bytes = vit_to_safetensors(&vit).unwrap();
    assert_eq!(vit_from_safetensors("v.safetensors", &bytes).unwrap(), vit);
    let model = Model::from(vit.clone());
    let saved = checkpoint::save(&model).unwrap();
    assert_eq!(checkpoint::load("v.safetensors", &saved).unwrap(), model);
    assert_eq!(names(&saved), names(&bytes));

    let mut want = vec![
        "fc_norm.bias".to_owned(),
        "fc_norm.weight".into(),
        "head.bias".into(),
        "head.weight".into(),
        "patch_embed.proj.bias".into(),
        "patch_embed.proj.weight".into(),
        "pos_embed".into(),
    ];
    for b in 0..2 {
        for t in [
            "attn.proj.bias",
            "attn.proj.weight",
            "attn.qkv.bias",
            "attn.qkv.weight",
            "mlp.fc1.bias",
            "mlp.fc1.weight",
            "mlp.fc2.bias",
            "mlp.fc2.weight",
            "norm1.bias",
            "norm1.weight",
            "norm2.bias",
            "norm2.weight",
        ] {
            want.push(format!("blocks.{b}.{t}"));
        }
    }
    want.sort();
    assert_eq!(names(&bytes), want, "a dense model has no masks");

    let st = SafeTensors::deserialize(&bytes).unwrap();
    let shape = |n: &str| st.tensor(n).unwrap().shape().to_vec();
    assert_eq!(shape("patch_embed.proj.weight"), [8, 1, 7, 7]);
    assert_eq!(shape("pos_embed"), [1, 16, 8]);
    assert_eq!(shape("blocks.1.attn.qkv.weight"), [24, 8]);
    assert_eq!(shape("blocks.1.mlp.fc1.weight"), [16, 8]);
    assert_eq!(shape("blocks.1.mlp.fc2.weight"), [8, 16]);
    assert_eq!(shape("head.weight"), [10, 8]);
    assert!(st.iter().all(|(_, t)| t.dtype() == Dtype::F32));
    // Our [D, 49] patch embedding is timm's conv weight, row-major.
    let conv = floats(&bytes, "patch_embed.proj.weight");
    assert_eq!(
        conv,
        vit.linears()[0].weight.iter().copied().collect::<Vec<_>>()
    );
}

#[test]
fn pruned_round_trip_writes_masks_only_where_pruned() {
    let vit = pruned();
    assert!(vit.weights_remaining() < 1.0);
    let bytes = vit_to_safetensors(&vit).unwrap();
    let back = vit_from_safetensors("v.safetensors", &bytes).unwrap();
    assert_eq!(back, vit);
    let masks: Vec<String> = names(&bytes)
        .into_iter()
        .filter(|n| n.ends_with("_mask"))
        .collect();
    assert_eq!(
        masks,
        [
            "blocks.1.attn.qkv.weight_mask",
            "head.weight_mask",
            "patch_embed.proj.weight_mask"
        ]
    );
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(
        st.tensor("patch_embed.proj.weight_mask").unwrap().shape(),
        [8, 1, 7, 7]
    );
    assert_eq!(
        metadata(&bytes)["weights_remaining"],
        format!("{:.6}", vit.weights_remaining())
    );
}

#[test]
fn writer_stores_weight_times_mask_and_zero_proj_columns_of_masked_heads() {
    let vit = head_masked();
    // from_parts zeroes the masked head's proj input columns (head_dim 4: columns 4..8).
    let proj = &vit.linears()[Vit::proj(0)].weight;
    assert!(proj.slice(s![.., 4..8]).iter().all(|&w| w == 0.0));
    assert!(proj.slice(s![.., 0..4]).iter().all(|&w| w != 0.0));

    // Whatever a caller did to the weights, the file holds weight ⊙ mask and zero columns.
    let mut broken = pruned();
    broken.linears_mut()[0].weight.fill(0.5);
    let mut m = head_masked();
    m.linears_mut()[Vit::proj(0)].weight.fill(0.5);
    for (vit, name, zero) in [
        (&broken, "patch_embed.proj.weight", None),
        (&m, "blocks.0.attn.proj.weight", Some(4..8)),
    ] {
        let bytes = vit_to_safetensors(vit).unwrap();
        let stored = floats(&bytes, name);
        let layer = &vit.linears()[if zero.is_some() { Vit::proj(0) } else { 0 }];
        let cols = layer.inputs();
        for (k, (&w, &mask)) in stored.iter().zip(&layer.mask).enumerate() {
            let masked_head = zero.as_ref().is_some_and(|z| z.contains(&(k % cols)));
            if mask == 0.0 || masked_head {
                assert_eq!(w, 0.0, "{name}[{k}]");
            } else {
                assert_eq!(w, 0.5, "{name}[{k}]");
            }
        }
    }
}

#[test]
fn masked_head_round_trips() {
    let vit = head_masked();
    let bytes = vit_to_safetensors(&vit).unwrap();
    let heads: Vec<String> = names(&bytes)
        .into_iter()
        .filter(|n| n.ends_with("head_mask"))
        .collect();
    assert_eq!(
        heads,
        ["blocks.0.attn.head_mask"],
        "only block 0 has a masked head"
    );
    assert_eq!(floats(&bytes, "blocks.0.attn.head_mask"), [1.0, 0.0]);
    let back = vit_from_safetensors("v.safetensors", &bytes).unwrap();
    assert_eq!(back, vit);
    assert_eq!(back.head_masks()[0].to_vec(), [1.0, 0.0]);
    assert_eq!(back.head_masks()[1].to_vec(), [1.0, 1.0]);
    let proj = &back.linears()[Vit::proj(0)].weight;
    assert!(proj.slice(s![.., 4..8]).iter().all(|&w| w == 0.0));
}

#[test]
fn metadata_has_timm_constructor_arguments() {
    let vit = Vit::from_parts(
        VitConfig {
            mlp_ratio: 2.5,
            ..CONFIG
        },
        {
            let rng = &mut ChaCha8Rng::seed_from_u64(9);
            Vit::linear_shapes(&VitConfig {
                mlp_ratio: 2.5,
                ..CONFIG
            })
            .into_iter()
            .map(|shape| Layer {
                weight: random(rng, shape),
                bias: random_vec(rng, shape.0),
                mask: Array2::ones(shape),
            })
            .collect()
        },
        Array2::zeros((16, 8)),
        vec![
            LayerNorm {
                weight: Array1::ones(8),
                bias: Array1::zeros(8)
            };
            2
        ],
        vec![
            LayerNorm {
                weight: Array1::ones(8),
                bias: Array1::zeros(8)
            };
            2
        ],
        LayerNorm {
            weight: Array1::ones(8),
            bias: Array1::zeros(8),
        },
        vec![Array1::ones(2); 2],
    )
    .unwrap();
    let bytes = vit_to_safetensors(&vit).unwrap();
    let meta = metadata(&bytes);
    for (k, v) in [
        ("model", "vit"),
        ("img_size", "28"),
        ("patch_size", "7"),
        ("in_chans", "1"),
        ("num_classes", "10"),
        ("embed_dim", "8"),
        ("depth", "2"),
        ("num_heads", "2"),
        ("head_dim", "4"),
        ("mlp_ratio", "2.5"),
        ("format", "pt"),
        ("weights_remaining", "1.000000"),
    ] {
        assert_eq!(meta.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert_eq!(
        metadata(&vit_to_safetensors(&dense(1)).unwrap())["mlp_ratio"],
        "2.0"
    );
    assert_eq!(vit_from_safetensors("v", &bytes).unwrap(), vit);
}

#[test]
fn accepts_pytorch_pruned_state_dicts() {
    // torch.nn.utils.prune leaves `weight_orig` (unmasked) and `weight_mask` in the state dict.
    let vit = dense(4);
    let fc1 = &vit.linears()[Vit::fc1(1)];
    let mask = Array2::from_shape_fn(fc1.weight.dim(), |(r, c)| ((r * c) % 2 == 0) as u8 as f32);
    let bytes = rewrite(&vit_to_safetensors(&vit).unwrap(), |t, _| {
        find(t, "blocks.1.mlp.fc1.weight").0 = "blocks.1.mlp.fc1.weight_orig".into();
        t.push((
            "blocks.1.mlp.fc1.weight_mask".into(),
            Dtype::F32,
            vec![16, 8],
            f32_bytes(mask.as_slice().unwrap()),
        ));
    });
    let back = vit_from_safetensors("pt.safetensors", &bytes).unwrap();
    let got = &back.linears()[Vit::fc1(1)];
    assert_eq!(got.mask, mask);
    assert_eq!(got.weight, &fc1.weight * &mask);
    assert_eq!(got.kept(), mask.iter().filter(|&&m| m == 1.0).count());
    // Every other layer is untouched.
    for i in (0..back.linears().len()).filter(|&i| i != Vit::fc1(1)) {
        assert_eq!(back.linears()[i], vit.linears()[i]);
    }
}

#[test]
fn file_without_heads_shows_the_metadata_to_add() {
    let bytes = vit_to_safetensors(&dense(5)).unwrap();
    // As timm's `save_file(model.state_dict(), ...)` writes it: no metadata at all.
    let plain = rewrite(&bytes, |_, m| m.clear());
    let e = error(&plain);
    assert!(
        e.contains(
            r#"safetensors.torch.save_file(model.state_dict(), "vit.safetensors", metadata={"model": "vit", "img_size": "28", "patch_size": "7", "embed_dim": "8", "depth": "2", "num_heads": "<num_heads>", "head_dim": "<8 / num_heads>", "mlp_ratio": "2.0"})"#
        ),
        "{e}"
    );
    // Only head_dim missing: num_heads is filled in, head_dim derived for the suggestion.
    let e = error(&rewrite(&bytes, |_, m| {
        m.remove("head_dim");
    }));
    assert!(e.contains(r#""num_heads": "2", "head_dim": "4""#), "{e}");
    // With both, the metadata-less file loads.
    let fixed = rewrite(&plain, |_, m| {
        m.insert("num_heads".into(), "2".into());
        m.insert("head_dim".into(), "4".into());
    });
    assert_eq!(vit_from_safetensors("v", &fixed).unwrap(), dense(5));
}

#[test]
fn metadata_must_agree_with_the_shapes() {
    // Without the per-block widths the writer adds, as a plain timm state dict saved with the
    // README's metadata has them: the model-wide keys are what is checked here.
    let bytes = without_block_shapes(&vit_to_safetensors(&dense(6)).unwrap());
    let with = |k: &str, v: &str| {
        let (k, v) = (k.to_owned(), v.to_owned());
        error(&rewrite(&bytes, move |_, m| {
            m.insert(k, v);
        }))
    };
    let e = with("embed_dim", "16");
    assert!(
        e.contains("embed_dim=16 but patch_embed.proj.weight has 8"),
        "{e}"
    );
    let e = with("depth", "3");
    assert!(e.contains("depth=3"), "{e}");
    let e = with("mlp_ratio", "4.0");
    assert!(e.contains("mlp_ratio=4") && e.contains("has 16"), "{e}");
    let e = with("mlp_ratio", "1e300");
    assert!(e.contains("mlp_ratio"), "{e}");
    let e = with("num_heads", "3");
    assert!(
        e.contains("num_heads=3 × head_dim=4 is not embed_dim=8"),
        "{e}"
    );
    let e = with("num_heads", "two");
    assert!(e.contains("num_heads=\"two\" is not a whole number"), "{e}");
    let e = with("img_size", "32");
    assert!(e.contains("img_size=32"), "{e}");
    let e = with("patch_size", "4");
    assert!(e.contains("patch_size=4"), "{e}");
    let e = with("in_chans", "3");
    assert!(e.contains("in_chans=3"), "{e}");
    let e = with("model", "mlp");
    assert!(e.contains("model=\"mlp\""), "{e}");
    // heads = 8 of 1 channel is a valid split: it loads.
    let ok = rewrite(&bytes, |_, m| {
        m.insert("num_heads".into(), "8".into());
        m.insert("head_dim".into(), "1".into());
    });
    assert_eq!(vit_from_safetensors("v", &ok).unwrap().config().heads, 8);
}

#[test]
fn bad_files_give_errors_naming_the_problem() {
    let bytes = vit_to_safetensors(&dense(7)).unwrap();
    assert!(error(b"not a checkpoint").contains("not a safetensors file"));
    assert!(vit_from_safetensors("x", b"\x08\0\0\0\0\0\0\0{}").is_err());

    let e = error(&rewrite(&bytes, |t, _| {
        t.retain(|x| x.0 != "blocks.1.norm2.bias")
    }));
    assert!(e.contains("missing tensor blocks.1.norm2.bias"), "{e}");
    let e = error(&rewrite(&bytes, |t, _| t.retain(|x| x.0 != "head.weight")));
    assert!(e.contains("missing tensor head.weight"), "{e}");

    let e = error(&rewrite(&bytes, |t, _| {
        let p = find(t, "pos_embed");
        p.2 = vec![1, 16, 7];
        p.3.truncate(16 * 7 * 4);
    }));
    assert!(
        e.contains("pos_embed has shape [1, 16, 7]; expected [1, 16, 8]"),
        "{e}"
    );
    let e = error(&rewrite(&bytes, |t, _| {
        let p = find(t, "blocks.0.attn.qkv.weight");
        p.2 = vec![8, 24];
    }));
    assert!(
        e.contains("blocks.0.attn.qkv.weight has shape [8, 24]; expected [24, 8]"),
        "{e}"
    );
    let e = error(&rewrite(&bytes, |t, _| {
        let p = find(t, "patch_embed.proj.weight");
        p.2 = vec![8, 49];
    }));
    assert!(e.contains("expected [embed_dim, 1, 7, 7]"), "{e}");
    let e = error(&rewrite(&bytes, |t, _| {
        let p = find(t, "patch_embed.proj.weight");
        p.3 = vec![0; 8 * 3 * 49 * 4];
        p.2 = vec![8, 3, 7, 7];
    }));
    assert!(
        e.contains("3 input channels") && e.contains("in_chans=1"),
        "{e}"
    );

    let e = error(&rewrite(&bytes, |t, _| {
        let p = find(t, "blocks.0.norm1.weight");
        p.1 = Dtype::F16;
        p.3.truncate(8 * 2);
    }));
    assert!(e.contains("blocks.0.norm1.weight is F16"), "{e}");

    let e = error(&rewrite(&bytes, |t, _| {
        t.push((
            "blocks.0.ls1.gamma".into(),
            Dtype::F32,
            vec![8],
            f32_bytes(&[1.0; 8]),
        ));
    }));
    assert!(
        e.contains("unexpected tensor \"blocks.0.ls1.gamma\""),
        "{e}"
    );
    let e = error(&rewrite(&bytes, |t, _| {
        t.push((
            "blocks.01.norm1.weight".into(),
            Dtype::F32,
            vec![8],
            f32_bytes(&[1.0; 8]),
        ));
    }));
    assert!(
        e.contains("unexpected tensor \"blocks.01.norm1.weight\""),
        "{e}"
    );

    for name in ["norm.weight", "cls_token"] {
        let e = error(&rewrite(&bytes, |t, _| {
            t.push((name.into(), Dtype::F32, vec![8], f32_bytes(&[1.0; 8])));
        }));
        assert!(
            e.contains(name) && e.contains("global_pool='avg'") && e.contains("class_token=False"),
            "{e}"
        );
    }

    let e = error(&rewrite(&bytes, |t, _| {
        find(t, "blocks.1.mlp.fc2.bias").3[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    }));
    assert!(e.contains("blocks.1.mlp.fc2.bias contains NaN"), "{e}");

    let e = error(&rewrite(&bytes, |t, _| {
        t.push((
            "blocks.0.attn.head_mask".into(),
            Dtype::F32,
            vec![3],
            f32_bytes(&[1.0, 0.0, 1.0]),
        ));
    }));
    assert!(
        e.contains("blocks.0.attn.head_mask has shape [3]; expected [2]"),
        "{e}"
    );
    let e = error(&rewrite(&bytes, |t, _| {
        t.push((
            "blocks.0.attn.head_mask".into(),
            Dtype::F32,
            vec![2],
            f32_bytes(&[1.0, 0.5]),
        ));
    }));
    assert!(e.contains("blocks.0.attn.head_mask contains 0.5"), "{e}");

    let e = error(&rewrite(&bytes, |t, _| {
        t.push((
            "blocks.0.attn.qkv.weight_orig".into(),
            Dtype::F32,
            vec![24, 8],
            f32_bytes(&[1.0; 24 * 8]),
        ));
    }));
    assert!(
        e.contains("both blocks.0.attn.qkv.weight and blocks.0.attn.qkv.weight_orig"),
        "{e}"
    );
}

#[test]
fn absurd_headers_fail_before_allocating() {
    let bytes = without_block_shapes(&vit_to_safetensors(&dense(8)).unwrap());
    // A block index claiming a depth of a billion: refused from the header, no panic.
    let e = error(&rewrite(&bytes, |t, m| {
        m.remove("depth");
        t.push((
            "blocks.999999999.norm1.weight".into(),
            Dtype::F32,
            vec![8],
            f32_bytes(&[1.0; 8]),
        ));
    }));
    assert!(
        e.contains("depth=1000000000") && e.contains("outside"),
        "{e}"
    );
    // A header whose sizes the buffer does not hold is not a safetensors file.
    let mut cut = bytes.clone();
    cut.truncate(bytes.len() - 4);
    assert!(error(&cut).contains("not a safetensors file"));
}

#[test]
fn load_still_reads_mlps() {
    let arch = "20-7-3".parse().unwrap();
    let mlp = pruneplay::model::Mlp::new(
        &arch,
        pruneplay::model::Init::Glorot,
        &mut ChaCha8Rng::seed_from_u64(1),
    );
    let bytes = checkpoint::to_safetensors(&mlp).unwrap();
    let model = checkpoint::load("m.safetensors", &bytes).unwrap();
    assert_eq!(model.as_mlp(), Some(&mlp));
    let saved = checkpoint::save(&model).unwrap();
    assert_eq!(checkpoint::load("m", &saved).unwrap(), model);
    // An MLP file keeps the MLP's messages.
    let e = checkpoint::load("m", &rewrite(&bytes, |t, _| t.retain(|x| x.0 != "2.bias")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing tensor 2.bias"), "{e}");
    // And the MLP reader refuses a ViT's file.
    let vit = vit_to_safetensors(&dense(1)).unwrap();
    assert!(checkpoint::from_safetensors("v", &vit).is_err());
}

#[test]
fn from_parts_checks_every_shape() {
    let err = |edit: fn(&mut Parts)| {
        let mut p = parts(10);
        edit(&mut p);
        p.build(CONFIG).unwrap_err().to_string()
    };
    let e = err(|p| p.head_mask[1] = Array1::ones(3));
    assert!(
        e.contains("blocks.1.attn.head_mask has 3 values; expected 2"),
        "{e}"
    );
    let e = err(|p| {
        p.head_mask.pop();
    });
    assert!(e.contains("1 head masks for 2 blocks"), "{e}");
    let e = err(|p| p.linears[Vit::fc2(0)].weight = Array2::zeros((8, 15)));
    assert!(
        e.contains("blocks.0.mlp.fc2.weight is (8, 15); expected (8, 16)"),
        "{e}"
    );
    let e = err(|p| p.linears[0].bias = Array1::zeros(7));
    assert!(
        e.contains("patch_embed.proj.bias has 7 values; expected 8"),
        "{e}"
    );
    let e = err(|p| p.linears[Vit::qkv(1)].mask = Array2::ones((1, 1)));
    assert!(e.contains("blocks.1.attn.qkv.weight_mask is (1, 1)"), "{e}");
    let e = err(|p| {
        p.linears.pop();
    });
    assert!(
        e.contains("9 linear layers; a ViT of depth 2 has 10"),
        "{e}"
    );
    let e = err(|p| p.pos_embed = Array2::zeros((17, 8)));
    assert!(e.contains("pos_embed is (17, 8); expected (16, 8)"), "{e}");
    let e = err(|p| p.norm1[1].bias = Array1::zeros(9));
    assert!(
        e.contains("blocks.1.norm1.bias has 9 values; expected 8"),
        "{e}"
    );
    let e = err(|p| p.fc_norm.weight = Array1::zeros(2));
    assert!(e.contains("fc_norm.weight has 2 values; expected 8"), "{e}");
    let bad = VitConfig { heads: 3, ..CONFIG };
    assert!(parts(10).build(bad).is_err());
}
