"""The hand-written runtime every generated client stands on (shipped by the generator)."""
