//! Embeds the model the simulator runs (the board's) with the scratch size it needs.

fn main() {
    let root = std::path::Path::new("../..");
    model_embed::embed(&[("MODEL", model_embed::board_model(root, "i8"))]);
}
