"""TensorFlow's string ops: StaticRegexReplace, StringNGrams, StringSplit, StringToHashBucketFast.

Why they are host kernels (registered with ``host_kernel``): their tensors are strings, which live on
the host only (gpu_backend/dtypes.py: object arrays of ``bytes``, as TF returns them), and two of them
size their outputs from the data.  The numeric results (hash bucket ids, split indices, n-gram
splits) are ordinary int32 tensors that downstream nodes take to the device.

Strings are bytes throughout: TF's strings are byte strings, not text, so nothing is decoded except
where TF itself reads UTF-8 (RE2's patterns and matching, see StaticRegexReplace).

int64 outputs (StringSplit's indices and shape, StringToHashBucketFast's ids, StringNGrams' splits
when Tsplits is int64) come back as int32, this project's integer dtype; a value that does not fit
is refused rather than wrapped (bucket ids are < num_buckets, so only a num_buckets above 2**31 can
produce one).

StaticRegexReplace runs TF's RE2 pattern on Python's ``re``, through a translator that keeps RE2's
meaning or refuses the pattern (see ``translate_re2``); the replacement loop is RE2's own, which
differs from ``re.sub`` on empty matches.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..dtypes import STRING, to_host_array
from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..registry import host_kernel
from .farmhash import fingerprint64

_I32 = np.iinfo(np.int32)


def _arity(op: str, inputs: list[np.ndarray], names: tuple[str, ...]) -> list[np.ndarray]:
    if len(inputs) != len(names):
        raise ShapeError(f"{op} takes {len(names)} inputs [{', '.join(names)}], got {len(inputs)}")
    return [np.asarray(a) for a in inputs]


def _strings(op: str, name: str, a: np.ndarray) -> np.ndarray:
    """A string input as an object array of bytes (str elements are UTF-8 encoded, as TF does)."""
    if a.dtype.kind not in "OSU":
        raise UnsupportedDTypeError(f"{op}: {name} must be a string tensor, got {a.dtype}")
    return to_host_array(a, STRING, f"{op}: {name}")


def _text_attr(op: str, attrs: dict, name: str, default: bytes | None = None) -> bytes:
    """A string attribute as bytes: the loader gives str for UTF-8 text and bytes otherwise."""
    v = attrs.get(name, default)
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v)
    raise AttributeValueError(f"{op}: attribute {name} must be a string, got {v!r}")


def _bool_attr(op: str, attrs: dict, name: str, default: bool) -> bool:
    v = attrs.get(name, default)
    if not isinstance(v, (bool, np.bool_)):
        raise AttributeValueError(f"{op}: attribute {name} must be a bool, got {v!r}")
    return bool(v)


def _int_attr(op: str, attrs: dict, name: str, default: int | None = None) -> int:
    v = attrs.get(name, default)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise AttributeValueError(f"{op}: attribute {name} must be an int, got {v!r}")
    return int(v)


def _int32(op: str, name: str, values: list[int] | np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
    a = np.asarray(values, np.int64)
    if shape is not None:
        a = a.reshape(shape)
    if a.size and (a.min() < _I32.min or a.max() > _I32.max):
        raise ShapeError(f"{op}: {name} has values in [{a.min()}, {a.max()}], outside the int32 range this "
                         "runtime uses for int64 tensors")
    return a.astype(np.int32)


# ----------------------------------------------------------------------------- StringToHashBucketFast

@host_kernel("StringToHashBucketFast")
def string_to_hash_bucket_fast(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """out = Fingerprint64(s) % num_buckets for each string (FarmHash, gpu_backend/reference/farmhash.py),
    same shape as the input.  num_buckets >= 1, as TF's op def requires."""
    (x,) = _arity(op, inputs, ("input",))
    s = _strings(op, "input", x)
    buckets = _int_attr(op, attrs, "num_buckets")
    if buckets < 1:
        raise AttributeValueError(f"{op}: num_buckets must be >= 1, got {buckets}")
    ids = [fingerprint64(v) % buckets for v in s.reshape(-1)]
    return [_int32(op, "output (bucket ids)", ids, s.shape)]


# ----------------------------------------------------------------------------- StringSplit

@host_kernel("StringSplit")
def string_split(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """Split each string of a vector into a sparse [N, max tokens] matrix: (indices [M, 2], values [M], shape [2]).

    TF's v1 rule, on bytes: every *byte* of the delimiter is a delimiter by itself (",;" splits on
    either; a multi-byte UTF-8 delimiter splits on each of its bytes); an empty delimiter splits into
    single bytes.  An empty string yields no tokens at all, even with skip_empty=False; otherwise
    skip_empty drops the empty tokens between adjacent delimiters and at the ends.  shape[1] is the
    largest token count (0 when there are none).
    """
    x, d = _arity(op, inputs, ("input", "delimiter"))
    s = _strings(op, "input", x)
    delim = _strings(op, "delimiter", d)
    if s.ndim != 1:
        raise ShapeError(f"{op}: input must be a vector, got shape {list(s.shape)}")
    if delim.ndim != 0:
        raise ShapeError(f"{op}: delimiter must be a scalar, got shape {list(delim.shape)}")
    skip_empty = _bool_attr(op, attrs, "skip_empty", True)
    sep: bytes = delim[()]
    splitter = re.compile(b"[" + b"".join(re.escape(bytes([c])) for c in sorted(set(sep))) + b"]") if sep else None
    rows: list[int] = []
    cols: list[int] = []
    values: list[bytes] = []
    widest = 0
    for r, text in enumerate(s):
        if not text:
            continue
        if splitter is None:
            tokens = [text[i:i + 1] for i in range(len(text))]
        else:
            tokens = splitter.split(text)
            if skip_empty:
                tokens = [t for t in tokens if t]
        rows += [r] * len(tokens)
        cols += range(len(tokens))
        values += tokens
        widest = max(widest, len(tokens))
    out_values = np.empty(len(values), object)
    out_values[:] = values
    indices = _int32(op, "indices", np.stack([np.array(rows, np.int64), np.array(cols, np.int64)], 1).reshape(-1, 2))
    return [indices, out_values, _int32(op, "shape", [len(s), widest])]


# ----------------------------------------------------------------------------- StringNGrams

@host_kernel("StringNGrams")
def string_ngrams(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """The n-grams of each row of a ragged string tensor (data [T], data_splits [B + 1]) -> (ngrams, ngrams_splits).

    For each row, for each width n in ngram_widths (in that order), the row is padded with
    p = min(pad_width, n - 1) copies of left_pad / right_pad (a negative pad_width means n - 1) and
    every window of n consecutive items is joined with separator; a row too short for any window
    gives none, unless preserve_short_sequences, when a non-empty row gives one n-gram of the whole
    row with pad_width pads each side.  ngrams_splits has data_splits' dtype (int64 -> int32 here).
    """
    data, splits = _arity(op, inputs, ("data", "data_splits"))
    items = _strings(op, "data", data)
    if items.ndim != 1:
        raise ShapeError(f"{op}: data must be a vector (the flat values of a ragged tensor), got shape "
                         f"{list(items.shape)}")
    if splits.dtype.kind not in "iu":
        raise UnsupportedDTypeError(f"{op}: data_splits must be an integer tensor, got {splits.dtype}")
    if splits.ndim != 1:
        raise ShapeError(f"{op}: data_splits must be a vector, got shape {list(splits.shape)}")
    sep = _text_attr(op, attrs, "separator")
    left = _text_attr(op, attrs, "left_pad")
    right = _text_attr(op, attrs, "right_pad")
    pad_attr = _int_attr(op, attrs, "pad_width")
    preserve = _bool_attr(op, attrs, "preserve_short_sequences", False)
    widths = attrs.get("ngram_widths", [])
    if not isinstance(widths, (list, tuple)) or not all(isinstance(w, (int, np.integer)) for w in widths):
        raise AttributeValueError(f"{op}: attribute ngram_widths must be a list of ints, got {widths!r}")
    widths = [int(w) for w in widths]
    if any(w <= 0 for w in widths):
        raise AttributeValueError(f"{op}: ngram_widths must contain positive values, got {widths}")
    bounds = [int(v) for v in splits]
    size = len(items)
    if not bounds:
        # TF reads past its buffers here (it assumes one split at least); a ragged tensor always has one
        raise ShapeError(f"{op}: data_splits is empty; a ragged tensor's row splits start with 0")
    if bounds[0] != 0:
        raise ShapeError(f"{op}: first split value must be 0, got {bounds[0]}")
    for prev, b in zip(bounds, bounds[1:]):
        if not prev <= b <= size:
            raise ShapeError(f"{op}: invalid split value {b}, must be in [{prev}, {size}] (splits are "
                             "non-decreasing and within data)")
    if bounds[-1] != size:
        raise ShapeError(f"{op}: last split value must be the data size {size}, got {bounds[-1]}")

    def pad_for(n: int) -> int:
        return min(n - 1 if pad_attr < 0 else pad_attr, n - 1)

    def windows(row: list[bytes], n: int) -> list[bytes]:
        p = pad_for(n)
        padded = [left] * p + row + [right] * p
        return [sep.join(padded[i:i + n]) for i in range(len(padded) - n + 1)]

    out: list[bytes] = []
    out_splits = [0]
    for lo, hi in zip(bounds, bounds[1:]):
        row = list(items[lo:hi])
        grams = [g for n in widths for g in windows(row, n)]
        if preserve and row and not grams:
            # only reachable with pad_width >= 0 (a dynamic pad always leaves one window)
            grams = [sep.join([left] * pad_attr + row + [right] * pad_attr)]
        out += grams
        out_splits.append(out_splits[-1] + len(grams))
    ngrams = np.empty(len(out), object)
    ngrams[:] = out
    return [ngrams, _int32(op, "ngrams_splits", out_splits)]


# ----------------------------------------------------------------------------- StaticRegexReplace

class RegexError(AttributeValueError):
    """A pattern RE2 refuses, or one whose RE2 meaning Python's ``re`` cannot express."""


# RE2's Perl classes are ASCII (\d = [0-9], \s = [\t\n\f\r ], \w = [0-9A-Za-z_]); Python's are Unicode,
# and its ASCII \s also takes \v, so they are spelled out.
_PERL = {"d": "0-9", "s": "\\t\\n\\f\\r ", "w": "0-9A-Za-z_"}
_POSIX = {"alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ", "cntrl": "\\x00-\\x1f\\x7f",
          "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~",
          "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_",
          "xdigit": "0-9A-Fa-f"}
# Bytes that are not UTF-8 reach the matcher as lone surrogates (surrogateescape); RE2 in UTF-8 mode
# matches them only literally, never with ".", a negated class or \W \S \D.
_RAW = "\\udc80-\\udcff"
_WORD = "[0-9A-Za-z_]"
_BOUNDARY = f"(?:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))"
_NOT_BOUNDARY = f"(?:(?<={_WORD})(?={_WORD})|(?<!{_WORD})(?!{_WORD}))"
_MAX_REPEAT = 1000


def _class_char(c: str) -> str:
    """A literal inside a Python character class (escape what is special there, or may become a set
    operation in a later Python)."""
    return "\\" + c if c in "\\]^-[&~|" else c


@dataclass(frozen=True)
class _Flags:
    i: bool = False         # case folding: the only flag Python sees, as (?i:...) / (?-i:...) scopes
    m: bool = False         # ^ $ at line ends too
    s: bool = False         # . matches \\n
    U: bool = False         # repetition is lazy by default


@dataclass
class _Level:
    """One open group: the flags to restore at its ")", and the flag scopes (?flags) opened inside it."""
    outer: _Flags
    outer_scopes: list[_Flags]


class _Translator:
    """One pass over an RE2 pattern, writing the Python pattern with the same meaning.

    Handled: literals and escapes (\\a \\f \\n \\r \\t \\v, \\xhh, \\x{h...}, octal \\0nn and \\1nn,
    \\Q...\\E), ".", ^, $, \\A, \\z, \\b, \\B, the Perl classes \\d \\s \\w and their negations, bracket
    classes with ranges, \\d \\s \\w and [:posix:] names, groups ((...), (?:...), (?P<name>...)), the
    flags i m s U as (?flags) or (?flags:...) anywhere, greedy and lazy repetition with RE2's limits.
    Refused, with the reason: what RE2 refuses (backreferences, lookaround, \\Z, possessive and doubled
    repetition, counts over 1000, ...) and the few RE2 features ``re`` cannot express (\\pN Unicode
    classes, \\C single bytes, negated classes inside brackets, repetition of an assertion).

    RE2's (?i) lasts to the end of its group, across "|"; Python 3.11 takes global flags only at the
    very start, so a mid-pattern (?i) becomes a (?i:...) scope, closed at the group's ")" and
    around each "|".  The m, s and U flags are applied here (to ^ $ . and the repetitions) and never
    reach Python.
    """

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.out: list[str] = []
        self.levels: list[_Level] = []
        self.flags = _Flags()
        self.scopes: list[_Flags] = []      # Python flag scopes open at the current level
        self.can_repeat = False
        self.parts: list[str] = []          # the bracket class being read

    def fail(self, why: str) -> RegexError:
        return RegexError(f"StaticRegexReplace: pattern {self.p!r}: {why}")

    def run(self) -> str:
        p = self.p
        while self.i < len(p):
            c = p[self.i]
            self.i += 1
            if c == "\\":
                self.escape()
            elif c == "[":
                self.emit(self.bracket(), atom=True)
            elif c == "(":
                self.open_group()
            elif c == ")":
                self.close_group()
            elif c == "|":
                self.out.append(")" * len(self.scopes) + "|" + "".join(map(self.scope_text, self.scopes)))
                self.can_repeat = False
            elif c in "*+?{":
                self.repeat(c)
            elif c == ".":
                self.emit(f"[^{_RAW}]" if self.flags.s else f"[^\\n{_RAW}]", atom=True)
            elif c == "^":
                self.emit("(?:(?<=\\n)|\\A)" if self.flags.m else "\\A", atom=False)
            elif c == "$":
                self.emit("(?=\\n|\\Z)" if self.flags.m else "\\Z", atom=False)
            else:
                self.emit(re.escape(c), atom=True)
        if self.levels:
            raise self.fail("missing )")
        self.out.append(")" * len(self.scopes))
        return "".join(self.out)

    def emit(self, text: str, atom: bool) -> None:
        self.out.append(text)
        self.can_repeat = atom

    @staticmethod
    def scope_text(f: _Flags) -> str:
        return "(?i:" if f.i else "(?-i:"

    def open_group(self) -> None:
        rest = self.p[self.i:]
        if not rest.startswith("?"):
            self.push("(", self.flags)
            return
        if rest.startswith("?P<"):
            m = re.match(r"\?P<([A-Za-z_][A-Za-z0-9_]*)>", rest)
            if not m:
                raise self.fail("invalid named capture group")
            self.i += m.end()
            self.push(f"(?P<{m.group(1)}>", self.flags)
            return
        m = re.match(r"\?([imsU]*)(?:-([imsU]+))?([:)])", rest)
        if m is None or (not m.group(1) and not m.group(2) and m.group(3) == ")"):
            raise self.fail(f"invalid or unsupported Perl syntax '({rest[:2]}' (RE2 has no lookaround, "
                            "backreferences, atomic groups or comments)")
        on = {ch: True for ch in m.group(1)}
        off = {ch: False for ch in m.group(2) or ""}
        new = _Flags(**{**vars(self.flags), **on, **off})
        self.i += m.end()
        if m.group(3) == ":":                        # (?flags:...): a group of its own
            self.push("(?:" if new.i == self.flags.i else self.scope_text(new), self.flags)
        else:                                        # (?flags): the rest of the current group
            if new.i != self.flags.i:
                self.out.append(self.scope_text(new))
                self.scopes.append(new)
            self.can_repeat = False
        self.flags = new

    def push(self, text: str, outer: _Flags) -> None:
        self.out.append(text)
        self.levels.append(_Level(outer, self.scopes))
        self.scopes = []
        self.can_repeat = False

    def close_group(self) -> None:
        if not self.levels:
            raise self.fail("unexpected )")
        self.out.append(")" * len(self.scopes) + ")")
        level = self.levels.pop()
        self.flags, self.scopes = level.outer, level.outer_scopes
        self.can_repeat = True

    def repeat(self, c: str) -> None:
        p = self.p
        q = c
        if c == "{":
            m = re.match(r"(\d+)(,(\d*))?\}", p[self.i:])
            if m is None:                           # RE2: a "{" that starts no count is a literal
                self.emit("\\{", atom=True)
                return
            lo = int(m.group(1))
            hi = lo if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
            if lo > _MAX_REPEAT or (hi is not None and (hi > _MAX_REPEAT or hi < lo)):
                raise self.fail(f"invalid repetition size {{{m.group(0)}")
            self.i += m.end()
            q = "{" + m.group(0)
        if not self.can_repeat:
            raise self.fail(f"missing argument to repetition operator {q} (or a repeated assertion, which "
                            "is not supported here)")
        lazy = p[self.i:self.i + 1] == "?"
        if lazy:
            self.i += 1
        if p[self.i:self.i + 1] in ("*", "+", "?") or re.match(r"\{\d+(,\d*)?\}", p[self.i:]):
            raise self.fail("bad repetition operator (RE2 has no possessive or doubled repetition)")
        self.out.append(q + ("?" if lazy != self.flags.U else ""))
        self.can_repeat = False

    def escape(self) -> None:
        p = self.p
        if self.i >= len(p):
            raise self.fail("trailing \\")
        c = p[self.i]
        self.i += 1
        if c in "dswDSW":
            cls = _PERL[c.lower()]
            self.emit(f"[{cls}]" if c.islower() else f"[^{cls}{_RAW}]", atom=True)
        elif c in "bB":
            self.emit(_BOUNDARY if c == "b" else _NOT_BOUNDARY, atom=False)
        elif c == "A":
            self.emit("\\A", atom=False)
        elif c == "z":
            self.emit("\\Z", atom=False)
        elif c == "Q":
            end = p.find("\\E", self.i)
            lit = p[self.i:] if end < 0 else p[self.i:end]
            self.i = len(p) if end < 0 else end + 2
            for ch in lit:
                self.emit(re.escape(ch), atom=True)
        elif c == "E":
            pass                                    # a stray \\E is ignored, as in RE2
        else:
            self.emit(re.escape(self.char_escape(c)), atom=True)

    def char_escape(self, c: str) -> str:
        """The character an escape for one character denotes (outside and inside brackets)."""
        p = self.p
        simple = {"a": "\a", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
        if c in simple:
            return simple[c]
        if c == "x":
            m = re.match(r"\{([0-9A-Fa-f]{1,8})\}|[0-9A-Fa-f]{2}", p[self.i:])
            if m is None or int(m.group(1) or m.group(0), 16) > 0x10FFFF:
                raise self.fail("invalid escape sequence \\x")
            self.i += m.end()
            return chr(int(m.group(1) or m.group(0), 16))
        if c in "01234567":
            # RE2: \\0 and \\1..\\7 followed by an octal digit are octal (up to 3 digits); a lone
            # \\1..\\9 would be a backreference, which RE2 does not have
            if c != "0" and p[self.i:self.i + 1] not in tuple("01234567"):
                raise self.fail(f"invalid escape sequence \\{c} (RE2 has no backreferences)")
            digits = c
            while len(digits) < 3 and p[self.i:self.i + 1] in tuple("01234567"):
                digits += p[self.i]
                self.i += 1
            return chr(int(digits, 8))
        if c in "pP":
            raise self.fail(f"\\{c} Unicode classes are not supported here (Python's re has none)")
        if c == "C":
            raise self.fail("\\C (any single byte) is not supported here")
        if (c.isascii() and c.isalnum()) or c == "_":
            raise self.fail(f"invalid escape sequence \\{c}")
        return c                                    # \\. \\* \\\\ and other punctuation: the character itself

    def bracket(self) -> str:
        """A bracket class [...] (the "[" already read), as a Python class."""
        p = self.p
        negate = p[self.i:self.i + 1] == "^"
        if negate:
            self.i += 1
        self.parts = []
        first = True
        while True:
            if self.i >= len(p):
                raise self.fail("missing ]")
            if p[self.i] == "]" and not first:       # a "]" first in the class is a literal, as in RE2
                self.i += 1
                break
            first = False
            if p.startswith("[:", self.i):
                m = re.match(r"\[:(\^?)([a-z]+):\]", p[self.i:])
                if m is None or m.group(2) not in _POSIX:
                    raise self.fail("invalid character class range [:...:]")
                if m.group(1):
                    raise self.fail(f"negated POSIX class [:^{m.group(2)}:] is not supported here")
                self.parts.append(_POSIX[m.group(2)])
                self.i += m.end()
                continue
            lo = self.class_atom()
            if lo is None:
                continue
            if p[self.i:self.i + 1] == "-" and p[self.i + 1:self.i + 2] not in ("]", ""):
                self.i += 1
                hi = self.class_atom()
                if hi is None or hi < lo:
                    raise self.fail(f"invalid character class range {lo!r}-{hi!r}")
                self.parts.append(_class_char(lo) + "-" + _class_char(hi))
            else:
                self.parts.append(_class_char(lo))
        body = "".join(self.parts)
        return f"[^{body}{_RAW}]" if negate else f"[{body}]"

    def class_atom(self) -> str | None:
        """One character of a bracket class, or None after adding a Perl class (\\d \\s \\w) to it."""
        p = self.p
        c = p[self.i]
        self.i += 1
        if c != "\\":
            return c
        if self.i >= len(p):
            raise self.fail("missing ]")
        e = p[self.i]
        self.i += 1
        if e in "dsw":
            self.parts.append(_PERL[e])
            return None
        if e in "DSWpP":
            raise self.fail(f"\\{e} inside a character class is not supported here")
        return self.char_escape(e)


@lru_cache(maxsize=256)
def translate_re2(pattern: bytes) -> re.Pattern[str]:
    """Compile an RE2 pattern (UTF-8 bytes) as a Python pattern over surrogate-escaped text.

    Matching follows RE2's defaults: UTF-8 text, leftmost-first submatches (Perl's, which ``re``
    shares), case folding over Unicode, ASCII-only Perl classes and \\b, ^ and $ at the text's ends only
    (both at line ends too under (?m)), "." not matching \\n (except under (?s)).  A pattern RE2 refuses
    is refused; so is one of the few RE2 features ``re`` lacks (\\pN, \\C, negated classes inside
    brackets), with the reason.

    Known differences, each rare in real models: RE2 scans bytes, so an empty-width assertion that
    holds between two non-word bytes (\\B, or \\b never) can match *inside* a multi-byte UTF-8
    character (TF turns "ü" into "\\xc3.\\xbc" for \\B -> "."); here text is matched as characters and
    such matches do not happen.  Case folding under (?i) is Python's simple Unicode case matching;
    it agrees with RE2's on the letters the goldens try (ä/Ä, ü/Ü, k/K/Kelvin sign), and exotic
    folds have not been compared.  A repeated assertion (^*, \\b+) is refused.
    """
    try:
        text = pattern.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RegexError(f"StaticRegexReplace: pattern {pattern!r} is not valid UTF-8 ({exc.reason}); RE2 "
                         "refuses it") from None
    tr = _Translator(text)
    python = tr.run()
    try:
        return re.compile(python)
    except re.error as exc:            # a construct the translator passed but re refuses: report both forms
        raise RegexError(f"StaticRegexReplace: pattern {text!r} (as Python {python!r}): {exc}") from None


def _parse_rewrite(rewrite: bytes) -> tuple[list[str | int], bool, int]:
    """RE2's rewrite language: \\0..\\9 insert a group, \\\\ a backslash, anything else after a backslash
    is invalid.  Returns (the pieces up to the first invalid escape, whether there was none, the highest
    group named anywhere in it: RE2 counts those past an invalid escape too)."""
    text = rewrite.decode("utf-8", "surrogateescape")
    pieces: list[str | int] = []
    valid = True
    top = 0
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            if valid:
                pieces.append(c)
            i += 1
            continue
        nxt = text[i + 1:i + 2]
        if nxt in tuple("0123456789"):
            top = max(top, int(nxt))
            if valid:
                pieces.append(int(nxt))
        elif nxt == "\\" and valid:
            pieces.append("\\")
        elif nxt != "\\":
            valid = False
        i += 2
    return pieces, valid, top


def _substitute(m: re.Match[str], pieces: list[str | int]) -> str:
    return "".join(p if isinstance(p, str) else (m.group(p) or "") for p in pieces)


def regex_replace(regex: re.Pattern[str], rewrite: bytes, replace_global: bool, s: bytes) -> bytes:
    """One string through RE2::GlobalReplace / RE2::Replace.

    A rewrite naming a group the pattern lacks changes nothing.  An invalid escape in the rewrite
    makes Replace change nothing, while GlobalReplace inserts the rewrite up to the bad escape (what
    RE2 does; TF does not check).  GlobalReplace's empty matches: one right after the previous match
    is skipped (``re.sub`` would take it), and the scan then steps over one UTF-8 character (or one
    invalid byte).
    """
    pieces, valid, top = _parse_rewrite(rewrite)
    if top > regex.groups:
        return s
    text = s.decode("utf-8", "surrogateescape")
    if not replace_global:
        m = regex.search(text)
        if m is None or not valid:
            return s
        return (text[:m.start()] + _substitute(m, pieces) + text[m.end():]).encode("utf-8", "surrogateescape")
    out: list[str] = []
    pos = 0
    last_end = -1
    count = 0
    while pos <= len(text):
        m = regex.search(text, pos)
        if m is None:
            break
        out.append(text[pos:m.start()])
        if m.start() == m.end() == last_end:
            if pos < len(text):
                out.append(text[pos])
            pos += 1
            continue
        out.append(_substitute(m, pieces))
        pos = last_end = m.end()
        count += 1
    if count == 0:
        return s
    out.append(text[pos:])
    return "".join(out).encode("utf-8", "surrogateescape")


@host_kernel("StaticRegexReplace")
def static_regex_replace(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """Replace the first (replace_global=False) or every match of an RE2 pattern in each string; see
    ``translate_re2`` for the pattern and ``regex_replace`` for the rewrite.  Same shape as the input."""
    (x,) = _arity(op, inputs, ("input",))
    s = _strings(op, "input", x)
    regex = translate_re2(_text_attr(op, attrs, "pattern"))
    rewrite = _text_attr(op, attrs, "rewrite")
    replace_global = _bool_attr(op, attrs, "replace_global", True)
    out = np.empty(s.shape, object)
    flat = out.reshape(-1)
    for i, v in enumerate(s.reshape(-1)):
        flat[i] = regex_replace(regex, rewrite, replace_global, v)
    return [out]
