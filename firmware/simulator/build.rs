//! Embeds the model the simulator runs (the board's) with the scratch size it needs.

fn main() {
    model_embed::embed(&[("MODEL", "../../models/cnn-bn.i8.mnef")]);
}
