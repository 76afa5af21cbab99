//! The codelab progression: each [`Stage`] names a network and its training recipe.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::model::{Activation, ConvNet, DenseNet, Model};

/// One step of the codelab, from a single softmax layer to the batch-norm CNN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// 784 -> 10 softmax, SGD.
    Dense1,
    /// 784 -> 200 -> 60 -> 10 with sigmoids, SGD.
    DenseSigmoid,
    /// Same shape with relu, Adam.
    DenseReluAdam,
    /// Same with an exponentially decaying learning rate.
    DenseLrDecay,
    /// 784 -> 200 -> 100 -> 60 -> 10 relu.
    DenseDeep,
    /// The deep net with dropout 0.25.
    DenseDropout,
    /// Three convolutions and a dense layer.
    Cnn,
    /// The CNN with dropout 0.25 after its dense layer.
    CnnDropout,
    /// The CNN with batch norm everywhere and dropout 0.3: the codelab's 99.5%.
    CnnBatchNorm,
}

/// Which optimizer a stage trains with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerKind {
    /// Plain stochastic gradient descent.
    Sgd,
    /// Adam with Keras' defaults (beta 0.9/0.999, epsilon 1e-7).
    Adam,
}

/// `lr(epoch) = initial * decay^epoch`, epochs counted from 0 as Keras' `LearningRateScheduler`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrSchedule {
    /// Learning rate of the first epoch.
    pub initial: f64,
    /// Factor applied per epoch (1.0 for a constant rate).
    pub decay: f64,
}

impl LrSchedule {
    /// The learning rate for a 0-based epoch.
    ///
    /// ```
    /// # use trainer::stages::LrSchedule;
    /// let s = LrSchedule { initial: 0.01, decay: 0.6 };
    /// assert!((s.at(2) - 0.0036).abs() < 1e-12);
    /// ```
    pub fn at(&self, epoch: usize) -> f64 {
        self.initial * self.decay.powi(epoch as i32)
    }
}

/// How a stage is trained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipe {
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// The per-epoch learning rate.
    pub schedule: LrSchedule,
    /// Images per mini-batch.
    pub batch_size: usize,
    /// Epochs in a full run.
    pub epochs: usize,
}

const DECAY_06: LrSchedule = LrSchedule {
    initial: 0.01,
    decay: 0.6,
};

impl Stage {
    /// Every stage, in the codelab's order.
    pub const ALL: [Stage; 9] = [
        Stage::Dense1,
        Stage::DenseSigmoid,
        Stage::DenseReluAdam,
        Stage::DenseLrDecay,
        Stage::DenseDeep,
        Stage::DenseDropout,
        Stage::Cnn,
        Stage::CnnDropout,
        Stage::CnnBatchNorm,
    ];

    /// The CLI and file name of the stage.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Dense1 => "dense1",
            Stage::DenseSigmoid => "dense-sigmoid",
            Stage::DenseReluAdam => "dense-relu-adam",
            Stage::DenseLrDecay => "dense-lr-decay",
            Stage::DenseDeep => "dense-deep",
            Stage::DenseDropout => "dense-dropout",
            Stage::Cnn => "cnn",
            Stage::CnnDropout => "cnn-dropout",
            Stage::CnnBatchNorm => "cnn-bn",
        }
    }

    /// A one-line description of the network.
    pub fn description(self) -> &'static str {
        match self {
            Stage::Dense1 => "784 -> 10 softmax",
            Stage::DenseSigmoid => "784 -> 200 -> 60 -> 10, sigmoid",
            Stage::DenseReluAdam => "784 -> 200 -> 60 -> 10, relu",
            Stage::DenseLrDecay => "784 -> 200 -> 60 -> 10, relu, lr decay",
            Stage::DenseDeep => "784 -> 200 -> 100 -> 60 -> 10, relu",
            Stage::DenseDropout => "dense-deep + dropout 0.25",
            Stage::Cnn => "conv 12/24/32 -> 200 -> 10",
            Stage::CnnDropout => "cnn + dropout 0.25",
            Stage::CnnBatchNorm => "cnn + batch norm + dropout 0.3",
        }
    }

    /// Test accuracy Keras reached with the same recipe on this kind of machine (seed 0).
    pub fn keras_accuracy(self) -> f64 {
        match self {
            Stage::Dense1 => 0.8977,
            Stage::DenseSigmoid => 0.7751,
            Stage::DenseReluAdam => 0.9781,
            Stage::DenseLrDecay => 0.9830,
            Stage::DenseDeep => 0.9813,
            Stage::DenseDropout => 0.9766,
            Stage::Cnn => 0.9921,
            Stage::CnnDropout => 0.9927,
            Stage::CnnBatchNorm => 0.9950,
        }
    }

    /// The codelab notebook's hyper-parameters for this stage.
    pub fn recipe(self) -> Recipe {
        let (optimizer, schedule, batch_size) = match self {
            Stage::Dense1 | Stage::DenseSigmoid => (
                OptimizerKind::Sgd,
                LrSchedule {
                    initial: 0.01,
                    decay: 1.0,
                },
                128,
            ),
            Stage::DenseReluAdam => (
                OptimizerKind::Adam,
                LrSchedule {
                    initial: 0.001,
                    decay: 1.0,
                },
                128,
            ),
            Stage::DenseLrDecay
            | Stage::DenseDeep
            | Stage::DenseDropout
            | Stage::Cnn
            | Stage::CnnDropout => (OptimizerKind::Adam, DECAY_06, 128),
            Stage::CnnBatchNorm => (
                OptimizerKind::Adam,
                LrSchedule {
                    initial: 0.01,
                    decay: 0.666,
                },
                64,
            ),
        };
        Recipe {
            optimizer,
            schedule,
            batch_size,
            epochs: 10,
        }
    }

    /// A freshly initialised network for this stage.
    pub fn init_model(self, device: &Device) -> Model {
        use Activation::{Relu, Sigmoid};
        match self {
            Stage::Dense1 => Model::Dense(DenseNet::new(&[], Relu, None, device)),
            Stage::DenseSigmoid => Model::Dense(DenseNet::new(&[200, 60], Sigmoid, None, device)),
            Stage::DenseReluAdam | Stage::DenseLrDecay => {
                Model::Dense(DenseNet::new(&[200, 60], Relu, None, device))
            }
            Stage::DenseDeep => Model::Dense(DenseNet::new(&[200, 100, 60], Relu, None, device)),
            Stage::DenseDropout => {
                Model::Dense(DenseNet::new(&[200, 100, 60], Relu, Some(0.25), device))
            }
            Stage::Cnn => Model::Conv(ConvNet::new(None, false, device)),
            Stage::CnnDropout => Model::Conv(ConvNet::new(Some(0.25), false, device)),
            Stage::CnnBatchNorm => Model::Conv(ConvNet::new(Some(0.3), true, device)),
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Stage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
                format!("unknown stage `{s}`; stages are: {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_match_the_codelab() {
        let device = Device::flex();
        let expected = [
            (Stage::Dense1, 7_850),
            (Stage::DenseSigmoid, 169_670),
            (Stage::DenseReluAdam, 169_670),
            (Stage::DenseDeep, 183_770),
            (Stage::DenseDropout, 183_770),
            (Stage::Cnn, 354_002),
            (Stage::CnnDropout, 354_002),
            (Stage::CnnBatchNorm, 354_002),
        ];
        for (stage, params) in expected {
            let model = stage.init_model(&device.clone().autodiff());
            assert_eq!(model.trainable_params(), params, "{stage}");
        }
    }

    #[test]
    fn lr_schedules_follow_the_notebooks() {
        let bn = Stage::CnnBatchNorm.recipe();
        assert_eq!(bn.batch_size, 64);
        assert!((bn.schedule.at(0) - 0.01).abs() < 1e-15);
        assert!((bn.schedule.at(3) - 0.01 * 0.666f64.powi(3)).abs() < 1e-15);
        let adam = Stage::DenseReluAdam.recipe();
        assert_eq!(adam.schedule.at(9), 0.001);
        assert_eq!(Stage::Dense1.recipe().optimizer, OptimizerKind::Sgd);
        let decay = Stage::DenseDeep.recipe().schedule;
        assert!((decay.at(1) / decay.at(0) - 0.6).abs() < 1e-12);
        assert!(Stage::ALL.iter().all(|s| s.recipe().epochs == 10));
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for stage in Stage::ALL {
            assert_eq!(stage.name().parse::<Stage>(), Ok(stage));
        }
        let err = "cnn-bm".parse::<Stage>().unwrap_err();
        assert!(err.contains("cnn-bn"), "{err}");
    }
}
