"""Programs and modules the tests share: the scripted LLM server, memory fixtures, worker and kill scripts."""
