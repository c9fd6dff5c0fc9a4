"""`tool_choice: auto` with vLLM's own means: its reading of a chat template's variables and its tool-call parsers.

A model can answer `auto` when its chat template shows it the tools (the template reads the `tools`
variable, found the way vLLM finds which keyword arguments a template takes) and a parser of the syntax it
writes calls in is configured (a name from vLLM's `ToolParserManager`, as vLLM's `--tool-call-parser`).
"""

from __future__ import annotations

from typing import Any

from adaptloop_inference.ports import ParsedToolCalls, ToolSupport

PROBE_TOOLS: list[dict[str, Any]] = [{"type": "function", "function": {
    "name": "probe", "parameters": {"type": "object", "properties": {}}}}]
"""One tool, to ask the parser how it adjusts a request and which template the tokenizer picks for tools."""


def template_variables(template: str) -> frozenset[str]:
    """The variables a Jinja chat template reads from outside (vLLM's own reading, when it has one)."""
    try:
        from vllm.renderers.hf import _cached_resolve_chat_template_kwargs as variables
    except ImportError:  # releases that moved it: the same reading with jinja2 itself
        import jinja2.ext
        import jinja2.meta
        import jinja2.sandbox

        env = jinja2.sandbox.ImmutableSandboxedEnvironment(extensions=[jinja2.ext.loopcontrols])
        return frozenset(jinja2.meta.find_undeclared_variables(env.parse(template)))
    return frozenset(variables(template))


def template_renders_tools(tokenizer: Any) -> bool:
    """Whether the chat template the tokenizer uses for a request with tools reads `tools`."""
    try:
        template = tokenizer.get_chat_template(None, tools=PROBE_TOOLS)
    except ValueError:  # no chat template at all
        return False
    return "tools" in template_variables(template)


class VllmToolCalls:
    """The base model's tool support; reads calls out of free answers with the configured vLLM parser."""

    def __init__(self, tokenizer: Any, parser: str | None) -> None:
        self._tokenizer = tokenizer
        self._parser_cls = parser_class(parser) if parser else None
        keeps = False
        if self._parser_cls is not None:
            request = _vllm_request(PROBE_TOOLS)
            try:  # fails here, at start, when the parser cannot work with this tokenizer
                adjusted = self._parser_cls(tokenizer, request.tools).adjust_request(request)
            except Exception as exc:
                raise ValueError(f"tool-call parser {parser!r} cannot be used with this model's tokenizer: {exc}") \
                    from exc
            keeps = adjusted.skip_special_tokens is False
        self.support = ToolSupport(template_renders_tools(tokenizer), parser or None, keeps)

    def extract(self, text: str, tools: list[dict[str, Any]]) -> ParsedToolCalls:
        if self._parser_cls is None:
            raise RuntimeError("no tool-call parser is configured")
        request = _vllm_request(tools)
        found = self._parser_cls(self._tokenizer, request.tools).extract_tool_calls(text, request)
        if not found.tools_called or not found.tool_calls:
            return ParsedToolCalls(text)
        return ParsedToolCalls(found.content or None,
                               tuple((call.function.name, call.function.arguments) for call in found.tool_calls))


def parser_class(name: str) -> Any:
    """vLLM's tool-call parser registered under `name`; a ValueError listing the registered ones otherwise."""
    from vllm.tool_parsers import ToolParserManager

    try:
        return ToolParserManager.get_tool_parser(name)
    except KeyError:
        raise ValueError(f"no tool-call parser {name!r} in vLLM; it has: "
                         f"{', '.join(ToolParserManager.list_registered())}") from None


def _vllm_request(tools: list[dict[str, Any]]) -> Any:
    """vLLM's own chat request model, which its parsers read the tools from."""
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest

    return ChatCompletionRequest.model_validate({"model": "-", "messages": [{"role": "user", "content": ""}],
                                                 "tools": tools, "tool_choice": "auto"})
