"""Every media type wandb logs, as a W&B user writes it: run with `import wandb` (offline) or, unchanged but for
the import, with runtree (tests/integration/test_media_parity.py runs it both ways and compares the rows)."""

import io
import sys
import wave

import numpy as np

if "--runtree" in sys.argv:
    import runtree as wandb
else:
    import wandb

rng = np.random.default_rng(0)
wav = io.BytesIO()
with wave.open(wav, "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(8000)
    w.writeframes((np.sin(np.linspace(0, 300, 8000)) * 20000).astype("<i2").tobytes())
with open("beep.wav", "wb") as f:
    f.write(wav.getvalue())

run = wandb.init(project="media-parity", id="parity01", config={"lr": 0.01})
for step in range(3):
    table = wandb.Table(columns=["id", "label", "score"])
    for i in range(4):
        table.add_data(i, f"class{(i + step) % 3}", float(i * step) / 10)
    run.log(
        {
            "loss": 1.0 / (step + 1),
            "img": wandb.Image(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), caption=f"step {step}"),
            "gray": wandb.Image(np.linspace(0, 1, 16 * 16).reshape(16, 16)),
            "detections": wandb.Image(
                rng.integers(0, 256, (16, 16, 3), dtype=np.uint8),
                boxes={
                    "predictions": {
                        "box_data": [
                            {
                                "position": {"minX": 0.1, "maxX": 0.5, "minY": 0.2, "maxY": 0.6},
                                "class_id": 1,
                                "box_caption": "cat",
                                "scores": {"acc": 0.9},
                            }
                        ],
                        "class_labels": {1: "cat", 2: "dog"},
                    }
                },
                masks={"segmentation": {"mask_data": (np.arange(256).reshape(16, 16) % 3), "class_labels": {0: "bg", 1: "a", 2: "b"}}},
            ),
            "pair": [wandb.Image(np.zeros((8, 8, 3), dtype=np.uint8)), wandb.Image(np.full((8, 8, 3), 255, dtype=np.uint8))],
            "preds": table,
            "weights": wandb.Histogram(rng.normal(step, 1, 1000)),
            "counts": wandb.Histogram(np_histogram=np.histogram(np.arange(10 + step), bins=5)),
            "grad": np.linspace(-1, 1, 100) * step,
            "few": np.arange(4) + step,
            "tags": ["a", "b", step],
            "page": wandb.Html(f"<h1>step {step}</h1>"),
            "cloud": wandb.Object3D(rng.normal(0, 1, (20, 3))),
            "sound": wandb.Audio("beep.wav", caption="beep"),
            "nested": {"val": {"acc": 0.5 + step / 10}},
        }
    )
run.log({"curve": wandb.plot.line(wandb.Table(columns=["x", "y"], data=[[1, 1.0], [2, 4.0], [3, 9.0]]), "x", "y", title="squares")})
run.finish()
