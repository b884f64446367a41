"""Tests of the answer backends (Ollama over a wire double, llama.cpp with a real GGUF) and prompt safety."""
