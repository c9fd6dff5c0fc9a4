"""Input novelty: how much of a prompt's vocabulary the current version's reference traffic never used.

The reference is a fixed-size bitset of hashed word unigrams and bigrams, filled from the first
prompts a version serves and frozen afterwards. A prompt's novelty is the share of its n-grams
whose bit is unset: 0 for familiar wording, close to 1 for a different domain.

An ASCII prompt (nearly every one) is hashed and checked in C (`_novelty`, built with the package
where a C compiler is found; 0.4 µs against 9.6 µs in Python for a 20-word prompt), without a list
of hashes in between. The Python code below is the definition, the path for other prompts, and
the whole path where the extension is missing (`NATIVE` is False then) or switched off
(`use_native`, the setting `ADAPTLOOP_DRIFT_NATIVE_NOVELTY`); both give the same hashes.
"""

from __future__ import annotations

import re
import zlib
from itertools import pairwise, repeat
from types import ModuleType

_built: ModuleType | None
try:
    from adaptloop_drift import _novelty as _built
except ImportError:  # installed without a C compiler: the same values, computed in Python
    _built = None
NATIVE = _built is not None
"""Whether the C extension was built with this install."""
_novelty: ModuleType | None = _built
"""The extension while it is used (`use_native`), else None."""
MAX_TOKENS = 256
"""Only a prompt's first tokens count."""

_TOKEN = re.compile(r"[a-z]+|\d+")
_crc32 = zlib.crc32

_ASCII_TOKENS = bytes(c + 32 if 65 <= c <= 90 else c if 97 <= c <= 122 else 35 if 48 <= c <= 57 else 32
                      for c in range(256))
"""ASCII bytes as the tokenizer sees them: letters lower-cased, digits `#`, everything else a space."""


def use_native(enabled: bool) -> bool:
    """Hash ASCII prompts in the C extension (when built) or in Python; True when the extension is in use."""
    global _novelty
    _novelty = _built if enabled else None
    return _novelty is not None


def prompt_features(prompt: str, max_tokens: int = MAX_TOKENS) -> list[int]:
    """Deterministic 32-bit hashes of the prompt's word unigrams and bigrams (digit runs collapsed).

    The hashes are those of `_reference_features`; an ASCII prompt (nearly every one) is tokenized
    by C-level byte operations instead of the regex and hashed with C-level maps: a bigram's hash
    continues its first word's CRC-32 over a space and the second word.
    """
    if not prompt.isascii():
        return _reference_features(prompt, max_tokens)
    text = prompt.encode().translate(_ASCII_TOKENS)
    if b"#" in text:  # one "#" token per digit run
        while b"##" in text:
            text = text.replace(b"##", b"#")
        text = text.replace(b"#", b" # ")
    tokens = text.split()
    if len(tokens) > max_tokens:
        del tokens[max_tokens:]
    feats = list(map(_crc32, tokens))
    if len(tokens) > 1:
        feats += map(_crc32, tokens[1:], map(_crc32, repeat(b" "), feats))
    return feats


def _reference_features(prompt: str, max_tokens: int = MAX_TOKENS) -> list[int]:
    """The definition (and the path for non-ASCII prompts): regex words of the lower-cased prompt."""
    tokens = ["#" if t[0].isdigit() else t for t in _TOKEN.findall(prompt.lower())[:max_tokens]]
    feats = [zlib.crc32(t.encode()) for t in tokens]
    feats.extend(zlib.crc32(f"{a} {b}".encode()) for a, b in pairwise(tokens))
    return feats


class ReferenceVocabulary:
    """Hashed n-gram vocabulary of a version's reference traffic.

    Parameters
    ----------
    reference_prompts
        How many first prompts fill the reference before it is frozen.
    bits
        Size of the bitset (a power of two); 65,536 bits keep collisions near 3% for
        a few thousand distinct n-grams in 8 KiB.

    Examples
    --------
    >>> vocab = ReferenceVocabulary(reference_prompts=2, bits=1024)
    >>> vocab.update("What is the margin on the bond book?").update("What is the bond yield?").frozen
    True
    >>> round(vocab.novelty("What is the bond margin?"), 2)  # only the bigram "bond margin" is new
    0.11
    >>> vocab.novelty("Tighten the steering knuckle") > 0.6
    True
    """

    def __init__(self, reference_prompts: int = 200, bits: int = 1 << 16) -> None:
        if bits & (bits - 1):
            raise ValueError("bits must be a power of two")
        self.reference_prompts = reference_prompts
        self.bits = bits
        self._reset()

    def _reset(self) -> None:
        self._bitset = bytearray(self.bits // 8)
        self._mask = self.bits - 1
        self._seen = 0

    @property
    def frozen(self) -> bool:
        """True once the reference holds `reference_prompts` prompts."""
        return self._seen >= self.reference_prompts

    @property
    def prompts_seen(self) -> int:
        return self._seen

    def update(self, prompt: str) -> ReferenceVocabulary:
        """Add a prompt to the reference while it is not frozen."""
        if not self.frozen:
            bitset, mask = self._bitset, self._mask
            if _novelty is not None and _novelty.mark(prompt, bitset, mask, MAX_TOKENS):
                self._seen += 1
                return self
            for h in prompt_features(prompt):
                i = h & mask
                bitset[i >> 3] |= 1 << (i & 7)
            self._seen += 1
        return self

    def novelty(self, prompt: str) -> float:
        """Share of the prompt's n-grams absent from the reference (0 for an empty prompt)."""
        if _novelty is not None:
            share = _novelty.novelty(prompt, self._bitset, self._mask, MAX_TOKENS)
            if share is not None:
                return share
        feats = prompt_features(prompt)
        if not feats:
            return 0.0
        bitset, mask = self._bitset, self._mask
        unseen = 0
        for h in feats:
            i = h & mask
            if not bitset[i >> 3] & (1 << (i & 7)):
                unseen += 1
        return unseen / len(feats)
