"""Mutables for hand-written models: LayerChoice, InputChoice, MutableScope, value choices."""
