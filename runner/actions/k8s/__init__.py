"""Helpers of the kubernetes.* actions (runner/actions/kubernetes.py), imported only through that module."""
