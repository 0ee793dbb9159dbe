"""Changes proposed by pull request: a promotion, a release pin, MLflow alias moves."""
