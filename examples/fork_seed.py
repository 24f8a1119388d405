import runtree as wandb
import math

run1 = wandb.init("your_project_name", entity="your_entity_name")
for i in range(300):
    run1.log({"metric": i})
run1.finish()

run2 = wandb.init(
    "your_project_name", entity="your_entity_name", fork_from=f"{run1.id}?_step=200"
)
for i in range(200, 300):
    if i < 250:
        run2.log({"metric": i})
    else:
        subtle_spike = i + (2 * math.sin(i / 3.0))
        run2.log({"metric": subtle_spike})
    run2.log({"additional_metric": i * 1.1})
run2.finish()
