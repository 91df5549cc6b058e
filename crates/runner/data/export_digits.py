"""Regenerate digits.txt from scikit-learn's bundled copy of the UCI optdigits test set.

Run: python3 export_digits.py > digits.txt   (needs scikit-learn; any version ships the same file)

Format, one sample per line: the class digit, one space, then the 64 pixels of the 8x8 image in
row-major order, each an integer 0..=16 written as one base-17 character from "0123456789abcdefg".
Lines starting with '#' are comments. One character per pixel keeps the file at ~120 KB while
staying plain text that diffs and greps.
"""

from sklearn.datasets import load_digits

ALPHABET = "0123456789abcdefg"

d = load_digits()
print("# UCI Optical Recognition of Handwritten Digits (optdigits test set), CC BY 4.0; see NOTICE.")
print("# label <space> 64 pixels row-major, each 0..=16 as one char of 0123456789abcdefg")
for pixels, label in zip(d.data.astype(int), d.target):
    print(f"{label} " + "".join(ALPHABET[v] for v in pixels))
