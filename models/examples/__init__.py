"""Example pipelines for real convnets on image folders, with the scripts that write their data."""
