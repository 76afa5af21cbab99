//! `trainer`: trains the codelab progression (the default command) and evaluates saved stages.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result};
use burn::tensor::Device;
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use trainer::artifacts::{
    COMMITTED_MODELS, FolderSnapshot, MNIST_DATA, RUNS, StageDir, StageMetrics, new_run_dir,
};
use trainer::backend::{Backend, ForwardComparison};
use trainer::data::{CLASSES, Checksum, IMAGE_PIXELS, Mnist, Split};
use trainer::model::NetConfig;
use trainer::stages::Stage;
use trainer::train::{TrainOptions, evaluate, train};
use trainer::{export, report};

/// Where MNIST is, relative to the repository root (where users run the trainer).
const DEFAULT_DATA_DIR: &str = "data/mnist";

/// Steps per epoch and epochs of a `--quick` smoke run.
const QUICK_STEPS: usize = 150;
const QUICK_EPOCHS: usize = 2;
/// Mini-batches whose statistics become a `--quick` run's batch-norm statistics at its end.
const QUICK_BATCH_NORM_BATCHES: usize = 50;

#[derive(Parser)]
#[command(
    version,
    about = "Train, evaluate and export the MNIST codelab progression"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    train: TrainArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Train stages (the default when no command is given).
    Train(TrainArgs),
    /// Load saved weights and report each stage's test accuracy.
    Eval(EvalArgs),
    /// Write the exports (ONNX, flat f32 and int8) of saved stages again, from their weights and metrics.
    Export(Common),
    /// Redraw saved stages' plots from their weights and metrics (all, or those of --stage),
    /// then rewrite report.html and print the results table (markdown) of every saved stage.
    Report(Common),
    /// Print the stage table: name, description, recipe and network of each stage.
    Stages(StagesArgs),
    /// Run saved stages on --backend and on flex (the CPU reference) over the first test
    /// digits and compare the probabilities; fails unless every stage agrees.
    Compare(CompareArgs),
}

#[derive(Args)]
struct CompareArgs {
    #[command(flatten)]
    common: Common,
    /// Test digits to run (the first ones).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    digits: u64,
    /// Largest |difference| of a probability that counts as agreeing.
    #[arg(long, default_value_t = 1e-4)]
    tolerance: f32,
}

#[derive(Args)]
struct StagesArgs {
    /// A JSON array (what the reference scripts in scripts/reference/ read) instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Clone)]
struct Common {
    /// Comma-separated stages (default: all, in codelab order).
    #[arg(long, value_delimiter = ',')]
    stage: Vec<Stage>,
    /// Folder with the four MNIST IDX files (.gz or raw). The default folder must hold MNIST
    /// itself (checked against the published checksums); another folder may hold any data set
    /// in the same layout (28x28 images), checked by structure.
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Classes of the data set (labels 0..N-1). Default: 10 for MNIST; for another folder, the
    /// largest label plus one.
    #[arg(long, value_parser = clap::value_parser!(u16).range(2..=256))]
    classes: Option<u16>,
    /// Artifact folder (weights, metrics, plots, exports, report). Training writes a new
    /// folder under runs/ unless this names one (`--out models` replaces the committed models);
    /// eval, export and report read models/ unless this names another.
    #[arg(long)]
    out: Option<PathBuf>,
    /// burn backend: flex (CPU), vulkan (SPIR-V kernels), wgpu (WGSL kernels on any graphics
    /// API; WGPU_BACKEND=vulkan|metal|dx12|gl pins one), cuda.
    #[arg(long, default_value = "flex")]
    backend: Backend,
}

#[derive(Args, Clone)]
struct TrainArgs {
    #[command(flatten)]
    common: Common,
    /// Epochs per stage (default: the recipe's, 10 for the codelab's stages; 2 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1000))]
    epochs: Option<u64>,
    /// Seed for initialisation, dropout and shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Smoke run: a few hundred steps per stage (2 epochs of 150 mini-batches by default),
    /// through the recipe's learning rates from the first to the last, then batch-norm
    /// statistics measured under the final weights.
    #[arg(long)]
    quick: bool,
}

#[derive(Args)]
struct EvalArgs {
    #[command(flatten)]
    common: Common,
    /// One JSON line per stage instead of a table.
    #[arg(long)]
    json: bool,
}

impl Common {
    /// The saved stages that eval, export and report work on: `--out`, else the committed models.
    fn saved(&self) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from(COMMITTED_MODELS))
    }

    fn stages(&self) -> Vec<Stage> {
        if self.stage.is_empty() {
            Stage::ALL.to_vec()
        } else {
            self.stage.clone()
        }
    }

    fn device(&self) -> Result<Device> {
        self.backend.device().map_err(anyhow::Error::msg)
    }

    /// The data set's name in metrics.json: MNIST for the default folder, else the folder's
    /// absolute path.
    fn data_name(&self) -> String {
        if self.is_default_mnist() {
            MNIST_DATA.into()
        } else {
            let dir = self
                .data_dir
                .canonicalize()
                .unwrap_or(self.data_dir.clone());
            dir.display().to_string()
        }
    }

    /// Fails when `metrics` says the stage trained on another data set than `--data-dir`: an
    /// int8 export calibrates on the first training images, which must come from the set the
    /// weights learned.
    fn check_same_data(&self, metrics: &StageMetrics) -> Result<()> {
        let here = self.data_name();
        match &metrics.data {
            Some(trained) if *trained != here => anyhow::bail!(
                "{} was trained on {trained}, and --data-dir is {here}: the int8 file would be \
                 calibrated on other images than the weights learned; pass --data-dir {}",
                metrics.stage,
                if trained == MNIST_DATA {
                    DEFAULT_DATA_DIR
                } else {
                    trained
                }
            ),
            Some(_) => Ok(()),
            None => {
                println!(
                    "{}: metrics.json does not say which data set it trained on; the int8 \
                     file is calibrated on {here}",
                    metrics.stage
                );
                Ok(())
            }
        }
    }

    /// Whether `--data-dir` is the default MNIST folder (then the checksums guard it).
    fn is_default_mnist(&self) -> bool {
        let default = Path::new(DEFAULT_DATA_DIR);
        match (self.data_dir.canonicalize(), default.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => self.data_dir == default,
        }
    }

    fn load(&self, split: Split) -> Result<Mnist> {
        if !self.is_default_mnist() {
            return Ok(Mnist::load_idx(
                &self.data_dir,
                split,
                self.classes.map(usize::from),
            )?);
        }
        if let Some(classes) = self.classes.filter(|&c| usize::from(c) != CLASSES) {
            anyhow::bail!(
                "--classes {classes}: {} is MNIST, whose labels are the {CLASSES} digits; \
                 point --data-dir at another data set to train with another class count",
                self.data_dir.display()
            );
        }
        Ok(Mnist::load(&self.data_dir, split, Checksum::Verify)?)
    }

    /// The class count: `--classes`, or what the labels of `sets` imply.
    fn classes(&self, sets: &[&Mnist]) -> Result<usize> {
        let classes = match self.classes {
            Some(c) => usize::from(c),
            None => sets.iter().map(|s| s.classes()).max().unwrap_or(0),
        };
        if classes < 2 {
            anyhow::bail!(
                "{}: the labels name {classes} class(es); a classifier needs two or more",
                self.data_dir.display()
            );
        }
        Ok(classes)
    }

    /// Fails when `data` has labels a model with `net`'s outputs cannot score.
    fn check_model_fits(&self, data: &Mnist, net: &NetConfig, stage: Stage) -> Result<()> {
        if data.classes() > net.classes() {
            anyhow::bail!(
                "{}: labels go up to {}, but the saved {stage} model has {} outputs; \
                 evaluate it on the data set it was trained on",
                self.data_dir.display(),
                data.classes() - 1,
                net.classes()
            );
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Eval(args)) => run_eval(&args),
        Some(Command::Train(args)) => run_train(&args),
        Some(Command::Report(common)) => run_report(&common),
        Some(Command::Export(common)) => run_export(&common),
        Some(Command::Stages(args)) => run_stages(&args),
        Some(Command::Compare(args)) => run_compare(&args),
        None => run_train(&cli.train),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut command = String::from("cargo run -p trainer --release");
    if !args.is_empty() {
        command = format!("{command} -- {}", args.join(" "));
    }
    command
}

impl TrainArgs {
    /// Where the run writes: `--out`, else a new folder under runs/ named by the time, the
    /// stages and what differs from a default run.
    fn out(&self) -> PathBuf {
        if let Some(out) = &self.common.out {
            return out.clone();
        }
        let mut label = if self.common.stage.is_empty() {
            "all".to_string()
        } else {
            let names: Vec<&str> = self.common.stage.iter().map(|s| s.name()).collect();
            names.join("+")
        };
        if self.quick {
            label.push_str("-quick");
        }
        if self.seed != 0 {
            label.push_str(&format!("-seed{}", self.seed));
        }
        new_run_dir(Path::new(RUNS), &label, SystemTime::now())
    }
}

fn run_train(args: &TrainArgs) -> Result<()> {
    let process_start = Instant::now();
    let out = args.out();
    // What was there before, to name the files this run replaces (when --out names a folder
    // that holds artifacts, the committed models/ among them).
    let before = FolderSnapshot::of(&out);
    println!("writing to {}", out.display());
    let backend = args.common.backend;
    let device = args.common.device()?;
    let device_name = backend.device_name(&device);
    println!("backend {backend}, device: {device_name}");
    let train_set = args.common.load(Split::Train)?;
    let test_set = args.common.load(Split::Test)?;
    let classes = args.common.classes(&[&train_set, &test_set])?;
    if !args.common.is_default_mnist() {
        println!(
            "data: {} is not the default MNIST folder: checked by structure (IDX magic numbers, \
             counts, 28x28 images, labels agreeing with images), not by checksum; {} training \
             and {} test images, {classes} classes",
            args.common.data_dir.display(),
            train_set.len(),
            test_set.len()
        );
    }
    let mut summary = Vec::new();
    for stage in args.common.stages() {
        println!("== {stage}: {} ({:?})", stage.description(), stage.recipe());
        let default_epochs = if args.quick {
            QUICK_EPOCHS
        } else {
            stage.recipe().epochs
        };
        let epochs = args.epochs.map_or(default_epochs, |e| e as usize);
        let options = TrainOptions {
            epochs,
            seed: args.seed,
            max_steps_per_epoch: args.quick.then_some(QUICK_STEPS),
            // The recipe's rates from first to last, so a smoke run ends settled as a full
            // run does (the Vulkan check compares accuracies at its end).
            lr_schedule: args.quick.then(|| {
                let recipe = stage.recipe();
                recipe.schedule.compressed(recipe.epochs, epochs)
            }),
            refresh_batch_norm: args.quick.then_some(QUICK_BATCH_NORM_BATCHES),
            progress: true,
            classes,
        };
        let with_redrawn;
        let stage_train_set = if stage.recipe().redrawn {
            let start = Instant::now();
            with_redrawn = trainer::data::with_redrawn(&train_set, args.seed);
            println!(
                "{stage:>15} trains on {} digits: the {} training digits and {} of them redrawn \
                 as finger strokes ({:.0} s)",
                with_redrawn.len(),
                train_set.len(),
                with_redrawn.len() - train_set.len(),
                start.elapsed().as_secs_f64()
            );
            &with_redrawn
        } else {
            &train_set
        };
        let (model, epochs) = train(stage, stage_train_set, &test_set, &device, &options);
        let eval = evaluate(&model, &test_set, &device);
        let net = stage.net().with_classes(classes);
        let metrics = StageMetrics {
            stage: stage.name().into(),
            seed: args.seed,
            backend: backend.to_string(),
            device: device_name.clone(),
            params: net.init(&device.clone().autodiff()).trainable_params(),
            net,
            test_accuracy: eval.accuracy,
            command: command_line(),
            data: Some(args.common.data_name()),
            epochs,
        };
        let dir = StageDir::new(&out, stage);
        dir.save_model(&model)?;
        dir.save_metrics(&metrics)?;
        report::write_stage_plots(
            &dir,
            &metrics,
            &model,
            &test_set,
            &eval.predictions,
            &device,
        )?;
        if let Some(augment) = stage.recipe().augment {
            report::write_augmentation_grid(&dir, &train_set, &augment, args.seed)?;
        }
        for path in export::export_stage(&dir, &model, &metrics, &train_set)? {
            println!("wrote {}", path.display());
        }
        summary.push(metrics);
    }
    write_report(&out)?;
    println!("\n{}", report::markdown_results(&summary));
    println!(
        "progression: {} stages, {:.1} s from process start to last export ({backend} on {device_name})",
        summary.len(),
        process_start.elapsed().as_secs_f64()
    );
    let replaced = before.replaced();
    if replaced.is_empty() {
        println!(
            "artifacts in {} (no file there was replaced)",
            out.display()
        );
    } else {
        println!(
            "artifacts in {}; replaced {} files that were there before this run:",
            out.display(),
            replaced.len()
        );
        for path in replaced {
            println!("  {}", path.display());
        }
    }
    Ok(())
}

fn run_stages(args: &StagesArgs) -> Result<()> {
    if args.json {
        let rows: Vec<_> = Stage::ALL.iter().map(|s| s.to_json()).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for stage in Stage::ALL {
            println!(
                "{:<16} {:<42} {:>9} MACs {:?}",
                stage.name(),
                stage.description(),
                stage.net().multiply_accumulates(),
                stage.recipe()
            );
        }
    }
    Ok(())
}

/// Metrics of every stage saved under `out`, in codelab order.
/// A stage without a metrics.json is not saved there; one whose file is bad is an error.
fn saved_metrics(out: &Path) -> Result<Vec<StageMetrics>> {
    let mut saved = Vec::new();
    for stage in Stage::ALL {
        let dir = StageDir::new(out, stage);
        if dir.metrics().exists() {
            saved.push(dir.load_metrics()?);
        }
    }
    Ok(saved)
}

/// Rewrites `report.html` from every stage that has metrics in `out`.
fn write_report(out: &Path) -> Result<()> {
    let path = out.join("report.html");
    std::fs::write(&path, report::html_report(&saved_metrics(out)?))
        .with_context(|| format!("writing {}", path.display()))
}

fn run_report(common: &Common) -> Result<()> {
    let device = common.device()?;
    let test_set = common.load(Split::Test)?;
    let saved = common.saved();
    let all = saved_metrics(&saved)?;
    if all.is_empty() {
        anyhow::bail!(
            "no metrics.json under {}; train into it first: cargo run -p trainer --release -- --out {}",
            saved.display(),
            saved.display()
        );
    }
    let wanted = common.stages();
    let mut train_set: Option<Mnist> = None;
    for metrics in &all {
        let stage: Stage = metrics.stage.parse().map_err(anyhow::Error::msg)?;
        if !wanted.contains(&stage) {
            continue;
        }
        let dir = StageDir::new(&saved, stage);
        common.check_model_fits(&test_set, &metrics.net, stage)?;
        let model = dir.load_model(&device)?;
        let eval = evaluate(&model, &test_set, &device);
        report::write_stage_plots(&dir, metrics, &model, &test_set, &eval.predictions, &device)?;
        if let Some(augment) = stage.recipe().augment {
            // Loaded once, and only when a stage needs it.
            let train = match &mut train_set {
                Some(train) => train,
                None => train_set.insert(common.load(Split::Train)?),
            };
            report::write_augmentation_grid(&dir, train, &augment, metrics.seed)?;
        }
    }
    write_report(&saved)?;
    println!("{}", report::markdown_results(&all));
    Ok(())
}

fn run_eval(args: &EvalArgs) -> Result<()> {
    let device = args.common.device()?;
    let test_set = args.common.load(Split::Test)?;
    if !args.json {
        println!("{:<16} {:>9} {:>9}", "stage", "test acc", "params");
    }
    for stage in args.common.stages() {
        let dir = StageDir::new(&args.common.saved(), stage);
        let net = dir.load_metrics()?.net;
        args.common.check_model_fits(&test_set, &net, stage)?;
        let model = dir.load_model(&device)?;
        let eval = evaluate(&model, &test_set, &device);
        let params = net.init(&device.clone().autodiff()).trainable_params();
        if args.json {
            println!(
                "{}",
                json!({"stage": stage.name(), "test_accuracy": eval.accuracy, "params": params})
            );
        } else {
            println!(
                "{:<16} {:>8.2}% {:>9}",
                stage,
                100.0 * eval.accuracy,
                params
            );
        }
    }
    Ok(())
}

fn run_export(common: &Common) -> Result<()> {
    let device = common.device()?;
    let train_set = common.load(Split::Train)?;
    for stage in common.stages() {
        let dir = StageDir::new(&common.saved(), stage);
        // The data check needs only metrics.json: before the weights are loaded.
        let metrics = dir.load_metrics()?;
        common.check_same_data(&metrics)?;
        let model = dir.load_model(&device)?;
        for path in export::export_stage(&dir, &model, &metrics, &train_set)? {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

fn run_compare(args: &CompareArgs) -> Result<()> {
    let backend = args.common.backend;
    let device = args.common.device()?;
    let device_name = backend.device_name(&device);
    let reference = Device::flex();
    let test_set = args.common.load(Split::Test)?;
    let digits = (args.digits as usize).min(test_set.len());
    let first = Mnist {
        pixels: test_set.pixels[..digits * IMAGE_PIXELS].to_vec(),
        labels: test_set.labels[..digits].to_vec(),
    };
    println!("{backend} on {device_name} against flex, the first {digits} test digits");
    let stages = args.common.stages();
    let (mut agreeing, mut max_abs_diff) = (0, 0.0f32);
    for &stage in &stages {
        let dir = StageDir::new(&args.common.saved(), stage);
        let net = dir.load_metrics()?.net;
        args.common.check_model_fits(&first, &net, stage)?;
        let start = Instant::now();
        let expected = evaluate(&dir.load_model(&reference)?, &first, &reference);
        let flex_seconds = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let got = evaluate(&dir.load_model(&device)?, &first, &device);
        let seconds = start.elapsed().as_secs_f64();
        let comparison = ForwardComparison::of(&expected, &got);
        let agrees = comparison.agrees(args.tolerance);
        agreeing += usize::from(agrees);
        max_abs_diff = max_abs_diff.max(comparison.max_abs_diff);
        println!(
            "{stage:<16} max |diff| {:.1e}, {} answer(s) differ, accuracy {:.2}% (flex {:.2}%), \
             {seconds:.1} s ({flex_seconds:.1} s on flex){}",
            comparison.max_abs_diff,
            comparison.answers_differ,
            100.0 * got.accuracy,
            100.0 * expected.accuracy,
            if agrees { "" } else { "  <- disagrees" }
        );
    }
    println!(
        "compare: {device_name}, forward max |diff| {max_abs_diff:.1e} on {digits} digits, \
         {agreeing}/{} stages within {:e} with the same answers",
        stages.len(),
        args.tolerance
    );
    if agreeing < stages.len() {
        anyhow::bail!(
            "{} of {} stages differ from flex on {backend} by more than {:e} or in an answer",
            stages.len() - agreeing,
            stages.len(),
            args.tolerance
        );
    }
    Ok(())
}
