"""Inputs: scenario files and submission manifests, validated, and the dialect of a submission."""
