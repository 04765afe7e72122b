"""Generation history kept with the document: recorded on apply, re-applied, and kept in .ora files."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from studio.canvas.document import CanvasDocument
from studio.canvas.errors import CanvasError
from studio.canvas.generation import add_generated_layer, plan_generation, reapply_record
from studio.canvas.generation_log import MAX_BYTES, MAX_RECORDS, GenerationLog, GenerationRecord
from studio.canvas.geometry import Rect
from studio.canvas.ora import HISTORY_ENTRY, load_ora, ora_bytes
from studio.canvas.selection import Selection

PARAMS = {
    "prompt": "a red fox in snow",
    "negative_prompt": "blurry",
    "seed": 1234567,
    "steps": 4,
    "cfg": 1.5,
    "sampler": "Euler a",
    "scheduler": "euler_a",
    "model": "tiny-sd",
    "width": 64,
    "height": 64,
}


def generated(doc: CanvasDocument, rect: Rect, colour: tuple[int, int, int]) -> CanvasDocument:
    plan = plan_generation(doc, Selection.rectangle(rect), 64, feather=0)
    rgb = np.zeros((plan.model_size[1], plan.model_size[0], 3), dtype=np.uint8)
    rgb[:, :] = colour
    add_generated_layer(doc, plan, rgb, PARAMS)
    return doc


def test_applying_a_result_records_it_with_parameters_and_image() -> None:
    doc = generated(CanvasDocument(64, 48), Rect(8, 8, 16, 16), (255, 0, 0))
    (record,) = doc.generation_log.records
    assert record.prompt == "a red fox in snow" and record.seed == 1234567
    assert record.parameters["steps"] == 4 and record.parameters["sampler"] == "Euler a"
    assert record.layer_id == doc.active_layer.id and record.layer_name == doc.active_layer.name
    assert record.canvas_size == (64, 48)
    assert np.array_equal(record.image, doc.active_layer.pixels[record.region.slices])
    # Undo removes the layer, not the record of how it was made.
    doc.history.undo()
    assert len(doc.generation_log) == 1


def test_reapply_adds_the_result_again_as_one_undo_step() -> None:
    doc = generated(CanvasDocument(64, 48), Rect(8, 8, 16, 16), (255, 0, 0))
    first = doc.active_layer.pixels.copy()
    doc.history.undo()
    layer = reapply_record(doc, doc.generation_log.records[0])
    assert np.array_equal(layer.pixels, first)
    assert layer.provenance is not None and layer.provenance["seed"] == 1234567
    assert doc.history.undo_label == "Re-apply generation"
    doc.resize_canvas(10, 10)
    with pytest.raises(CanvasError, match="outside"):
        reapply_record(
            doc, GenerationRecord(PARAMS, np.zeros((4, 4, 4), np.uint8), Rect(20, 20, 4, 4), (64, 48))
        )


def test_history_round_trips_through_openraster() -> None:
    doc = generated(CanvasDocument(64, 48), Rect(8, 8, 16, 16), (255, 0, 0))
    generated(doc, Rect(30, 10, 20, 20), (0, 0, 255))
    data = ora_bytes(doc)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read(HISTORY_ENTRY))
    assert HISTORY_ENTRY in names and sum(name.startswith("studio/history/") for name in names) == 2
    assert [r["parameters"]["seed"] for r in manifest["records"]] == [1234567, 1234567]
    loaded = load_ora(data)
    assert [r.id for r in loaded.generation_log.records] == [r.id for r in doc.generation_log.records]
    for original, copy in zip(doc.generation_log.records, loaded.generation_log.records, strict=True):
        assert copy.parameters == original.parameters and copy.region == original.region
        assert np.array_equal(copy.image, original.image)
        assert (copy.layer_id, copy.layer_name, copy.created) == (
            original.layer_id,
            original.layer_name,
            original.created,
        )


def test_a_damaged_history_is_dropped_not_the_file() -> None:
    doc = generated(CanvasDocument(64, 48), Rect(8, 8, 16, 16), (255, 0, 0))
    source = io.BytesIO(ora_bytes(doc))
    out = io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == HISTORY_ENTRY:
                manifest = json.loads(data)
                bad = dict(manifest["records"][0], id="../../evil")
                manifest["records"] += [bad, {"id": "nope"}, "junk"]
                data = json.dumps(manifest).encode()
            new.writestr(info, data)
    loaded = load_ora(out.getvalue())
    assert len(loaded.generation_log) == 1 and len(loaded.layers) == 2
    broken = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as old, zipfile.ZipFile(broken, "w") as new:
        for info in old.infolist():
            new.writestr(info, b"{not json" if info.filename == HISTORY_ENTRY else old.read(info))
    assert len(load_ora(broken.getvalue()).generation_log) == 0


def test_the_log_keeps_the_newest_records() -> None:
    log = GenerationLog()
    seen: list[int] = []
    log.changed.connect(lambda: seen.append(len(log)))
    for index in range(MAX_RECORDS + 5):
        log.add(GenerationRecord({"seed": index}, np.zeros((1, 1, 4), np.uint8), Rect(0, 0, 1, 1), (1, 1)))
    assert len(log) == MAX_RECORDS and log.records[0].seed == 5 and seen[-1] == MAX_RECORDS
    log.remove(log.records[0].id)
    assert log.records[0].seed == 6
    with pytest.raises(CanvasError, match="no longer"):
        log.get("missing")
    with pytest.raises(CanvasError, match="region"):
        GenerationRecord({}, np.zeros((2, 2, 4), np.uint8), Rect(0, 0, 3, 3), (3, 3))


def test_the_log_keeps_at_most_its_byte_budget_of_images() -> None:
    side = 2048  # 16 MiB a record
    log = GenerationLog()
    big = np.zeros((side, side, 4), np.uint8)
    for seed in range(MAX_BYTES // big.nbytes + 3):
        log.add(GenerationRecord({"seed": seed}, big, Rect(0, 0, side, side), (side, side)))
    assert log.nbytes <= MAX_BYTES and len(log) == MAX_BYTES // big.nbytes
    assert log.records[-1].seed == MAX_BYTES // big.nbytes + 2
