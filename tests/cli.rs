//! The `pruneplay` binary as a user runs it: JSON lines with a summary last, a checkpoint that
//! loads, and errors that are messages with a non-zero exit, never panics.

mod common;

use std::process::Output;

use common::{assert_clean_failure, pruneplay, stderr};
use pruneplay::model::Network;
use serde_json::Value;

#[test]
fn train_json_ends_with_a_summary_and_saves_a_checkpoint() {
    common::mnist(); // fails with the fetch command when the data is missing
    let dir = std::env::temp_dir().join(format!("pruneplay-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_file = dir.join("model.safetensors");
    let out = pruneplay(&[
        "train",
        "--iters",
        "200",
        "--eval-every",
        "50",
        "--seed",
        "3",
        "--json",
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect();
    assert_eq!(lines.len(), 4 + 1, "four progress events and a summary");
    assert!(lines[..4].iter().all(|l| l["event"] == "progress"));
    assert_eq!(lines[3]["step"], 200);
    let summary = &lines[4];
    assert_eq!(summary["event"], "summary");
    let test_acc = summary["test_acc"].as_f64().unwrap();
    assert!((0.9..=1.0).contains(&test_acc), "test_acc {test_acc}");
    assert!(summary["test_loss"].as_f64().unwrap() > 0.0);
    assert!(summary["val_acc"].as_f64().unwrap() > 0.9);
    assert_eq!(summary["weights_remaining"], 1.0);
    assert!(summary["train_samples_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(summary["seed"], 3);
    assert_eq!(summary["backend"], "cpu");

    let model = pruneplay::checkpoint::load_mlp_file(&out_file).unwrap();
    assert_eq!(model.architecture().to_string(), "784-300-100-10");
    std::fs::remove_dir_all(&dir).ok();
}

/// `train --arch vit --backend gpu` trains the ViT on the GPU engine and says so; `--backend
/// auto` on a software adapter (lavapipe) keeps it on the CPU engine, with a note, as for LeNet.
#[test]
fn train_vit_runs_on_the_gpu_backend_when_asked() {
    common::mnist();
    // Skips (visibly) without an adapter; holding the turn keeps other GPU work out meanwhile.
    let Some((_turn, ctx)) = common::gpu() else {
        return;
    };
    let vit = [
        "train",
        "--arch",
        "vit",
        "--dim",
        "16",
        "--depth",
        "1",
        "--heads",
        "2",
        "--iters",
        "4",
        "--eval-every",
        "2",
        "--json",
    ];
    let out = pruneplay(&[&vit[..], &["--backend", "gpu"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = last_json(&out);
    assert_eq!(summary["backend"], "gpu", "{summary}");
    assert!(summary["adapter"].is_string(), "{summary}");
    assert_eq!(summary["model"], "vit");
    assert_eq!(summary["steps"], 4);
    assert!(summary["train_samples_per_s"].as_f64().unwrap() > 0.0);
    assert!(summary["test_acc"].as_f64().unwrap() > 0.0);

    if ctx.is_software() {
        let out = pruneplay(&[&vit[..], &["--backend", "auto"]].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(last_json(&out)["backend"], "cpu");
        assert!(
            stderr(&out).contains("a software renderer"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn bad_input_is_a_message_not_a_panic() {
    assert_clean_failure(
        &pruneplay(&["train", "--data", "/nonexistent"]),
        "cargo xtask data",
    );
    assert_clean_failure(
        &pruneplay(&["train", "--arch", "784-x-10"]),
        "is not a layer width",
    );
    assert_clean_failure(
        &pruneplay(&["train", "--arch", "784-300-9"]),
        "has 9 outputs but the data has 10 classes",
    );
    assert_clean_failure(&pruneplay(&["train", "--batch", "0"]), "batch = 0");
    assert_clean_failure(&pruneplay(&["train", "--lr=-1"]), "learning rate");
    assert_clean_failure(
        &pruneplay(&["train", "--epochs", "1", "--iters", "5"]),
        "cannot be used with",
    );
}

#[test]
fn a_diverging_learning_rate_stops_with_advice_and_keeps_the_model() {
    let dir = std::env::temp_dir().join(format!("pruneplay-diverge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_file = dir.join("kept.safetensors");
    let out = pruneplay(&[
        "train",
        "--optimizer",
        "sgd",
        "--lr",
        "10",
        "--iters",
        "300",
        "--eval-every",
        "100",
        "--json",
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert_clean_failure(&out, "training diverged");
    assert!(
        stderr(&out).contains("Try a smaller learning rate (now 10)"),
        "{}",
        stderr(&out)
    );
    // The model from before the failing chunk was saved and is intact.
    let model = pruneplay::checkpoint::load_mlp_file(&out_file).unwrap();
    assert!(
        model
            .layers()
            .iter()
            .all(|l| l.weight.iter().all(|w| w.is_finite()))
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A small trained model saved by the CLI itself.
fn trained_checkpoint(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("trained.safetensors");
    let out = pruneplay(&["train", "--iters", "300", "--out", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    path
}

fn last_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().expect("some output")).expect("JSON")
}

#[test]
fn prune_lists_every_method_and_reports_a_json_summary() {
    common::mnist();
    let out = pruneplay(&["prune", "--list"]);
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    for name in [
        "magnitude",
        "global-magnitude",
        "random",
        "structured-l1",
        "structured-l2",
        "taylor",
        "taylor-neuron",
        "wanda",
        "sparsegpt",
        "heads-taylor",
        "heads-magnitude",
        "heads-ablation",
        "heads-random",
        "layers-bi",
        "layers-angular",
        "layers-last",
        "layers-ablation",
        "layers-taylor",
        "imp",
        "gradual",
    ] {
        assert!(
            listed.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} missing from --list:\n{listed}"
        );
    }

    let dir = std::env::temp_dir().join(format!("pruneplay-prune-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = trained_checkpoint(&dir);
    let pruned_path = dir.join("pruned.safetensors");
    let out = pruneplay(&[
        "prune",
        "--model",
        model.to_str().unwrap(),
        "--method",
        "wanda",
        "--sparsity",
        "0.5",
        "--json",
        "--out",
        pruned_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = last_json(&out);
    assert_eq!(summary["method"], "wanda");
    assert_eq!(summary["layers"][0]["name"], "0.weight");
    assert_eq!(summary["layers"][0]["remaining"], 300 * (784 - 392));
    assert!((summary["weights_remaining"].as_f64().unwrap() - 0.5).abs() < 0.01);
    assert!(summary["test_acc_pruned"].as_f64().unwrap() > 0.8);
    assert!(summary["seconds"].as_f64().unwrap() >= 0.0);
    let saved = pruneplay::checkpoint::load_mlp_file(&pruned_path).unwrap();
    assert!((saved.weights_remaining() - 0.5).abs() < 0.01);

    let out = pruneplay(&[
        "prune",
        "--model",
        model.to_str().unwrap(),
        "--method",
        "structured-l2",
        "--sparsity",
        "0.5",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(last_json(&out)["compacted"]["arch"], "784-150-50-10");
    std::fs::remove_dir_all(&dir).ok();
}

/// A PyTorch user's MLP under its own names (`self.fc1 = nn.Linear(…)`): `prune` reads it, says
/// so, and writes the pruned model and its masks under those names; the masks file put back on
/// the dense model with `--masks` gives the pruned model's accuracy.
#[test]
fn prune_keeps_a_files_names_and_applies_masks_files() {
    use safetensors::tensor::{SafeTensors, TensorView};
    common::mnist();
    let dir = std::env::temp_dir().join(format!("pruneplay-forms-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trained = trained_checkpoint(&dir);
    let bytes = std::fs::read(&trained).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let renamed: Vec<(String, TensorView)> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let (index, part) = name.split_once('.').unwrap();
            let module = ["fc1", "fc2", "fc3"][index.parse::<usize>().unwrap() / 2];
            (format!("{module}.{part}"), view)
        })
        .collect();
    let fc = dir.join("fc.safetensors");
    std::fs::write(&fc, safetensors::serialize(renamed, None).unwrap()).unwrap();
    let (fc, trained) = (fc.to_str().unwrap(), trained.to_str().unwrap());
    let pruned = dir.join("pruned.safetensors");
    let masks = dir.join("masks.safetensors");
    let (pruned, masks) = (pruned.to_str().unwrap(), masks.to_str().unwrap());
    let prune = |args: &[&str]| {
        let out = pruneplay(&[&["prune", "--json"], args].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        last_json(&out)
    };

    let plain = prune(&["--model", trained, "--sparsity", "0.6"]);
    assert_eq!(plain["layout"], "nn.Sequential, Linear layers at 0, 2, 4");
    let named = prune(&[
        "--model",
        fc,
        "--sparsity",
        "0.6",
        "--out",
        pruned,
        "--out-masks",
        masks,
    ]);
    assert_eq!(named["layout"], "named Linear modules fc1, fc2, fc3");
    assert_eq!(named["layers"][0]["name"], "fc1.weight");
    // The same weights, so the same accuracy, whatever the names.
    assert_eq!(named["test_acc_before"], plain["test_acc_before"]);
    assert_eq!(named["test_acc_pruned"], plain["test_acc_pruned"]);
    let out = pruneplay::checkpoint::open_file(std::path::Path::new(pruned)).unwrap();
    assert_eq!(
        out.layout.description(),
        "named Linear modules fc1, fc2, fc3, with masks (weight_mask)"
    );
    assert!((out.model.weights_remaining() - 0.4).abs() < 0.01);

    // The masks alone on the dense model: the pruned model, so its accuracy; sparsity 0 prunes
    // nothing more.
    let masked = prune(&["--model", fc, "--masks", masks, "--sparsity", "0"]);
    assert_eq!(masked["masks"], masks);
    assert_eq!(masked["test_acc_before"], named["test_acc_pruned"]);
    assert_eq!(masked["test_acc_pruned"], named["test_acc_pruned"]);
    assert_eq!(masked["weights_remaining"], named["weights_remaining"]);

    assert_clean_failure(
        &pruneplay(&["prune", "--model", masks]),
        "this is a masks file",
    );
    assert_clean_failure(
        &pruneplay(&["prune", "--model", trained, "--masks", masks]),
        "fc1.weight_mask is not one of this model's masks (0.weight_mask, 2.weight_mask, \
         4.weight_mask)",
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn prune_rejects_bad_settings_with_messages() {
    common::mnist();
    let dir = std::env::temp_dir().join(format!("pruneplay-prune-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = trained_checkpoint(&dir);
    let m = model.to_str().unwrap();
    assert_clean_failure(
        &pruneplay(&["prune", "--model", m, "--method", "magnitudes"]),
        "unknown method",
    );
    assert_clean_failure(
        &pruneplay(&["prune", "--model", m, "--sparsity", "1"]),
        "outside [0, 1)",
    );
    assert_clean_failure(
        &pruneplay(&["prune", "--model", m, "--n", "5", "--m", "4"]),
        "0 < N <= M",
    );
    assert_clean_failure(
        &pruneplay(&["prune", "--model", m, "--method", "wanda", "--calib", "0"]),
        "calibration size 0",
    );
    // A model for other data: 16 inputs, not 784 pixels.
    let small = dir.join("small.safetensors");
    let tiny = pruneplay::model::Mlp::new(
        &"16-8-10".parse().unwrap(),
        pruneplay::model::Init::Glorot,
        &mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1),
    );
    pruneplay::checkpoint::save_mlp_file(&tiny, &small).unwrap();
    assert_clean_failure(
        &pruneplay(&["prune", "--model", small.to_str().unwrap()]),
        "the model is 16-8-10 but the data has 784 pixels",
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn cost_reports_every_variant_then_a_json_summary() {
    common::mnist();
    let dir = std::env::temp_dir().join(format!("pruneplay-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = trained_checkpoint(&dir);
    let m = model.to_str().unwrap();
    let out = pruneplay(&[
        "cost",
        m,
        "--batch",
        "200",
        "--reps",
        "2",
        "--warmup",
        "0",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    let names = ["dense", "masked", "csr", "compacted", "2:4", "2:4 masked"];
    assert_eq!(lines.len(), names.len() + 1);
    for (line, name) in lines.iter().zip(names) {
        assert_eq!(line["event"], "variant");
        assert_eq!(line["name"], name);
        assert!(line["cpu"]["median_ms"].as_f64().unwrap() > 0.0);
        assert!(line["cpu"]["max_abs_diff"].as_f64().unwrap() < 1e-3);
        assert!(line["gpu"].is_null());
    }
    let summary = lines.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["batch"], 200);
    assert_eq!(summary["cpu"]["variants"].as_array().unwrap().len(), 6);
    let total = |i: usize| &summary["variants"][i]["cost"]["total"];
    assert_eq!(total(0)["weights"], 266_200);
    assert_eq!(total(1)["nonzero_weights"], 53_240);
    assert_eq!(summary["variants"][3]["cost"]["arch"], "784-60-20-10");
    assert_eq!(total(4)["nonzero_weights"], 133_100);
    assert!(total(4)["bytes_2_4"].as_u64().unwrap() < total(0)["bytes_dense"].as_u64().unwrap());
    assert!(total(0)["bytes_2_4"].is_null());

    assert_clean_failure(
        &pruneplay(&["cost", m, "--batch", "0", "--backend", "cpu"]),
        "--batch 0",
    );
    assert_clean_failure(
        &pruneplay(&["cost", m, "--sparsity", "1", "--backend", "cpu"]),
        "outside [0, 1)",
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn heads_and_layers_prune_sweep_and_compact_a_vit_from_the_command_line() {
    common::mnist();
    let dir = std::env::temp_dir().join(format!("pruneplay-heads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let vit = dir.join("vit.safetensors");
    let out = pruneplay(&[
        "train",
        "--arch",
        "vit",
        "--dim",
        "16",
        "--depth",
        "2",
        "--heads",
        "4",
        "--iters",
        "60",
        "--out",
        vit.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = vit.to_str().unwrap();

    // 8 heads, round(0.25 × 8) = 2 go; the compacted file has 6 and computes the same.
    let masked = dir.join("masked.safetensors");
    let compacted = dir.join("compacted.safetensors");
    for (path, compact) in [(&masked, false), (&compacted, true)] {
        let mut args = vec![
            "prune",
            "--model",
            v,
            "--method",
            "heads-taylor",
            "--sparsity",
            "0.25",
            "--json",
            "--out",
            path.to_str().unwrap(),
        ];
        if compact {
            args.push("--compact");
        }
        let out = pruneplay(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let s = last_json(&out);
        let heads: Vec<u64> = s["heads_per_block"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_u64().unwrap())
            .collect();
        assert_eq!(heads.iter().sum::<u64>(), 6, "{s}");
        assert_eq!(s["blocks_remaining"], 2);
        assert_eq!(s["compacted"]["heads_removed"], 2);
        let c = &s["compacted"];
        assert!(c["parameters_after"].as_u64() < c["parameters_before"].as_u64());
        assert!(c["dense_forward_ms"].as_f64().unwrap() > 0.0);
    }
    let load = |p: &std::path::Path| match pruneplay::checkpoint::load_file(p).unwrap() {
        pruneplay::model::Model::Vit(v) => *v,
        _ => panic!("not a ViT"),
    };
    let (masked, small) = (load(&masked), load(&compacted));
    assert_eq!((masked.total_heads(), masked.heads_kept()), (8, 6));
    assert_eq!((small.total_heads(), small.heads_kept()), (6, 6));
    let x = ndarray::Array2::from_shape_fn((3, 784), |(i, j)| ((i * 31 + j) % 17) as f32 / 17.0);
    let diff = (&masked.logits(x.view()) - &small.logits(x.view()))
        .iter()
        .fold(0.0f32, |m, d| m.max(d.abs()));
    assert!(diff < 1e-5, "{diff}");

    // One block of two goes; compacted, the file has depth 1.
    let out = pruneplay(&[
        "prune",
        "--model",
        v,
        "--method",
        "layers-bi",
        "--remove",
        "1",
        "--compact",
        "--json",
        "--out",
        compacted.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(last_json(&out)["blocks_remaining"], 1);
    assert_eq!(load(&compacted).depth(), 1);

    // Sweeps: four head methods at two sparsities, five layer methods at one count.
    let out = pruneplay(&[
        "sweep",
        "--model",
        v,
        "--methods",
        "heads-all,layers-all",
        "--sparsities",
        "0.25,0.5",
        "--remove",
        "1",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let results: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|j| j["event"] == "result")
        .collect();
    assert_eq!(results.len(), 4 * 2 + 5);
    assert!(
        results
            .iter()
            .any(|r| r["method"] == "layers-angular" && r["remove"] == 1)
    );

    // Bad values.
    assert_clean_failure(
        &pruneplay(&[
            "prune",
            "--model",
            v,
            "--method",
            "layers-last",
            "--remove",
            "2",
        ]),
        "at least the depth",
    );
    assert_clean_failure(
        &pruneplay(&[
            "prune",
            "--model",
            v,
            "--method",
            "heads-random",
            "--sparsity",
            "0.01",
        ]),
        "removes no head",
    );
    let mlp = trained_checkpoint(&dir);
    assert_clean_failure(
        &pruneplay(&[
            "prune",
            "--model",
            mlp.to_str().unwrap(),
            "--method",
            "heads-magnitude",
        ]),
        "attention heads",
    );
    std::fs::remove_dir_all(&dir).ok();
}
