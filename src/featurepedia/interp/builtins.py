"""The built-in explainers and scorers: one line each (imported lazily, on first use)."""

from featurepedia.interp.registry import register_explainer, register_scorer

register_explainer("token-list", "featurepedia.interp.explainers.token_list:TokenListExplainer")
register_explainer("local-lm", "featurepedia.interp.explainers.local_lm:LocalLMExplainer")
register_explainer("openai", "featurepedia.interp.explainers.openai:OpenAIExplainer")

register_scorer("embedding", "featurepedia.interp.scorers.embedding:EmbeddingScorer")
register_scorer("simulation", "featurepedia.interp.scorers.simulation:SimulationScorer")
register_scorer("detection", "featurepedia.interp.scorers.detection:DetectionScorer")
register_scorer("fuzzing", "featurepedia.interp.scorers.fuzzing:FuzzingScorer")
register_scorer("form", "featurepedia.interp.scorers.form:FormScorer")
register_explainer("pattern", "featurepedia.interp.explainers.pattern:PatternExplainer")
