"""The compiler wing: ``diva.yaml`` → source → spec → rules/validate → ir → backends →
render/writer, strung together by :mod:`diva.compiler.pipeline`. Pure up to the writer."""
