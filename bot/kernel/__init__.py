"""The kernel: what every domain and the application share, importing nothing else of qunbot.

Events and decisions (`events`), the pipeline and its stage context (`pipeline`), chat commands
(`commands`), the vocabulary of platform actions and capabilities (`actions`), outbox priorities
(`priorities`), the injectable clock (`clock`) and durations (`durations`). An import contract
in pyproject.toml ([tool.importlinter]) keeps it free of the rest of qunbot.
"""
