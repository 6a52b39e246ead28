"""Sans-I/O provider protocols: intents and received frames in, frames and events out."""
