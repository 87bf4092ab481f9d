"""The seed's agent roles as plain, typed libraries (no Dagster imports here).

Schema analysis, planning, data mapping, execution, validation and user guidance each live in
their own module; each has a deterministic heuristic backend and, where judgement helps, an LLM
backend behind the same contract.
"""
