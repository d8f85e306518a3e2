"""Data: discovering pairs, reading imagery and masks, point labels, samples."""
