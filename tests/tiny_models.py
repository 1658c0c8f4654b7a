"""A tiny ViT trained briefly on demo data, for tests that need a real trained model, and
``drain``: a progress generator's items and result."""

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


TINY = dict(embedding_dim=16, head_width=32, depth=2, head_num=2, att_size=8)


def drain(gen) -> tuple[list, object]:
    """Every item a progress generator yields, and what it returns."""
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return items, stop.value


def saved_base_model(folder, activities, *, subjects: int, seconds: float, epochs: int):
    """A tiny model (window 32, step 16) trained `epochs` epochs on every window of demo
    people 1..`subjects`, saved as ``folder/base.harmodel``; returns the path."""
    from har_studio.data.demo import demo_dataset
    from har_studio.data.splits import SplitConfig
    from har_studio.data.windows import WindowConfig
    from har_studio.model.io import save_model
    from har_studio.training import TrainConfig, default_model_config, prepare_data, run_to_end
    from har_studio.training import train as train_model

    dataset = demo_dataset(subjects=subjects, seconds_per_activity=seconds,
                           activities=activities)
    prepared = prepare_data(dataset, WindowConfig(size=32, step=16),
                            SplitConfig(test_fraction=0.0, val_fraction=0.0))
    result = run_to_end(train_model(prepared, default_model_config(prepared, **TINY),
                                    TrainConfig(epochs=epochs, batch_size=32, device="cpu",
                                                precision="fp32", patience=0,
                                                keep_best=False)))
    path = folder / "base.harmodel"
    save_model(path, result.bundle)
    return path
