"""The practice environment: an emulated Kubernetes cluster, a throwaway PostgreSQL and a demo service."""
