"""The user-settable model fields are listed once (``training.jobs.MODEL_FIELDS``); the
command-line flags and the Train tab's form must offer exactly those."""

from __future__ import annotations

import dataclasses

from har_studio.model.config import ViTConfig
from har_studio.training.commands import MODEL_FLAGS
from har_studio.training.jobs import MODEL_FIELDS


def test_model_fields_are_vit_fields_and_every_flag_sets_one():
    assert set(MODEL_FIELDS) <= {f.name for f in dataclasses.fields(ViTConfig)}
    assert sorted(MODEL_FLAGS.values()) == sorted(MODEL_FIELDS)


def test_the_train_form_offers_exactly_the_model_fields(qtbot):
    from har_studio.ui.train.settings import TrainSettingsForm

    form = TrainSettingsForm()
    qtbot.addWidget(form)
    assert list(form.model_widgets) == list(MODEL_FIELDS)
