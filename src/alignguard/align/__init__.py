"""Safety alignment of a real instruct model (SmolLM2): refusal SFT data, training, merge."""
