"""Datasets and torchdata.nodes pipelines."""
