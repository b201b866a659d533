"""Listen stage: PCM frames in, speech events and transcripts out."""
