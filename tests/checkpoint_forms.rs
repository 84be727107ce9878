//! A PyTorch user's own files: every form of MLP state dict the loader accepts (an nn.Sequential
//! at offset 0 or after an nn.Flatten, torch.nn.utils.prune's weight_orig + weight_mask, named
//! Linear modules), written here as PyTorch writes them; saving under the names a model was
//! loaded with; masks-only files; and a message naming the problem for each bad file.

mod common;

use std::collections::HashMap;

use ndarray::{Array1, Array2};
use pruneplay::checkpoint::{self, Checkpoint, FileKind, Layout, MAX_PARAMETERS};
use pruneplay::model::{Init, Layer, Mlp, Model, Network, VitConfig};
use pruneplay::prune::compaction::compact;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

/// `(name, shape, values)`: one float32 tensor of a state dict.
type Tensor = (String, Vec<usize>, Vec<f32>);

/// The glossary's 784-256-128-10, its first two layers pruned (every fifth weight, shifted per
/// layer), the output layer dense, and every bias nonzero.
fn source() -> Mlp {
    let mut m = Mlp::seeded(&"784-256-128-10".parse().unwrap(), Init::Glorot, 5);
    for (i, l) in m.layers_mut().iter_mut().enumerate() {
        l.bias = Array1::from_shape_fn(l.outputs(), |r| 0.01 * (r as f32 - 3.0));
        if i < 2 {
            let mask = Array2::from_shape_fn(l.weight.dim(), |(r, c)| {
                ((r * 7 + c * 3 + i) % 5 != 0) as u8 as f32
            });
            l.set_mask(mask).unwrap();
        }
    }
    m
}

/// The state dict PyTorch saves for `m` with its Linear modules named `modules`. With
/// `prune_form`, a pruned layer has torch.nn.utils.prune's `weight_orig` (the weights before
/// pruning: nonzero where the mask is 0) and `weight_mask`; otherwise `weight` (already masked)
/// and, where pruned, `weight_mask`, as PrunePlay writes.
fn state_dict(m: &Mlp, modules: &[&str], prune_form: bool) -> Vec<Tensor> {
    let name = |module: &str, part: &str| {
        if module.is_empty() {
            part.to_owned()
        } else {
            format!("{module}.{part}")
        }
    };
    let mut tensors = Vec::new();
    for (l, module) in m.layers().iter().zip(modules) {
        let shape = vec![l.outputs(), l.inputs()];
        let pruned = l.mask.iter().any(|&v| v == 0.0);
        if pruned && prune_form {
            let orig = Array2::from_shape_fn(l.weight.dim(), |(r, c)| {
                if l.mask[[r, c]] == 0.0 {
                    0.5
                } else {
                    l.weight[[r, c]]
                }
            });
            tensors.push((name(module, "weight_orig"), shape.clone(), flat(&orig)));
        } else {
            tensors.push((name(module, "weight"), shape.clone(), flat(&l.weight)));
        }
        if pruned {
            tensors.push((name(module, "weight_mask"), shape, flat(&l.mask)));
        }
        tensors.push((name(module, "bias"), vec![l.outputs()], l.bias.to_vec()));
    }
    tensors
}

fn flat(a: &Array2<f32>) -> Vec<f32> {
    a.iter().copied().collect()
}

fn bytes_of(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A safetensors file as `safetensors.torch.save_file` writes it (tensors sorted by name).
fn file(tensors: &[Tensor]) -> Vec<u8> {
    with_dtypes(
        &tensors
            .iter()
            .map(|(n, s, v)| (n.clone(), Dtype::F32, s.clone(), bytes_of(v)))
            .collect::<Vec<_>>(),
        None,
    )
}

/// A safetensors file of raw `(name, dtype, shape, bytes)`, with `metadata`.
fn with_dtypes(
    tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)],
    metadata: Option<HashMap<String, String>>,
) -> Vec<u8> {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, metadata).unwrap()
}

/// A safetensors file whose data is in the given order, not sorted by name (as a writer other
/// than safetensors' own may leave it): the header by hand.
fn file_in_order(tensors: &[Tensor]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, shape, values) in tensors {
        let start = data.len();
        data.extend(bytes_of(values));
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let mut json = serde_json::Value::Object(header).to_string().into_bytes();
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend(json);
    out.extend(data);
    out
}

fn names(bytes: &[u8]) -> Vec<String> {
    let mut names: Vec<String> = SafeTensors::deserialize(bytes)
        .unwrap()
        .names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

/// The same tensors (names, dtypes, shapes, bytes) and metadata; the header's JSON may list the
/// metadata in another order.
fn same_file(a: &[u8], b: &[u8]) -> bool {
    let header = |bytes| {
        SafeTensors::read_metadata(bytes)
            .unwrap()
            .1
            .metadata()
            .clone()
    };
    if header(a) != header(b) {
        return false;
    }
    let (a, b) = (
        SafeTensors::deserialize(a).unwrap(),
        SafeTensors::deserialize(b).unwrap(),
    );
    let meta = |bytes: &SafeTensors| -> Vec<(String, Dtype, Vec<usize>, Vec<u8>)> {
        let mut t: Vec<_> = bytes
            .tensors()
            .into_iter()
            .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
            .collect();
        t.sort_by(|x, y| x.0.cmp(&y.0));
        t
    };
    meta(&a) == meta(&b)
}

fn open(bytes: &[u8]) -> Checkpoint {
    checkpoint::open("m.safetensors", bytes).unwrap()
}

fn error(bytes: &[u8]) -> String {
    let e = checkpoint::open("bad.safetensors", bytes)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("checkpoint bad.safetensors: "), "{e}");
    e
}

/// Opens `bytes`, checks the model is `want` and the description, then saves it under the names
/// it was loaded with and checks the file has `saved_names` and reads back the same.
fn loads_and_round_trips(bytes: &[u8], want: &Mlp, description: &str, saved_names: &[&str]) {
    let c = open(bytes);
    assert_eq!(c.model.as_mlp(), Some(want));
    assert_eq!(c.layout.description(), description);
    assert_eq!(c.layout.to_string(), description);
    c.check_fits(784, 10).unwrap();
    let saved = checkpoint::save_with(&c.model, &c.layout).unwrap();
    let mut want_names: Vec<String> = saved_names.iter().map(|s| s.to_string()).collect();
    want_names.sort();
    assert_eq!(names(&saved), want_names);
    let back = open(&saved);
    assert_eq!(back.model, c.model);
    let (Layout::Mlp(a), Layout::Mlp(b)) = (&back.layout, &c.layout) else {
        panic!("an MLP's layout");
    };
    assert_eq!(a.modules(), b.modules());
}

/// The names `modules` give a model's tensors when saved: weight and bias for every layer, the
/// mask for the two pruned ones.
fn saved_names(modules: [&str; 3]) -> Vec<String> {
    let mut names = Vec::new();
    for (i, m) in modules.iter().enumerate() {
        names.push(format!("{m}.weight"));
        names.push(format!("{m}.bias"));
        if i < 2 {
            names.push(format!("{m}.weight_mask"));
        }
    }
    names
}

fn loads(bytes: &[u8], modules: [&str; 3], description: &str) {
    let names = saved_names(modules);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    loads_and_round_trips(bytes, &source(), description, &names);
}

#[test]
fn sequential_from_zero_is_what_pruneplay_writes() {
    let m = source();
    let bytes = checkpoint::to_safetensors(&m).unwrap();
    loads(
        &bytes,
        ["0", "2", "4"],
        "nn.Sequential, Linear layers at 0, 2, 4, with masks (weight_mask)",
    );
    loads(
        &file(&state_dict(&m, &["0", "2", "4"], false)),
        ["0", "2", "4"],
        "nn.Sequential, Linear layers at 0, 2, 4, with masks (weight_mask)",
    );
    // The default layout is PrunePlay's names: `save` writes what `to_safetensors` always did.
    let model = Model::from(m.clone());
    assert!(same_file(&checkpoint::save(&model).unwrap(), &bytes));
    assert!(same_file(
        &checkpoint::save_with(&model, &Layout::default_for(&model)).unwrap(),
        &bytes
    ));
    // A dense model: no mask in the file, none in the description.
    let dense = Mlp::seeded(&"784-256-128-10".parse().unwrap(), Init::Glorot, 1);
    let c = open(&checkpoint::to_safetensors(&dense).unwrap());
    assert_eq!(c.model.as_mlp(), Some(&dense));
    assert_eq!(
        c.layout.description(),
        "nn.Sequential, Linear layers at 0, 2, 4"
    );
}

#[test]
fn sequential_after_flatten_loads_at_offset_one() {
    // nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), …)
    loads(
        &file(&state_dict(&source(), &["1", "3", "5"], false)),
        ["1", "3", "5"],
        "nn.Sequential, Linear layers at 1, 3, 5 (after nn.Flatten), with masks (weight_mask)",
    );
    // Any other offset k: k, k + 2, k + 4.
    loads(
        &file(&state_dict(&source(), &["3", "5", "7"], false)),
        ["3", "5", "7"],
        "nn.Sequential, Linear layers at 3, 5, 7, with masks (weight_mask)",
    );
}

#[test]
fn torch_prune_state_dicts_load_as_weight_orig_times_mask() {
    let m = source();
    let tensors = state_dict(&m, &["1", "3", "5"], true);
    assert!(tensors.iter().any(|t| t.0 == "1.weight_orig"));
    assert!(tensors.iter().any(|t| t.0 == "5.weight"));
    // Saved back, the weights are already masked and named `weight`, prune's masks beside them.
    loads(
        &file(&tensors),
        ["1", "3", "5"],
        "nn.Sequential, Linear layers at 1, 3, 5 (after nn.Flatten), with \
         torch.nn.utils.prune masks (weight_orig + weight_mask)",
    );
    loads(
        &file(&state_dict(&m, &["fc1", "fc2", "fc3"], true)),
        ["fc1", "fc2", "fc3"],
        "named Linear modules fc1, fc2, fc3, with torch.nn.utils.prune masks (weight_orig + \
         weight_mask)",
    );
}

#[test]
fn named_linear_modules_load_in_file_order() {
    let m = source();
    loads(
        &file(&state_dict(&m, &["fc1", "fc2", "fc3"], false)),
        ["fc1", "fc2", "fc3"],
        "named Linear modules fc1, fc2, fc3, with masks (weight_mask)",
    );
    // A Sequential inside a module: `self.net = nn.Sequential(…)`.
    loads(
        &file(&state_dict(&m, &["net.0", "net.2", "net.4"], false)),
        ["net.0", "net.2", "net.4"],
        "named Linear modules net.0, net.2, net.4, with masks (weight_mask)",
    );
    // The file's data order counts, not the names' (here it is not alphabetical).
    let tensors = state_dict(&m, &["zeta", "beta", "alpha"], false);
    loads(
        &file_in_order(&tensors),
        ["zeta", "beta", "alpha"],
        "named Linear modules zeta, beta, alpha, with masks (weight_mask)",
    );
    // A bare nn.Linear(784, 10): `weight` and `bias`.
    let single = Mlp::seeded(&"784-10".parse().unwrap(), Init::Glorot, 2);
    let c = open(&file(&state_dict(&single, &[""], false)));
    assert_eq!(c.model.as_mlp(), Some(&single));
    assert_eq!(c.layout.description(), "a single nn.Linear (weight, bias)");
    let saved = checkpoint::save_with(&c.model, &c.layout).unwrap();
    assert_eq!(names(&saved), ["bias", "weight"]);
}

#[test]
fn named_modules_whose_file_order_does_not_chain_take_the_order_that_does() {
    // safetensors sorts by name: hidden, input, output. Only input → hidden → output chains.
    let m = source();
    let tensors = state_dict(&m, &["input", "hidden", "output"], false);
    let c = open(&file(&tensors));
    assert_eq!(c.model.as_mlp(), Some(&m));
    assert_eq!(
        c.layout.description(),
        "named Linear modules input, hidden, output (in the order their shapes chain, not the \
         file's), with masks (weight_mask)"
    );
    let back = open(&checkpoint::save_with(&c.model, &c.layout).unwrap());
    assert_eq!(back.model, c.model);
}

#[test]
fn a_compacted_model_keeps_its_names_with_smaller_shapes() {
    let mut m = source();
    // Neurons 0..100 of the first hidden layer and 0..28 of the second lose every input weight.
    for (i, dead) in [(0, 100), (1, 28)] {
        let l = &mut m.layers_mut()[i];
        let mut mask = l.mask.clone();
        mask.rows_mut()
            .into_iter()
            .take(dead)
            .for_each(|mut r| r.fill(0.0));
        l.set_mask(mask).unwrap();
        l.bias.iter_mut().take(dead).for_each(|b| *b = 0.0);
    }
    let c = open(&file(&state_dict(&m, &["1", "3", "5"], false)));
    let small = Model::from(compact(c.model.as_mlp().unwrap()).unwrap().model);
    assert_eq!(small.spec(), "784-156-100-10");
    let saved = checkpoint::save_with(&small, &c.layout).unwrap();
    let st = SafeTensors::deserialize(&saved).unwrap();
    assert_eq!(st.tensor("1.weight").unwrap().shape(), [156, 784]);
    assert_eq!(st.tensor("3.weight").unwrap().shape(), [100, 156]);
    assert_eq!(st.tensor("5.weight").unwrap().shape(), [10, 100]);
    assert_eq!(open(&saved).model, small);
}

#[test]
fn masks_alone_go_out_and_back_under_the_models_names() {
    let pruned = source();
    let dense = Mlp::from_layers(
        pruned
            .layers()
            .iter()
            .map(|l| Layer {
                mask: Array2::ones(l.weight.dim()),
                ..l.clone()
            })
            .collect(),
    )
    .unwrap();
    let c = open(&file(&state_dict(&pruned, &["fc1", "fc2", "fc3"], false)));
    let masks = checkpoint::save_masks(&c.model, &c.layout).unwrap();
    assert_eq!(
        checkpoint::inspect("masks.safetensors", &masks).unwrap(),
        FileKind::Masks
    );
    // Every layer's mask, the dense output layer's too.
    assert_eq!(
        names(&masks),
        ["fc1.weight_mask", "fc2.weight_mask", "fc3.weight_mask"]
    );
    let mut model = open(&file(&state_dict(&dense, &["fc1", "fc2", "fc3"], false))).model;
    assert_eq!(
        checkpoint::inspect("m", &checkpoint::save(&model).unwrap()).unwrap(),
        FileKind::Model
    );
    checkpoint::apply_masks(&mut model, &c.layout, "masks.safetensors", &masks).unwrap();
    // The same masks, and so the same model: the weights the masks keep are the dense ones.
    assert_eq!(model.as_mlp(), Some(&pruned));

    // A masks file from PyTorch holds only the pruned layers' masks: the others become dense.
    let mut all_pruned = model.clone();
    for l in all_pruned.linears_mut() {
        let mut mask = l.mask.clone();
        mask[[0, 0]] = 0.0;
        l.set_mask(mask).unwrap();
    }
    let partial: Vec<Tensor> = state_dict(&pruned, &["fc1", "fc2", "fc3"], false)
        .into_iter()
        .filter(|t| t.0.ends_with("_mask"))
        .collect();
    assert_eq!(partial.len(), 2);
    checkpoint::apply_masks(&mut all_pruned, &c.layout, "pt", &file(&partial)).unwrap();
    assert_eq!(all_pruned.linears()[2].kept(), 10 * 128);
    assert_eq!(all_pruned.linears()[0].mask, pruned.layers()[0].mask);
}

#[test]
fn a_bad_masks_file_names_the_tensor_and_leaves_the_model_alone() {
    let c = open(&file(&state_dict(&source(), &["fc1", "fc2", "fc3"], false)));
    let original = c.model.clone();
    let apply = |bytes: &[u8]| {
        let mut model = original.clone();
        let e = checkpoint::apply_masks(&mut model, &c.layout, "masks.safetensors", bytes)
            .unwrap_err()
            .to_string();
        assert_eq!(model, original, "the model changed on error: {e}");
        assert!(e.starts_with("checkpoint masks.safetensors: "), "{e}");
        e
    };
    let ones = |shape: &[usize]| vec![1.0f32; shape.iter().product()];
    let mask =
        |name: &str, shape: &[usize], values: Vec<f32>| (name.to_owned(), shape.to_vec(), values);

    // Another model's names.
    let e = apply(&file(&[mask(
        "0.weight_mask",
        &[256, 784],
        ones(&[256, 784]),
    )]));
    assert!(
        e.contains(
            "0.weight_mask is not one of this model's masks (fc1.weight_mask, fc2.weight_mask, \
             fc3.weight_mask)"
        ),
        "{e}"
    );
    // fc1 fits and would be applied first; fc2's shape does not.
    let e = apply(&file(&[
        mask("fc1.weight_mask", &[256, 784], vec![0.0; 256 * 784]),
        mask("fc2.weight_mask", &[128, 200], ones(&[128, 200])),
    ]));
    assert!(
        e.contains("fc2.weight_mask has shape [128, 200]; expected [128, 256]"),
        "{e}"
    );
    let mut half = ones(&[10, 128]);
    half[3] = 0.5;
    let e = apply(&file(&[mask("fc3.weight_mask", &[10, 128], half)]));
    assert!(
        e.contains("fc3.weight_mask contains 0.5; a mask holds 0 and 1"),
        "{e}"
    );
    let e = apply(&with_dtypes(
        &[(
            "fc3.weight_mask".into(),
            Dtype::F16,
            vec![10, 128],
            vec![0; 10 * 128 * 2],
        )],
        None,
    ));
    assert!(e.contains("fc3.weight_mask is F16"), "{e}");
    // A model file is not a masks file, and the other way round.
    let e = apply(&checkpoint::save(&original).unwrap());
    assert!(e.contains("not a masks file: it holds \"0.bias\""), "{e}");
    let masks = checkpoint::save_masks(&c.model, &c.layout).unwrap();
    let e = error(&masks);
    assert!(e.contains("this is a masks file"), "{e}");
    let e = apply(b"PK\x03\x04 a zip file");
    assert!(e.contains("not a safetensors file"), "{e}");
}

#[test]
fn vit_masks_carry_head_masks_and_removed_blocks() {
    let config = VitConfig {
        dim: 8,
        depth: 2,
        heads: 2,
        mlp_ratio: 2.0,
    };
    let (dense, _) = common::random_vit(&config, 3);
    let mut pruned = dense.clone();
    let qkv = &mut pruned.linears_mut()[pruneplay::model::Vit::qkv(0)];
    let mut mask = qkv.mask.clone();
    mask.iter_mut().step_by(3).for_each(|m| *m = 0.0);
    qkv.set_mask(mask).unwrap();
    let patch = &mut pruned.linears_mut()[0];
    let mut mask = patch.mask.clone();
    mask.row_mut(2).fill(0.0);
    patch.set_mask(mask).unwrap();
    pruned.set_head_mask(0, &[1.0, 0.0]).unwrap();
    pruned.set_removed_blocks(&[false, true]).unwrap();
    let pruned = Model::from(pruned);

    let c = open(&checkpoint::save(&pruned).unwrap());
    assert_eq!(c.model, pruned);
    assert_eq!(
        c.layout.description(),
        "timm VisionTransformer, with masks (weight_mask)"
    );
    let masks = checkpoint::save_masks(&c.model, &c.layout).unwrap();
    assert_eq!(checkpoint::inspect("m", &masks).unwrap(), FileKind::Masks);
    let st = SafeTensors::deserialize(&masks).unwrap();
    assert_eq!(
        st.tensor("patch_embed.proj.weight_mask").unwrap().shape(),
        [8, 1, 7, 7]
    );
    assert_eq!(st.tensor("blocks.0.attn.head_mask").unwrap().shape(), [2]);
    assert_eq!(st.tensor("blocks.1.attn.head_mask").unwrap().shape(), [2]);
    assert_eq!(st.tensor("head.weight_mask").unwrap().shape(), [10, 8]);
    assert_eq!(st.len(), 1 + 4 * 2 + 1 + 2);

    let mut model = Model::from(dense.clone());
    checkpoint::apply_masks(&mut model, &c.layout, "masks", &masks).unwrap();
    assert_eq!(model, pruned);
    // An MLP's layout names no ViT tensor.
    let mlp = open(&checkpoint::to_safetensors(&source()).unwrap());
    let e = checkpoint::apply_masks(&mut model, &mlp.layout, "masks", &masks)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("an MLP's layout cannot name a ViT's tensors"),
        "{e}"
    );
}

#[test]
fn bad_model_files_name_the_tensor_or_the_problem() {
    let m = source();
    let fc = state_dict(&m, &["fc1", "fc2", "fc3"], false);
    let edit = |f: &dyn Fn(&mut Vec<Tensor>)| {
        let mut t = fc.clone();
        f(&mut t);
        file(&t)
    };

    assert!(error(b"not a checkpoint").contains("not a safetensors file"));
    assert!(error(&file(&[])).contains("holds no tensors"));
    let e = error(&edit(&|t| {
        t.push(("fc1.running_mean".into(), vec![256], vec![0.0; 256]))
    }));
    assert!(e.contains("unexpected tensor \"fc1.running_mean\""), "{e}");
    let e = error(&edit(&|t| t.retain(|x| x.0 != "fc2.bias")));
    assert!(e.contains("missing tensor fc2.bias"), "{e}");
    let e = error(&edit(&|t| t.retain(|x| x.0 != "fc2.weight")));
    assert!(
        e.contains(
            "fc2.bias has no fc2.weight beside it (nor torch.nn.utils.prune's fc2.weight_orig)"
        ),
        "{e}"
    );
    let e = error(&edit(&|t| {
        t.push(("weight".into(), vec![10, 128], vec![0.0; 1280]))
    }));
    assert!(
        e.contains("tensor \"weight\" has no module name, but the file has other Linear layers"),
        "{e}"
    );
    let e = error(&edit(&|t| {
        t.push(("fc3.weight_orig".into(), vec![10, 128], vec![0.0; 1280]))
    }));
    assert!(e.contains("both fc3.weight and fc3.weight_orig"), "{e}");

    // Not float32.
    let mut raw: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = fc
        .iter()
        .map(|(n, s, v)| (n.clone(), Dtype::F32, s.clone(), bytes_of(v)))
        .collect();
    raw[0].1 = Dtype::F16;
    let half = raw[0].3.len() / 2;
    raw[0].3.truncate(half);
    let e = error(&with_dtypes(&raw, None));
    assert!(
        e.contains(&format!("{} is F16; PrunePlay reads float32", raw[0].0))
            && e.contains("v.float()"),
        "{e}"
    );

    // Shapes.
    let e = error(&edit(&|t| {
        let w = t.iter_mut().find(|x| x.0 == "fc2.bias").unwrap();
        w.1 = vec![127];
        w.2.pop();
    }));
    assert!(
        e.contains("fc2.bias has shape [127] but fc2.weight has 128 rows"),
        "{e}"
    );
    let e = error(&edit(&|t| {
        let w = t.iter_mut().find(|x| x.0 == "fc1.weight").unwrap();
        w.1 = vec![256, 28, 28];
    }));
    assert!(
        e.contains(
            "fc1.weight has shape [256, 28, 28]; a Linear layer's weight is [outputs, inputs]"
        ),
        "{e}"
    );
    let mut wrong = state_dict(&m, &["1", "3", "5"], false);
    for x in wrong.iter_mut().filter(|x| x.0.starts_with("3.weight")) {
        x.1 = vec![128, 300];
        x.2 = vec![1.0; 128 * 300];
    }
    let e = error(&file(&wrong));
    assert!(
        e.contains(
            "layer 0 (1.weight [256, 784]) has 256 outputs but layer 1 (3.weight [128, 300]) \
             takes 300 inputs"
        ),
        "{e}"
    );
    let renamed = |names: [&str; 3]| {
        let mut t = state_dict(&m, &names, false);
        t.sort_by(|a, b| a.0.cmp(&b.0));
        file(&t)
    };
    let e = error(&renamed(["0", "1", "2"]));
    assert!(
        e.contains("Linear layers at 0, 1, 2: an nn.Sequential(Linear, ReLU, Linear, …)"),
        "{e}"
    );
    // Named modules whose shapes chain in no order.
    let e = error(&edit(&|t| {
        for x in t.iter_mut().filter(|x| x.0.starts_with("fc2.weight")) {
            x.1 = vec![128, 300];
            x.2 = vec![1.0; 128 * 300];
        }
    }));
    assert!(
        e.contains(
            "the Linear layers' shapes do not chain in any order (each layer's inputs must be the \
             previous one's outputs): fc1.weight [256, 784], fc2.weight [128, 300], fc3.weight \
             [10, 128]"
        ),
        "{e}"
    );
    // Named modules that chain in two orders: two square layers, sorted so the file's fails.
    let sq = Mlp::seeded(&"784-64-64-64-10".parse().unwrap(), Init::Glorot, 4);
    let e = error(&file(&state_dict(&sq, &["d", "b", "c", "a"], false)));
    assert!(e.contains("chain in more than one other order"), "{e}");

    // Another model's data: the first layer must take 784 pixels, the last give 10 classes.
    let c = open(&file(&state_dict(
        &Mlp::seeded(&"100-256-128-10".parse().unwrap(), Init::Glorot, 1),
        &["fc1", "fc2", "fc3"],
        false,
    )));
    let e = c.check_fits(784, 10).unwrap_err().to_string();
    assert!(
        e.contains(
            "the model is 100-256-128-10 but the data has 784 pixels per image and 10 classes: \
             its first layer, fc1.weight [256, 100], takes 100 inputs"
        ),
        "{e}"
    );
    let c = open(&file(&state_dict(
        &Mlp::seeded(&"784-256-128-5".parse().unwrap(), Init::Glorot, 1),
        &["1", "3", "5"],
        false,
    )));
    let e = c.check_fits(784, 10).unwrap_err().to_string();
    assert!(
        e.contains("its last layer, 5.weight [5, 128], gives 5 outputs"),
        "{e}"
    );

    // Too big for the page: the limit is in the message, checked before reading a value.
    let rows = MAX_PARAMETERS / 784 + 1;
    assert_eq!(rows * 785, 4_005_855);
    let big = file(&[
        ("0.weight".into(), vec![rows, 784], vec![0.0; rows * 784]),
        ("0.bias".into(), vec![rows], vec![0.0; rows]),
    ]);
    let e = error(&big);
    assert!(
        e.contains(
            "the model has 4,005,855 parameters; PrunePlay opens models of at most 4,000,000 \
             parameters"
        ),
        "{e}"
    );
}

#[test]
fn a_vit_without_its_metadata_says_which_keys_it_needs() {
    let config = VitConfig {
        dim: 8,
        depth: 1,
        heads: 2,
        mlp_ratio: 2.0,
    };
    let (vit, _) = common::random_vit(&config, 1);
    let bytes = checkpoint::save(&Model::from(vit)).unwrap();
    // What a plain `save_file(model.state_dict(), …)` writes: the tensors and no metadata.
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    let e = error(&with_dtypes(&tensors, None));
    assert!(
        e.contains("num_heads and head_dim are needed") && e.contains("metadata={"),
        "{e}"
    );
}
