"""Business scenario corpora and a tiny local model for adaptloop tests and demos.

:mod:`adaptloop_scenarios.corpus` needs only the standard library;
:mod:`adaptloop_scenarios.tiny_model` needs the ``model`` extra
(torch, transformers, tokenizers, safetensors).
"""
