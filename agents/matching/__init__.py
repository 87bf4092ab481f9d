"""Pure matching functions: evidence in, score matrices and assignments out; no I/O."""
