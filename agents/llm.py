"""LLM backend plumbing: any OpenAI-compatible endpoint through the ``openai`` client.

What makes it safe to put in a migration path:
- structured output: the pydantic model's JSON schema is sent as ``response_format`` and the reply
  is parsed with ``model_validate_json``; a reply that does not parse is asked again;
- a semantic validator (supplied by the caller) rejects replies naming a table, column or label
  the schema does not have, and the question is asked again with the reason; after
  ``max_attempts`` the caller's heuristic answer stands (and the fallback is logged);
- transport errors are retried with exponential backoff (tenacity);
- replies are cached on disk by the hash of (model, prompt), so re-running a plan is reproducible
  and free;
- prompts carry schema and a bounded number of sample values; the API key never leaves the client.
"""

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


def _transient() -> tuple[type[Exception], ...]:
    import openai

    return (
        openai.APIConnectionError,
        openai.APITimeoutError,
        openai.RateLimitError,
        openai.InternalServerError,
    )


@dataclass(frozen=True)
class LLMConfig:
    model: str
    base_url: str | None = None
    api_key: str | None = None
    max_sample_values: int = 20
    max_attempts: int = 3
    transport_retries: int = 4
    timeout_s: float = 60.0
    cache_dir: Path | None = None

    @classmethod
    def from_env(
        cls, model: str | None = None, *, cache_dir: Path | None = None, max_sample_values: int = 20
    ) -> "LLMConfig | None":
        """Configured when a model is named (argument or DBMIGRATE_LLM_MODEL)."""
        model = model or os.environ.get("DBMIGRATE_LLM_MODEL")
        if not model:
            return None
        return cls(
            model=model,
            base_url=os.environ.get("OPENAI_BASE_URL"),
            api_key=os.environ.get("OPENAI_API_KEY"),
            cache_dir=cache_dir,
            max_sample_values=max_sample_values,
        )


@dataclass
class LLMStats:
    requests: int = 0
    cache_hits: int = 0
    rejected_replies: int = 0
    fallbacks: int = 0
    reasons: list[str] = field(default_factory=list)


class LLMClient:
    """Asks one structured question at a time; returns ``None`` when no valid answer came."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self.stats = LLMStats()
        # Imported here: the SDK takes ~0.4 s to import, and most runs never ask an LLM.
        import openai

        self._openai = openai
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "none",
            max_retries=0,
            timeout=config.timeout_s,
        )

    def _cache_path(self, key: str) -> Path | None:
        if self.config.cache_dir is None:
            return None
        return self.config.cache_dir / f"{key}.json"

    def ask(
        self,
        *,
        system: str,
        user: str,
        model: type[M],
        validate: Callable[[M], str | None] | None = None,
    ) -> M | None:
        """Ask until a reply parses and passes ``validate`` (which returns a reason or None)."""
        messages: list[dict[str, str]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        key = hashlib.sha256(json.dumps([self.config.model, system, user]).encode()).hexdigest()
        cached = self._cache_path(key)
        if cached and cached.exists():
            try:
                answer = model.model_validate_json(cached.read_text())
                if validate is None or validate(answer) is None:
                    self.stats.cache_hits += 1
                    return answer
            except ValidationError:
                pass
        for attempt in range(1, self.config.max_attempts + 1):
            content = self._complete(messages, model)
            if content is None:
                break
            reason: str | None
            try:
                answer = model.model_validate_json(_strip_fences(content))
                reason = validate(answer) if validate else None
            except ValidationError as exc:
                reason = f"the reply is not valid JSON for the schema: {exc.errors()[0]['msg']}"
            if reason is None:
                if cached:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    cached.write_text(answer.model_dump_json())
                return answer
            self.stats.rejected_replies += 1
            log.warning("LLM reply rejected (attempt %d): %s", attempt, reason)
            messages += [
                {"role": "assistant", "content": content[:4000]},
                {
                    "role": "user",
                    "content": f"Your reply was rejected: {reason}. "
                    "Answer again, following the rules.",
                },
            ]
        self.stats.fallbacks += 1
        self.stats.reasons.append("no valid LLM reply; the heuristic answer stands")
        log.warning(
            "no valid LLM reply after %d attempts; keeping the heuristic answer",
            self.config.max_attempts,
        )
        return None

    def _complete(self, messages: list[dict[str, str]], model: type[BaseModel]) -> str | None:
        schema = {"name": model.__name__, "schema": model.model_json_schema(), "strict": False}
        try:
            for attempt in Retrying(
                stop=stop_after_attempt(self.config.transport_retries),
                wait=wait_exponential(multiplier=0.2, max=5),
                retry=retry_if_exception_type(_transient()),
                reraise=True,
            ):
                with attempt:
                    self.stats.requests += 1
                    # The SDK's overloads are typed per model name; we pass plain data.
                    create: Any = self._client.chat.completions.create
                    resp = create(
                        model=self.config.model,
                        messages=messages,
                        temperature=0,
                        response_format={"type": "json_schema", "json_schema": schema},
                    )
                    return resp.choices[0].message.content or ""
        except (self._openai.OpenAIError, IndexError) as exc:
            # The message may echo the endpoint; it never holds the key.
            log.warning("LLM request failed: %s", type(exc).__name__)
            self.stats.reasons.append(f"LLM request failed ({type(exc).__name__})")
        return None


def _strip_fences(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text
