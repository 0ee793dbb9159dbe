"""diva monitor: stage 5 model management."""
