"""dvcore-example-plugin: a backbone, a dataset, a metric and a task, written against dvcore.api only.

- backbone ``example_convnet``: a residual conv net conditioned on t (``model.py``)
- dataset ``example_drift``: clips of smooth random colour fields drifting at constant speed (``data.py``)
- metric ``example_mae``: mean absolute error per image (``metric.py``)
- task ``example_extrapolate``: the next frame from the previous ones (``task.py``)
"""
