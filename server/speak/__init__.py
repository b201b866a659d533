"""Speak stage: answer text in, PCM frames out."""
