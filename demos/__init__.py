"""The data pipeline: record expert demos, add DAgger demos, render their images, encode frozen features.

Modules, in pipeline order (each a ``python -m`` command, its usage in its docstring):
``demos.files`` (the demo file layout and recording settings), ``demos.record`` (scripted-expert demos),
``demos.dagger`` (policy-visited states labelled by the expert), ``demos.render`` (images from stored
states) and ``demos.features`` (EfficientNet-Lite0 and MiniLM features for training; the training set
itself is loaded by ``policies.vla.data``). Nothing is imported here, so ``python -m demos.<module>``
loads only what that step needs.
"""
