"""Deterministic mixed-script corpus for the tokenizer comparison and benchmark.

make_corpus(n, seed) returns n byte strings mixing English prose, code, CJK,
Arabic, Cyrillic, Hindi, emoji (incl. ZWJ sequences and skin tones),
combining marks, digits runs, whitespace runs, control characters and
(when invalid=True) invalid UTF-8 byte sequences.
"""
import random

ENGLISH = ("The quick brown fox jumps over the lazy dog. It's 3:45pm and we've got 1,234 items; "
           "they'll ship by 2024-06-01. Don't panic! Hello, World. I'm here, you're there.").split(" ")
CODE = ["def f(x):\n    return x**2 + 1\n", "for (int i = 0; i < n; i++) { sum += a[i]; }",
        "if (a && b || !c) {\n\treturn -1;\n}", "const re = /^[a-z]+$/i; // comment",
        "<div class=\"x\">&amp;</div>", "SELECT * FROM t WHERE id=42;", "x = {'k': [1, 2.5, None]}",
        "    indented    code\t\twith\ttabs", "std::vector<int> v{1,2,3};", "#include <stdio.h>"]
CJK = ["你好世界", "東京は日本の首都です", "한국어 텍스트", "中文，标点。", "漢字かなカナ", "我爱自然语言处理"]
ARABIC = ["مرحبا بالعالم", "اللغة العربية جميلة", "٣٤٥ كتاب", "שלום עולם"]
OTHER = ["нещо на Български", "Привет, мир!", "नमस्ते दुनिया", "Ελληνικά γράμματα", "ภาษาไทย",
         "ស្វាគមន៍", "Cửa Việt", "Äpfel Öl Übermaß ß", "İstanbul ıi", "ﬁ ligature Ⅻ ½ ²"]
EMOJI = ["🦙", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "😀😃😄", "🇺🇸🇯🇵", "❤️", "🤖 robot"]
COMBINING = ["e\u0301", "a\u0308\u0304", "n\u0303o", "Z\u0351\u0352\u0353", "\u0915\u094d\u0937"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\u00a0", "\u3000", "\u2003", "\u200b", "\u0085"]
CONTROL = ["\x00", "\x01", "\x07", "\x1b[0m", "\x7f", "\u202e", "\ufeff"]
DIGITS = ["0", "42", "123456789", "3.14159", "1e-9", "٣٣٣", "１２３"]
INVALID = [b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf0\x9f\x98", b"\x80\x80", b"\xc0\xaf", b"\xf5"]


def make_text(rng, invalid=True):
    parts = []
    for _ in range(rng.randint(1, 24)):
        pick = rng.random()
        if pick < 0.35:
            s = " ".join(rng.choice(ENGLISH) for _ in range(rng.randint(1, 8)))
        elif pick < 0.45:
            s = rng.choice(CODE)
        elif pick < 0.53:
            s = rng.choice(CJK)
        elif pick < 0.58:
            s = rng.choice(ARABIC)
        elif pick < 0.66:
            s = rng.choice(OTHER)
        elif pick < 0.72:
            s = rng.choice(EMOJI)
        elif pick < 0.77:
            s = rng.choice(COMBINING)
        elif pick < 0.86:
            s = rng.choice(SPACES)
        elif pick < 0.90:
            s = rng.choice(CONTROL)
        else:
            s = rng.choice(DIGITS)
        parts.append(s.encode("utf-8"))
        if invalid and rng.random() < 0.04:
            parts.append(rng.choice(INVALID))
        if rng.random() < 0.5:
            parts.append(b" ")
    return b"".join(parts)


def make_corpus(n, seed=1234, invalid=True):
    rng = random.Random(seed)
    return [make_text(rng, invalid) for _ in range(n)]
