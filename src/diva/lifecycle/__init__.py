"""The lifecycle wing: evidence → releases → checkpoints → release checks → gate →
proposals. Reads git, DVC, MLflow and the registry; writes only through proposals."""
