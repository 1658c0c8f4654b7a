"""A tiny ViT trained briefly on demo data, for UI tests that need a real trained model."""

from __future__ import annotations


def trained_tiny_bundle(dataset, epochs: int = 2):
    """A ModelBundle: window 32, step 16, 16-wide embedding, one block, `epochs` epochs on a
    random window split of `dataset`."""
    from har_studio.data import SplitConfig, WindowConfig
    from har_studio.training import (
        TrainConfig,
        default_model_config,
        prepare_data,
        run_to_end,
        train,
    )

    prepared = prepare_data(dataset, WindowConfig(size=32, step=16),
                            SplitConfig(kind="random", seed=0))
    config = default_model_config(prepared, embedding_dim=16, head_num=2, att_size=8, depth=1,
                                  head_width=32)
    return run_to_end(train(prepared, config, TrainConfig(
        epochs=epochs, batch_size=32, patience=0, device="cpu", precision="fp32"))).bundle
