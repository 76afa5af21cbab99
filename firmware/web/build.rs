//! Embeds the model the page runs (the board's) with the scratch size it needs.

fn main() {
    let root = std::path::Path::new("../..");
    // The board's limit: the page refuses what the board would.
    model_embed::embed(
        &[("MODEL", model_embed::board_model(root, "i8"))],
        model_embed::BOARD_SCRATCH_BYTES,
    );
}
