"""What a trained model needs at prediction time: the classifier interfaces, the model families,
the MLflow pyfunc and its output contract, the segmenter, target matching, and where models are
stored and what they are called.

This package imports nothing from `training` or `serving`: it is logged with every registered
model (MLflow `code_paths`), so a model loads wherever its logged requirements are installed.
"""
