import runtree as wandb

original_run = wandb.init(project="your_project_name", entity="your_entity_name")
for i in range(300):
    original_run.log({"metric": i, "loss": 1.0 / (i + 1)})
original_run.finish()

forked_run = wandb.init(
    project="your_project_name",
    entity="your_entity_name",
    fork_from=f"{original_run.id}?_step=200",
)
for i in range(200, 250):
    forked_run.log({"metric": i * 2})
forked_run.finish()
