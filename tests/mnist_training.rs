//! Real MNIST: the files `cargo xtask data` writes, and a training run to the accuracy the
//! literature reports for LeNet-300-100.

mod common;

use pruneplay::train::{Budget, TrainConfig, Trainer, evaluate};

#[test]
fn mnist_files_have_the_official_counts() {
    let mnist = common::mnist();
    assert_eq!(
        (mnist.train.len(), mnist.validation.len(), mnist.test.len()),
        (55_000, 5_000, 10_000)
    );
    assert_eq!((mnist.rows, mnist.cols), (28, 28));
    // Label counts of the full 60,000 training images, as in the official release.
    let mut counts = [0usize; 10];
    for &l in mnist.train.labels().iter().chain(mnist.validation.labels()) {
        counts[usize::from(l)] += 1;
    }
    assert_eq!(
        counts,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
}

/// LeNet-300-100 with the lottery-ticket paper's Adam settings (lr 1.2e-3, batch 60) for two
/// epochs. One run's final accuracy varies by about ±0.5 points with the seed (seeds 0, 1, 2 give
/// 96.88%, 97.76%, 97.31%), so the claim is checked on the mean of three seeds, and no seed may be
/// far off it.
#[test]
fn lenet_300_100_reaches_97_percent_in_two_epochs() {
    let mnist = common::mnist();
    let accuracies: Vec<f64> = (0..3)
        .map(|seed| {
            let config = TrainConfig {
                budget: Budget::Epochs(2),
                seed,
                ..TrainConfig::default()
            };
            let mut trainer = Trainer::<pruneplay::model::Mlp>::new(&config, &mnist.train).unwrap();
            let steps = config.total_steps(mnist.train.len());
            assert_eq!(steps, 2 * 916);
            trainer.train_steps(&mnist.train, steps).unwrap();
            let test = evaluate(trainer.model(), &mnist.test);
            assert_eq!(test.confusion.iter().flatten().sum::<u32>(), 10_000);
            assert_eq!(test.predictions.len(), 10_000);
            println!(
                "seed {seed}: test accuracy after 2 epochs {:.4}",
                test.accuracy
            );
            test.accuracy
        })
        .collect();
    let mean = accuracies.iter().sum::<f64>() / 3.0;
    assert!(
        mean >= 0.97,
        "mean test accuracy {mean:.4} < 0.97 ({accuracies:?})"
    );
    assert!(accuracies.iter().all(|&a| a >= 0.965), "{accuracies:?}");
}
