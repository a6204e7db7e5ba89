"""Experiment configs: one YAML file per experiment, validated strictly, with dotted overrides."""
