"""The data path: keys, reading, transforming and writing rows (moving here from agents/)."""
