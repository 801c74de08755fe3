"""The .inr format: container framing, declarative header syntax and normative tables. Knows bytes only."""
