"""The fireline lab: an emulator of the Kubernetes API subset fireline uses, with a deployment controller.

Real ``kubectl`` and the official ``kubernetes`` Python client work against it. Standard library only.
"""

from __future__ import annotations

from .cluster import CONTEXT_NAME, DEFAULT_NAMESPACE, LabCluster, LabConfig, demo_deployment, kubeconfig_text

__all__ = ["CONTEXT_NAME", "DEFAULT_NAMESPACE", "LabCluster", "LabConfig", "demo_deployment", "kubeconfig_text"]
